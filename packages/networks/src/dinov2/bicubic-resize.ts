/**
 * The two bicubic resamplings of torch.nn.functional.interpolate that FD_DINOv2 depends on, as
 * weight matrices in float64: out = R·in along one axis, R [outSize, inSize]. A 2-D resize is R_h·X·R_wᵀ.
 * `step` is the source distance between output samples: inSize / outSize when torch is given a size,
 * 1 / scale_factor when it is given a scale factor (dinov2's `interpolate_offset`).
 *
 * Keys' cubic convolution kernel (Keys 1981) with parameter a:
 *   k(x) = (a+2)|x|³ − (a+3)|x|² + 1      for |x| < 1
 *          a|x|³ − 5a|x|² + 8a|x| − 4a    for 1 ≤ |x| < 2,   0 otherwise.
 */

/** Keys' cubic at x. */
export function keysCubic(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/** The a of torch's antialiased bicubic (PIL's): −0.5. */
export const ANTIALIAS_CUBIC_A = -0.5;
/** The a of torch's plain bicubic (`antialias=False`): −0.75. */
export const TORCH_CUBIC_A = -0.75;

function checkSizes(inSize: number, outSize: number, step: number): void {
  if (!Number.isInteger(inSize) || inSize < 1 || !Number.isInteger(outSize) || outSize < 1 || !(step > 0)) {
    throw new RangeError(`bicubic resize ${inSize} → ${outSize} (step ${step}): sizes must be integers ≥ 1 and the step > 0`);
  }
}

/**
 * `interpolate(mode='bicubic', antialias=True, align_corners=False)`, which is PIL's bicubic filter:
 * for output i the centre is c = step·(i + 0.5); when downsampling (step > 1) the kernel widens by
 * step, support = 2·max(step, 1); taps j in [⌊c − support + 0.5⌋, ⌊c + support + 0.5⌋) ∩ [0, inSize)
 * get k((j − c + 0.5)/max(step, 1)) with a = −0.5, normalised to sum 1. Taps outside the image are
 * dropped (no edge replication), so border rows renormalise over fewer taps.
 */
export function antialiasedBicubicMatrix(inSize: number, outSize: number, step = inSize / outSize): Float64Array {
  checkSizes(inSize, outSize, step);
  const r = new Float64Array(outSize * inSize);
  const widen = Math.max(step, 1);
  const support = 2 * widen;
  for (let i = 0; i < outSize; i++) {
    const c = step * (i + 0.5);
    const from = Math.max(Math.trunc(c - support + 0.5), 0);
    const to = Math.min(Math.trunc(c + support + 0.5), inSize);
    let total = 0;
    for (let j = from; j < to; j++) {
      const w = keysCubic((j - c + 0.5) / widen, ANTIALIAS_CUBIC_A);
      r[i * inSize + j] = w;
      total += w;
    }
    for (let j = from; j < to; j++) r[i * inSize + j] /= total;
  }
  return r;
}

/**
 * `interpolate(mode='bicubic', antialias=False, align_corners=False)`: the source coordinate of output
 * i is s = step·(i + 0.5) − 0.5, i₀ = ⌊s⌋, t = s − i₀; taps i₀−1 … i₀+2 with weights k(t+1), k(t),
 * k(1−t), k(2−t) (a = −0.75), tap indices clamped to [0, inSize − 1] (so the border pixel collects the
 * weight of the taps beyond it). No widening when downsampling.
 */
export function bicubicMatrix(inSize: number, outSize: number, step = inSize / outSize): Float64Array {
  checkSizes(inSize, outSize, step);
  const r = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const s = step * (i + 0.5) - 0.5;
    const i0 = Math.floor(s);
    const t = s - i0;
    const weights = [
      keysCubic(t + 1, TORCH_CUBIC_A),
      keysCubic(t, TORCH_CUBIC_A),
      keysCubic(1 - t, TORCH_CUBIC_A),
      keysCubic(2 - t, TORCH_CUBIC_A),
    ];
    for (let k = 0; k < 4; k++) {
      const j = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      r[i * inSize + j] += weights[k];
    }
  }
  return r;
}
