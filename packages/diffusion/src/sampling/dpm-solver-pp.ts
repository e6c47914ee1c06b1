/**
 * DPM-Solver++ multistep (Lu et al. 2022), the data-prediction solver of the official
 * `dpm_solver_pytorch.py` driven as its ADM example drives a guided-diffusion ε-model. Deterministic:
 * the only draw is x_T.
 */
import * as tf from '@tensorflow/tfjs';
import { DPM_SOLVER_CLIPPED_LAMBDA, noiseScheduleVP } from '../solvers/noise-schedule-vp.ts';
import { solverGridPoints } from '../solvers/time-grid.ts';
import { predictData } from './data-prediction.ts';
import { runSampling } from './loop.ts';
import { checkSolverOptions, type SolverOptions } from './solver-options.ts';

/**
 * The order of steps k = 1 … N: k below `order` while the history fills up, then `order`; with
 * lowerOrderFinal and N < 10 (the official code's threshold) min(order, N + 1 − k), which keeps the last
 * steps, where h is largest relative to λ's range, stable.
 */
export function dpmSolverOrders(order: number, steps: number, lowerOrderFinal = true): number[] {
  return Array.from({ length: steps }, (_, i) => {
    const k = i + 1;
    if (k < order) return k;
    return lowerOrderFinal && steps < 10 ? Math.min(order, steps + 1 - k) : order;
  });
}

/**
 * From s = τ_{k−1} to t = τ_k, with h = λ_t − λ_s, φ₁ = e^{−h} − 1 and m = [m_{k−1}, m_{k−2}, m_{k−3}]
 * the newest x̂_0 first, λ = [λ_s, λ_{k−2}, λ_{k−3}] alike:
 * - order 1 (DDIM): x_t = (σ_t/σ_s)·x − α_t·φ₁·m₀
 * - order 2: r₀ = (λ_s − λ_{k−2})/h, D₁ = (m₀ − m₁)/r₀; x_t = (σ_t/σ_s)·x − α_t·φ₁·m₀ − ½·α_t·φ₁·D₁
 * - order 3: r₁ = (λ_{k−2} − λ_{k−3})/h, D₁,₀ = (m₀ − m₁)/r₀, D₁,₁ = (m₁ − m₂)/r₁,
 *   D₁ = D₁,₀ + r₀/(r₀ + r₁)·(D₁,₀ − D₁,₁), D₂ = (D₁,₀ − D₁,₁)/(r₀ + r₁), φ₂ = φ₁/h + 1, φ₃ = φ₂/h − ½;
 *   x_t = (σ_t/σ_s)·x − α_t·φ₁·m₀ + α_t·φ₂·D₁ − α_t·φ₃·D₂
 * Coefficients in float64, tensors [N, C, H, W] float32. Call inside tf.tidy.
 */
export function dpmSolverPPUpdate(
  x: tf.Tensor4D,
  m: tf.Tensor4D[],
  lambda: number[],
  t: { alpha: number; sigma: number; lambda: number },
  sigmaS: number,
  order: number,
): tf.Tensor4D {
  const h = t.lambda - lambda[0];
  const phi1 = Math.expm1(-h);
  const firstOrder = tf.sub(tf.mul(t.sigma / sigmaS, x), tf.mul(t.alpha * phi1, m[0]));
  if (order === 1) return firstOrder as tf.Tensor4D;
  const r0 = (lambda[0] - lambda[1]) / h;
  const d10 = tf.div(tf.sub(m[0], m[1]), r0);
  if (order === 2) return tf.sub(firstOrder, tf.mul(0.5 * t.alpha * phi1, d10)) as tf.Tensor4D;
  const r1 = (lambda[1] - lambda[2]) / h;
  const d11 = tf.div(tf.sub(m[1], m[2]), r1);
  const d1 = tf.add(d10, tf.mul(r0 / (r0 + r1), tf.sub(d10, d11)));
  const d2 = tf.div(tf.sub(d10, d11), r0 + r1);
  const phi2 = phi1 / h + 1;
  const phi3 = phi2 / h - 0.5;
  return tf.sub(tf.add(firstOrder, tf.mul(t.alpha * phi2, d1)), tf.mul(t.alpha * phi3, d2)) as tf.Tensor4D;
}

/**
 * x_0 = x_T, m_0 = x̂_0(x_0, τ_0); for k = 1 … N: x_k = the order-p_k update from τ_{k−1} to τ_k, and
 * m_k = x̂_0(x_k, τ_k) unless k = N (the network is never evaluated at τ_N); with denoiseToZero the
 * result is x̂_0(x_N, t_0). Resolves to the sample [N, C, H, W] (the caller owns it).
 */
export async function sampleDpmSolverPP(o: SolverOptions): Promise<tf.Tensor4D> {
  checkSolverOptions('DPM-Solver++', o);
  const schedule = noiseScheduleVP(o.process.baseBetas, DPM_SOLVER_CLIPPED_LAMBDA);
  const { grid, at } = solverGridPoints(schedule, o.skipType, o.steps);
  const orders = dpmSolverOrders(o.order, o.steps);
  const N = o.steps;
  const totalSteps = N + (o.denoiseToZero ? 1 : 0);
  return runSampling(o, async ({ denoiser, live, xT }) => {
    const predict = (x: tf.Tensor4D, t: number) => predictData(denoiser, o.process, schedule, x, t, o);
    let x = xT;
    let newest = await predict(x, grid[0]);
    // history[j] = (grid index, x̂_0), newest first; only the last `order` are ever used.
    const history = [{ k: 0, m: live.hold(newest.x0) }];
    for (let k = 1; k <= N; k++) {
      const used = history.slice(0, orders[k - 1]);
      const xNext = tf.tidy(() =>
        dpmSolverPPUpdate(
          x,
          used.map((e) => e.m),
          used.map((e) => at[e.k].lambda),
          at[k],
          at[k - 1].sigma,
          orders[k - 1],
        ),
      );
      live.release(x);
      x = live.hold(xNext);
      await o.onStep?.({ i: k - 1, steps: totalSteps, t: grid[k], modelTimestep: newest.modelTimestep, x, predXstart: history[0].m });
      if (k < N) {
        newest = await predict(x, grid[k]);
        history.unshift({ k, m: live.hold(newest.x0) });
        live.release(...history.splice(o.order).map((e) => e.m));
      }
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
