/**
 * UniPC multistep with the B(h) variants (Zhao et al. 2023), the data-prediction solver of the
 * official `uni_pc.py`: each step is a predictor (UniP) and, except the last, a corrector (UniC) that
 * reuses the evaluation at the predicted point as the next step's history, so the corrector costs no
 * extra network evaluation. Deterministic: the only draw is x_T.
 */
import * as tf from '@tensorflow/tfjs';
import { noiseScheduleVP } from '../solvers/noise-schedule-vp.ts';
import { solverGridPoints } from '../solvers/time-grid.ts';
import { predictData } from './data-prediction.ts';
import { runSampling } from './loop.ts';
import { checkSolverOptions, type SolverOptions } from './solver-options.ts';

export const UNIPC_VARIANTS = ['bh1', 'bh2'] as const;
export type UniPCVariant = (typeof UNIPC_VARIANTS)[number];

/** k below `order` while the history fills up, then min(order, N + 1 − k) at any N (uni_pc.py's lower_order_final). */
export function uniPcOrders(order: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => (i + 1 < order ? i + 1 : Math.min(order, steps - i)));
}

/** Solves A·x = b (A small and square) by Gaussian elimination with partial pivoting, in float64. */
export function solveLinear(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row.slice(0, n), b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let sum = m[r][n];
    for (let c = r + 1; c < n; c++) sum -= m[r][c] * x[c];
    x[r] = sum / m[r][r];
  }
  return x;
}

export interface UniPCCoefficients {
  /** B(h): −h (bh1) or e^{−h} − 1 (bh2). */
  B: number;
  /** hφ₁ = e^{−h} − 1. */
  hPhi1: number;
  /** Predictor weights ρ of D_1 … D_{p−1}. */
  rhosP: number[];
  /** Corrector weights ρᶜ of D_1 … D_{p−1} and of m_t − m_s. */
  rhosC: number[];
}

/**
 * With h = λ_t − λ_s, r_i = (λ_{k−1−i} − λ_s)/h for i < p and r_p = 1: R's row i = [r_1^{i−1} … r_p^{i−1}],
 * b_i = i!·φ_{i+1}(hh)/B with hh = −h (g = hφ₁/hh − 1, then g ← g/hh − 1/(i+1)! at each row). The
 * predictor solves the leading (p−1)×(p−1) system (ρ = ½ at p = 2), the corrector the whole one
 * (ρᶜ = ½ at p = 1).
 */
export function uniPcCoefficients(variant: UniPCVariant, h: number, rks: number[]): UniPCCoefficients {
  const p = rks.length + 1;
  const r = [...rks, 1];
  const hh = -h;
  const hPhi1 = Math.expm1(hh);
  const B = variant === 'bh1' ? hh : Math.expm1(hh);
  const R: number[][] = [];
  const b: number[] = [];
  let g = hPhi1 / hh - 1;
  let factorial = 1;
  for (let i = 1; i <= p; i++) {
    R.push(r.map((ri) => ri ** (i - 1)));
    b.push((g * factorial) / B);
    factorial *= i + 1;
    g = g / hh - 1 / factorial;
  }
  const rhosP =
    p === 1
      ? []
      : p === 2
        ? [0.5]
        : solveLinear(
            R.slice(0, p - 1).map((row) => row.slice(0, p - 1)),
            b.slice(0, p - 1),
          );
  const rhosC = p === 1 ? [0.5] : solveLinear(R, b);
  return { B, hPhi1, rhosP, rhosC };
}

/**
 * x_0 = x_T, m_0 = x̂_0(x_0, τ_0); step k of order p from s = τ_{k−1} to t = τ_k, with D_i = (m_{k−1−i} − m_s)/r_i:
 * x' = (σ_t/σ_s)·x − α_t·hφ₁·m_s; predictor x̃ = x' − α_t·B·Σ_{i<p} ρ_i·D_i; then, unless k = N,
 * m_t = x̂_0(x̃, t) and the corrector x_t = x' − α_t·B·(Σ_{i<p} ρᶜ_i·D_i + ρᶜ_p·(m_t − m_s)), m_t joining the
 * history. With denoiseToZero the result is x̂_0(x_N, t_0). Resolves to the sample [N, C, H, W] (the caller owns it).
 */
export async function sampleUniPC(o: SolverOptions & { variant: UniPCVariant }): Promise<tf.Tensor4D> {
  checkSolverOptions('UniPC', o);
  if (!(UNIPC_VARIANTS as readonly string[]).includes(o.variant)) {
    throw new Error(`UniPC variant is "${o.variant}"; accepted: ${UNIPC_VARIANTS.join(', ')}`);
  }
  // uni_pc.py keeps every keypoint: no clipping of the noisy end, unlike DPM-Solver.
  const schedule = noiseScheduleVP(o.process.baseBetas);
  const { grid, at } = solverGridPoints(schedule, o.skipType, o.steps);
  const orders = uniPcOrders(o.order, o.steps);
  const N = o.steps;
  const totalSteps = N + (o.denoiseToZero ? 1 : 0);
  return runSampling(o, async ({ denoiser, live, xT }) => {
    const predict = (x: tf.Tensor4D, t: number) => predictData(denoiser, o.process, schedule, x, t, o);
    let x = xT;
    let newest = await predict(x, grid[0]);
    // history[j] = (grid index, x̂_0), newest first.
    const history = [{ k: 0, m: live.hold(newest.x0) }];
    for (let k = 1; k <= N; k++) {
      const p = orders[k - 1];
      const s = at[k - 1];
      const t = at[k];
      const h = t.lambda - s.lambda;
      const older = history.slice(1, p);
      const rks = older.map((e) => (at[e.k].lambda - s.lambda) / h);
      const c = uniPcCoefficients(o.variant, h, rks);
      const mS = history[0].m;
      // D_i and x' are needed again by the corrector, after the evaluation at x̃.
      const [xPrime, ...ds] = tf.tidy(() => [
        tf.sub(tf.mul(t.sigma / s.sigma, x), tf.mul(t.alpha * c.hPhi1, mS)) as tf.Tensor4D,
        ...older.map((e, i) => tf.div(tf.sub(e.m, mS), rks[i]) as tf.Tensor4D),
      ]);
      live.hold(xPrime);
      for (const d of ds) live.hold(d);
      // Σ_i ρ_i·D_i, undefined when there is no D (order 1).
      const weighted = (rhos: number[]) =>
        ds.reduce<tf.Tensor | undefined>((sum, d, i) => (sum ? tf.add(sum, tf.mul(rhos[i], d)) : tf.mul(rhos[i], d)), undefined);
      const xPred = tf.tidy(() => {
        const sum = weighted(c.rhosP);
        return sum ? (tf.sub(xPrime, tf.mul(t.alpha * c.B, sum)) as tf.Tensor4D) : xPrime.clone();
      });
      let xNext: tf.Tensor4D;
      if (k < N) {
        live.hold(xPred);
        newest = await predict(xPred, grid[k]);
        const mT = live.hold(newest.x0);
        xNext = tf.tidy(() => {
          const correction = tf.mul(c.rhosC[p - 1], tf.sub(mT, mS));
          const sum = weighted(c.rhosC);
          return tf.sub(xPrime, tf.mul(t.alpha * c.B, sum ? tf.add(sum, correction) : correction)) as tf.Tensor4D;
        });
        live.release(xPred);
        history.unshift({ k, m: mT });
        live.release(...history.splice(o.order).map((e) => e.m));
      } else {
        xNext = xPred;
      }
      live.release(xPrime, ...ds, x);
      x = live.hold(xNext);
      await o.onStep?.({ i: k - 1, steps: totalSteps, t: grid[k], modelTimestep: newest.modelTimestep, x, predXstart: history[0].m });
    }
    if (o.denoiseToZero) {
      const last = await predict(x, schedule.t0);
      live.release(x);
      x = live.hold(last.x0);
      await o.onStep?.({ i: N, steps: totalSteps, t: schedule.t0, modelTimestep: last.modelTimestep, x, predXstart: x });
    }
    return x;
  });
}
