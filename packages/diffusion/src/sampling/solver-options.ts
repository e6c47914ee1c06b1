/** Settings shared by the multistep ODE solvers (DPM-Solver++, UniPC). */
import type { SkipType } from '../solvers/time-grid.ts';
import type { DynamicThreshold } from './dynamic-threshold.ts';
import type { SampleOptions } from './loop.ts';

export interface SolverOptions extends SampleOptions {
  /** N, the number of solver steps (grid intervals); the network is evaluated N times (N + 1 with denoiseToZero). */
  steps: number;
  /** Maximum multistep order, 1 … 3. */
  order: number;
  skipType: SkipType;
  /** One more evaluation at t_0 whose x̂_0 is returned instead of x at t_0. */
  denoiseToZero?: boolean;
  /** Applied to every x̂_0 when given, before clipDenoised's clip (correctX0). */
  dynamicThreshold?: DynamicThreshold;
}

export function checkSolverOptions(name: string, o: SolverOptions): void {
  if (!(Number.isInteger(o.order) && o.order >= 1 && o.order <= 3)) throw new Error(`${name} order is ${o.order}; accepted: 1, 2 or 3`);
  if (!(Number.isInteger(o.steps) && o.steps >= o.order)) {
    throw new Error(`${name} steps is ${o.steps}; accepted: an integer ≥ the order ${o.order}`);
  }
  const th = o.dynamicThreshold;
  if (th && !(th.ratio > 0 && th.ratio <= 1)) throw new Error(`dynamic threshold ratio is ${th.ratio}; accepted: a number in (0, 1]`);
  if (th && !(th.maxValue > 0)) throw new Error(`dynamic threshold max value is ${th.maxValue}; accepted: a number > 0`);
}
