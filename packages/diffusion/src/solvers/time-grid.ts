/** The solvers' time grids τ_0 = T > τ_1 > … > τ_N = t_0 (`get_time_steps` of the official code). */
import { inverseLambda, marginalAlpha, marginalLambda, marginalStd, type NoiseScheduleVP } from './noise-schedule-vp.ts';

export const SKIP_TYPES = ['time_uniform', 'logSNR', 'time_quadratic'] as const;
export type SkipType = (typeof SKIP_TYPES)[number];

/**
 * N + 1 times from T down to t_0:
 * - `time_uniform`: τ_k = T + k·(t_0 − T)/N;
 * - `time_quadratic`: τ_k = (√T + k·(√t_0 − √T)/N)²;
 * - `logSNR`: uniform in λ, τ_k = λ⁻¹(λ(T) + k·(λ(t_0) − λ(T))/N).
 */
export function solverTimeGrid(schedule: NoiseScheduleVP, skipType: SkipType, steps: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`solver steps is ${steps}; accepted: an integer ≥ 1`);
  const { T, t0 } = schedule;
  const grid = new Float64Array(steps + 1);
  for (let k = 0; k <= steps; k++) {
    const u = k / steps;
    if (skipType === 'time_uniform') grid[k] = T + u * (t0 - T);
    else if (skipType === 'time_quadratic') grid[k] = (Math.sqrt(T) + u * (Math.sqrt(t0) - Math.sqrt(T))) ** 2;
    else if (skipType === 'logSNR') {
      const lambdaT = marginalLambda(schedule, T);
      grid[k] = inverseLambda(schedule, lambdaT + u * (marginalLambda(schedule, t0) - lambdaT));
    } else throw new Error(`skip type is "${skipType}"; accepted: ${SKIP_TYPES.join(', ')}`);
  }
  return grid;
}

/** α, σ and λ of the schedule at one grid time: what every multistep update reads. */
export interface GridPoint {
  alpha: number;
  sigma: number;
  lambda: number;
}

/** The time grid of a solver run and the schedule at each of its times. */
export function solverGridPoints(schedule: NoiseScheduleVP, skipType: SkipType, steps: number): { grid: Float64Array; at: GridPoint[] } {
  const grid = solverTimeGrid(schedule, skipType, steps);
  const at = Array.from(grid, (t) => ({
    alpha: marginalAlpha(schedule, t),
    sigma: marginalStd(schedule, t),
    lambda: marginalLambda(schedule, t),
  }));
  return { grid, at };
}
