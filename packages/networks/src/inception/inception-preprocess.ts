/**
 * The FID Inception network's input: uint8 images resized to 299×299 and scaled to [−1, 1], in one
 * of the two conventions reference statistics were computed with (docs/feature-networks.md):
 *
 * - `pytorch-fid`: x/255, `F.interpolate(bilinear, align_corners=False)`, then 2x − 1. Per axis
 *   src = (dst + ½)·in/299 − ½ (negative src clamped to 0).
 * - `tf1`: TF 1.x legacy `ResizeBilinear` (no half-pixel centres) on the raw values, then
 *   (x − 128)/128. Per axis src = dst·float32(in/299), anchored at the top-left pixel.
 *
 * Both are a separable bilinear resize followed by an affine map, so one code path serves both:
 * per axis, dst takes (1 − λ)·a[i0] + λ·a[i1]. Computed in float64 and rounded once to float32.
 */

export const INCEPTION_PREPROCESS_MODES = ['pytorch-fid', 'tf1'] as const;
export type InceptionPreprocess = (typeof INCEPTION_PREPROCESS_MODES)[number];

/** The side of the square image the Inception network sees. */
export const INCEPTION_INPUT_SIZE = 299;

/** Where each output index of one axis reads: a[i0]·(1 − λ) + a[i1]·λ. */
export interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  lambda: Float64Array;
}

/** The bilinear taps of an axis of `inSize` pixels resized to `outSize`, as `mode` computes them. */
export function axisTaps(inSize: number, outSize: number, mode: InceptionPreprocess): AxisTaps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const lambda = new Float64Array(outSize);
  // TF1 rounds the scale and every source coordinate to float32; reproducing that costs nothing.
  const tfScale = Math.fround(inSize / outSize);
  for (let dst = 0; dst < outSize; dst++) {
    const src = mode === 'tf1' ? Math.fround(dst * tfScale) : Math.max(0, ((dst + 0.5) * inSize) / outSize - 0.5);
    const lo = Math.floor(src);
    i0[dst] = lo;
    i1[dst] = Math.min(lo + 1, inSize - 1);
    lambda[dst] = src - lo;
  }
  return { i0, i1, lambda };
}

/** The affine map after the resize of raw 0..255 values: x·scale + shift. */
const SCALING: Record<InceptionPreprocess, { scale: number; shift: number }> = {
  'pytorch-fid': { scale: 2 / 255, shift: -1 },
  tf1: { scale: 1 / 128, shift: -1 },
};

export function checkPreprocess(mode: string, where = 'preprocess'): InceptionPreprocess {
  if (!(INCEPTION_PREPROCESS_MODES as readonly string[]).includes(mode)) {
    throw new Error(`${where} is "${mode}"; accepted: ${INCEPTION_PREPROCESS_MODES.map((m) => `"${m}"`).join(', ')}`);
  }
  return mode as InceptionPreprocess;
}

/**
 * images: uint8 [N, H, W, C] (NHWC), C = 1 (replicated to RGB, as PIL's convert("RGB") does) or 3.
 * Returns float32 [N, 3, 299, 299] (NCHW), the network's input.
 */
export function preprocessInception(
  images: Uint8Array,
  shape: readonly [number, number, number, number],
  mode: InceptionPreprocess,
  size = INCEPTION_INPUT_SIZE,
): Float32Array {
  const [n, h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new Error(`Inception input has ${c} channels (shape [${shape}]); accepted: 1 (grey) or 3 (RGB)`);
  if (![n, h, w].every((d) => Number.isInteger(d) && d > 0)) throw new Error(`Inception input shape [${shape}] must be positive integers`);
  if (images.length !== n * h * w * c)
    throw new Error(`Inception input has ${images.length} values; shape [${shape}] needs ${n * h * w * c}`);
  const ys = axisTaps(h, size, mode);
  const xs = axisTaps(w, size, mode);
  const { scale, shift } = SCALING[mode];
  const out = new Float32Array(n * 3 * size * size);
  // One input row resized along x, for every input row of one channel: [h, size].
  const rows = new Float64Array(h * size);
  const plane = size * size;
  for (let img = 0; img < n; img++) {
    for (let ch = 0; ch < 3; ch++) {
      const src = c === 1 ? 0 : ch;
      for (let y = 0; y < h; y++) {
        const base = (img * h + y) * w;
        for (let x = 0; x < size; x++) {
          const l = xs.lambda[x];
          const a = images[(base + xs.i0[x]) * c + src];
          const b = images[(base + xs.i1[x]) * c + src];
          rows[y * size + x] = a + (b - a) * l;
        }
      }
      const o = (img * 3 + ch) * plane;
      for (let y = 0; y < size; y++) {
        const l = ys.lambda[y];
        const top = ys.i0[y] * size;
        const bottom = ys.i1[y] * size;
        for (let x = 0; x < size; x++) {
          const a = rows[top + x];
          out[o + y * size + x] = (a + (rows[bottom + x] - a) * l) * scale + shift;
        }
      }
    }
  }
  return out;
}
