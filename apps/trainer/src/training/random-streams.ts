/**
 * Training's random numbers, all from Philox4x32-10 under the run's seed (the generator the
 * samplers use, docs/design.md#one-seed-one-image), addressed by what they are for and the step they belong to. Nothing
 * is carried from one step to the next, so a resumed run draws exactly what an unbroken run would.
 *
 * Counter layout (block, stream, purpose, 0): normals use purpose 0 (fillNormals), uniforms the
 * purposes below, so no two uses ever share a counter.
 */
import { fillNormals, philox4x32, seedKey, wordToUniform } from '@diffq/diffusion';

/** Which uniform stream family a draw comes from (the counter's third word). */
export const UNIFORM_PURPOSE = {
  /** Per step: timesteps, then class-dropout coins. */
  step: 1,
  /** Per epoch: the data permutation. */
  epoch: 2,
  /** Parameter initialisation. */
  init: 3,
} as const;

/** `count` uniforms in (0, 1) of (seed, stream, purpose), four per Philox block, in block order. */
export function uniforms(seed: number, stream: number, purpose: number, count: number): Float64Array {
  const [k0, k1] = seedKey(seed);
  const out = new Float64Array(count);
  const words = new Uint32Array(4);
  for (let e = 0; e < count; e += 4) {
    philox4x32(e >>> 2, stream, purpose, 0, k0, k1, words);
    for (let i = 0; i < 4 && e + i < count; i++) out[e + i] = wordToUniform(words[i]);
  }
  return out;
}

/** The step's two noise draws ε (stream 2·step) and ξ (stream 2·step + 1), each [count] float32. */
export function stepNormals(seed: number, step: number, count: number): { noise: Float32Array; perturbNoise: Float32Array } {
  return {
    noise: fillNormals(seed, 2 * step, new Float32Array(count)),
    perturbNoise: fillNormals(seed, 2 * step + 1, new Float32Array(count)),
  };
}

/** A uniformly random permutation of 0 … n−1 for `epoch` (Fisher–Yates driven by the epoch's uniforms). */
export function epochPermutation(seed: number, epoch: number, n: number): Int32Array {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const u = uniforms(seed, epoch, UNIFORM_PURPOSE.epoch, n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    const tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  return perm;
}
