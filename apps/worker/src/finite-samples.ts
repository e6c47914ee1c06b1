/**
 * A model that produces NaN or ±Inf (a corrupt or overflowing weight, a float16 overflow) would
 * otherwise quantize to black images and finish as a run that looks done. Every micro-batch's
 * float samples are checked before they become pixels; a non-finite one fails the shard at once
 * with the seeds it hit, since sampling the same seeds again gives the same numbers.
 */

export class NonFiniteSamples extends Error {
  override readonly name = 'NonFiniteSamples';
}

/**
 * Throws NonFiniteSamples unless every value of `samples` ([N, …] in seed order, N = seeds.length)
 * is finite, naming the seeds whose samples are not and how many values are NaN and infinite.
 */
export function assertFiniteSamples(samples: Float32Array, seeds: readonly number[]): void {
  const perSample = samples.length / seeds.length;
  let nan = 0;
  let inf = 0;
  const hit: number[] = [];
  for (let n = 0; n < seeds.length; n++) {
    let bad = false;
    for (let i = n * perSample; i < (n + 1) * perSample; i++) {
      const v = samples[i];
      if (v - v !== 0) {
        bad = true;
        if (Number.isNaN(v)) nan++;
        else inf++;
      }
    }
    if (bad) hit.push(seeds[n]);
  }
  if (hit.length === 0) return;
  const shown = hit.slice(0, 8).join(', ') + (hit.length > 8 ? ', …' : '');
  throw new NonFiniteSamples(
    `the model produced non-finite samples (${nan} NaN and ${inf} infinite values) for ${hit.length} of ${seeds.length} seeds of a micro-batch (seeds ${shown}); check the model's weights for NaN or Inf, or its precision (float16 overflows past 65504); resampling gives the same numbers, so the shard is not retried`,
  );
}
