/**
 * Checks a case's `diffusion.derived` (what the reference derived from the flags) against diffq's
 * parse, so a disagreement is reported as such rather than as a numeric mismatch further on.
 */
import type { DiffusionConfig, DiffusionProcess } from '@diffq/diffusion';
import type { GoldenCase } from '../case.ts';

export function checkDerived(c: GoldenCase, config: DiffusionConfig, p: DiffusionProcess): void {
  const derived = c.json.diffusion?.derived;
  if (!derived) return;
  const ours: Record<string, unknown> = {
    num_timesteps: p.numTimesteps,
    original_num_steps: p.originalNumSteps,
    model_mean_type: config.modelMeanType,
    model_var_type: config.modelVarType,
    loss_type: config.lossType,
    timestep_map: Array.from(p.timestepMap),
  };
  for (const [field, value] of Object.entries(ours)) {
    if (!(field in derived)) continue;
    if (JSON.stringify(derived[field]) !== JSON.stringify(value)) {
      throw new Error(`diffusion.derived.${field} is ${JSON.stringify(derived[field])}, diffq derives ${JSON.stringify(value)}`);
    }
  }
}
