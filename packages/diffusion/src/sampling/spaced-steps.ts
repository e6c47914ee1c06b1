/** The time grid of DDPM and DDIM: the spaced process's timesteps, walked from S−1 down to 0. */
import { type DiffusionProcess, modelTimesteps } from '../schedule/diffusion-process.ts';

export interface SpacedStep {
  /** Loop step i = 0 … S−1. */
  i: number;
  /** The spaced timestep S−1−i. */
  t: number;
  /** What the network receives at t: timestep_map[t], rescaled if so configured. */
  modelTimestep: number;
}

export function spacedSteps(p: DiffusionProcess): SpacedStep[] {
  const S = p.numTimesteps;
  return Array.from({ length: S }, (_, i) => ({ i, t: S - 1 - i, modelTimestep: modelTimesteps(p, [S - 1 - i])[0] }));
}
