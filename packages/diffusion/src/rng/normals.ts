/**
 * Standard normal numbers of one (seed, stream), docs/design.md#one-seed-one-image. Block b of the stream is Philox at
 * counter (b, stream, 0, 0) under the seed's key; its words (a, b, c, d) give four normals by
 * Box–Muller, in float64 and then rounded to float32:
 *   r₁ = √(−2 ln u(a)),  r₂ = √(−2 ln u(c))
 *   r₁·cos 2πu(b), r₁·sin 2πu(b), r₂·cos 2πu(d), r₂·sin 2πu(d)
 * Normal e comes from block ⌊e/4⌋, so element e of a sample's [C, H, W] tensor (C order) is normal e
 * whatever the batch, the backend or its layout.
 */
import { philox4x32, seedKey, TWO_32, wordToUniform } from './philox.ts';

/** The stream of the `random` label policy (labels.ts); noise streams stay below it. */
export const LABEL_STREAM = TWO_32 - 1;

export class StreamError extends RangeError {
  override name = 'StreamError';
}

function checkStream(stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream >= LABEL_STREAM) {
    throw new StreamError(`noise stream is ${stream}; accepted: an integer in [0, ${LABEL_STREAM - 1}] (${LABEL_STREAM} holds labels)`);
  }
}

const TWO_PI = 2 * Math.PI;

/** Box–Muller on one block's words: writes its first n (≤ 4) normals to out[o …]. */
function writeBlock(words: Uint32Array, out: Float32Array | Float64Array, o: number, n: number): void {
  const r1 = Math.sqrt(-2 * Math.log(wordToUniform(words[0])));
  const r2 = Math.sqrt(-2 * Math.log(wordToUniform(words[2])));
  const theta1 = TWO_PI * wordToUniform(words[1]);
  const theta2 = TWO_PI * wordToUniform(words[3]);
  if (n === 4) {
    out[o] = r1 * Math.cos(theta1);
    out[o + 1] = r1 * Math.sin(theta1);
    out[o + 2] = r2 * Math.cos(theta2);
    out[o + 3] = r2 * Math.sin(theta2);
    return;
  }
  const all = [r1 * Math.cos(theta1), r1 * Math.sin(theta1), r2 * Math.cos(theta2), r2 * Math.sin(theta2)];
  for (let i = 0; i < n; i++) out[o + i] = all[i];
}

/**
 * Writes normals 0 … count−1 of (seed, stream) to out[offset … offset+count−1] (a Float64Array
 * keeps them unrounded). Stream 0 is x_T, stream k ≥ 1 the draw of the k-th reverse step in loop order.
 */
export function fillNormals<T extends Float32Array | Float64Array>(
  seed: number,
  stream: number,
  out: T,
  offset = 0,
  count = out.length - offset,
): T {
  checkStream(stream);
  if (!Number.isInteger(count) || count < 0 || offset < 0 || offset + count > out.length) {
    throw new RangeError(`normals [${offset}, ${offset + count}) do not fit an array of ${out.length}`);
  }
  const [k0, k1] = seedKey(seed);
  const words = new Uint32Array(4);
  for (let e = 0; e < count; e += 4) {
    philox4x32(e >>> 2, stream, 0, 0, k0, k1, words);
    writeBlock(words, out, offset + e, Math.min(4, count - e));
  }
  return out;
}

/** The four normals of one block in float64, before the rounding to float32 that fillNormals does. */
export function blockNormals(seed: number, stream: number, block: number): Float64Array {
  checkStream(stream);
  const [k0, k1] = seedKey(seed);
  const out = new Float64Array(4);
  writeBlock(philox4x32(block, stream, 0, 0, k0, k1), out, 0, 4);
  return out;
}

/** Normals 0 … count−1 of (seed, stream) as float32. */
export function seedNormals(seed: number, stream: number, count: number): Float32Array {
  return fillNormals(seed, stream, new Float32Array(count));
}
