/**
 * The CPU cost of the two float64/per-seed pieces that run outside the networks:
 * - per-seed Philox noise against tfjs's own (non-reproducible) randomNormal, side by side, for the
 *   draws one DDPM-1000 sample of 3×32×32 needs (1001 streams);
 * - the finalizer's statistics at Inception's width (d = 2048): moments accumulated per shard and the
 *   Fréchet distance between two Gaussians.
 */
import { accumulateMoments, emptyMoments, featureStats, fillNormals, frechetDistance, initBackend, seedNormals } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';

const STREAMS = 1001;
const SAMPLE = 3 * 32 * 32;
const DIM = 2048;

function seconds(run: () => void): number {
  const started = performance.now();
  run();
  return (performance.now() - started) / 1000;
}

export async function benchStats(): Promise<void> {
  await initBackend();
  const out = new Float32Array(SAMPLE);
  const philoxS = seconds(() => {
    for (let s = 0; s < STREAMS; s++) fillNormals(12345, s, out);
  });
  const tfjsS = seconds(() => {
    for (let s = 0; s < STREAMS; s++) tf.randomNormal([SAMPLE]).dispose();
  });
  const count = STREAMS * SAMPLE;
  console.log(
    `stats: normals for one DDPM-1000 3×32×32 sample: Philox ${philoxS.toFixed(3)} s (${(count / philoxS / 1e6).toFixed(1)} M/s), tfjs randomNormal ${tfjsS.toFixed(3)} s (${(count / tfjsS / 1e6).toFixed(1)} M/s), Philox/tfjs time ${(philoxS / tfjsS).toFixed(2)}×`,
  );

  const shard = seedNormals(1, 0, 256 * DIM);
  const momentsS = seconds(() => accumulateMoments(emptyMoments(DIM), shard));
  console.log(`stats: moments of one 256-sample shard at d=${DIM}: ${momentsS.toFixed(2)} s`);

  const rows = 2500;
  const a = featureStats(seedNormals(2, 0, rows * DIM), DIM);
  const b = featureStats(seedNormals(3, 0, rows * DIM), DIM);
  let distance = 0;
  const frechetS = seconds(() => {
    distance = frechetDistance(a, b);
  });
  console.log(
    `stats: Fréchet distance at d=${DIM} (covariances of ${rows} samples each): ${frechetS.toFixed(1)} s, value ${distance.toFixed(3)}`,
  );
}
