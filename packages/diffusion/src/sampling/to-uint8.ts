/** From model space [−1, 1] to 8-bit images, as guided-diffusion's image_sample.py saves them. */
import type { Shape4 } from '../rng/noise-source.ts';

/**
 * uint8(clamp((x + 1)·127.5, 0, 255)) in float32, truncated (PyTorch's float→uint8 cast), and
 * transposed from [N, C, H, W] to [N, H, W, C].
 */
export function toUint8Nhwc(samples: Float32Array, shape: Shape4): Uint8Array {
  const [n, c, h, w] = shape;
  if (samples.length !== n * c * h * w) throw new Error(`samples has ${samples.length} values; shape [${shape}] needs ${n * c * h * w}`);
  const out = new Uint8Array(samples.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = Math.fround(Math.fround(samples[((b * c + ch) * h + y) * w + x] + 1) * 127.5);
          // NaN clamps to 0, as the integer cast of a NaN pixel would be meaningless anyway.
          out[((b * h + y) * w + x) * c + ch] = v > 0 ? Math.trunc(Math.min(v, 255)) : 0;
        }
      }
    }
  }
  return out;
}
