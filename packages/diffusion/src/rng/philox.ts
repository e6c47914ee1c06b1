/**
 * Philox4x32-10, the counter-based generator of Random123 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011). A counter-based generator is what makes "one seed, one image"
 * cheap: any (seed, stream, block) is reached directly, without generating what comes before it,
 * so a sample's noise never depends on the batch it is drawn in (docs/design.md#one-seed-one-image).
 *
 * One round on counter (c0, c1, c2, c3) under key (k0, k1):
 *   (hi0, lo0) = M0·c0,  (hi1, lo1) = M1·c2       (32×32 → 64-bit products)
 *   c ← (hi1 ⊕ c1 ⊕ k0, lo1, hi0 ⊕ c3 ⊕ k1, lo0)
 * and the key is bumped by the Weyl constants (W0, W1) between rounds; ten rounds make one block.
 *
 * Plain 32-bit integer arithmetic: the low word of a product is Math.imul, the high word comes from
 * two exact float64 products of 32 × 16 bits, so nothing here allocates or uses BigInt.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_16 = 0x10000;
export const TWO_32 = 0x100000000;

/** High 32 bits of the 64-bit product a·b of two uint32: a·b = (a·bHi)·2^16 + a·bLo, both terms exact in float64. */
function mulHi(a: number, b: number): number {
  const low = a * (b & 0xffff);
  const high = a * (b >>> 16);
  return Math.floor((high + Math.floor(low / TWO_16)) / TWO_16) >>> 0;
}

/**
 * Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1), all uint32; writes the four output
 * words to out[offset … offset+3] (out defaults to a fresh Uint32Array).
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array = new Uint32Array(4),
  offset = 0,
): Uint32Array {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[offset] = c0;
  out[offset + 1] = c1;
  out[offset + 2] = c2;
  out[offset + 3] = c3;
  return out;
}

export class SeedError extends RangeError {
  override name = 'SeedError';
}

/** Throws unless `seed` is an integer in [0, 2^53 − 1], the seeds a run can name exactly. */
export function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new SeedError(`seed is ${seed}; accepted: an integer in [0, ${Number.MAX_SAFE_INTEGER}]`);
  }
}

/** A seed's Philox key: (seed mod 2^32, ⌊seed / 2^32⌋). */
export function seedKey(seed: number): [k0: number, k1: number] {
  checkSeed(seed);
  return [seed % TWO_32, Math.floor(seed / TWO_32)];
}

/** u(w) = (w + 0.5) / 2^32: a uint32 word as a uniform number in (0, 1), never 0 nor 1. */
export function wordToUniform(word: number): number {
  return (word + 0.5) / TWO_32;
}
