/**
 * The (possibly respaced) diffusion process the samplers and losses run on: guided-diffusion's
 * SpacedDiffusion as plain data. All schedule arrays are float64 and indexed by the spaced t = 0 … S−1.
 */
import { betaSchedule } from './beta-schedule.ts';
import type { DiffusionConfig, LossType, ModelMeanType, ModelVarType } from './diffusion-config.ts';
import { type ProcessArrays, processArrays, spacedBetas } from './process-arrays.ts';
import { spaceTimesteps } from './respacing.ts';

export interface DiffusionProcess extends ProcessArrays {
  /** S, the number of steps of this (spaced) process. */
  numTimesteps: number;
  /** T, the number of base steps the network was trained on. */
  originalNumSteps: number;
  /** timestepMap[t] = the base timestep the spaced step t stands for (sorted, length S). */
  timestepMap: Int32Array;
  /** The unspaced schedule β_1 … β_T. */
  baseBetas: Float64Array;
  /** Whether the network receives timestepMap[t]·1000/T (float) instead of timestepMap[t]. */
  rescaleTimesteps: boolean;
  modelMeanType: ModelMeanType;
  modelVarType: ModelVarType;
  lossType: LossType;
  /** DDPM-IP's γ (training only). */
  inputPerturbation: number;
}

/**
 * create_gaussian_diffusion: the base schedule of `config.steps` steps, respaced to the kept timesteps
 * of `config.timestepRespacing` (β'_k = 1 − ᾱ_{i_k}/ᾱ_{i_{k−1}}), with every derived array.
 */
export function createProcess(config: DiffusionConfig): DiffusionProcess {
  const baseBetas = betaSchedule(config.noiseSchedule, config.steps);
  const useTimesteps = spaceTimesteps(config.steps, config.timestepRespacing);
  if (useTimesteps.length < 2) {
    throw new Error(`timestep_respacing "${config.timestepRespacing}" keeps ${useTimesteps.length} step; a process needs at least 2`);
  }
  const base = processArrays(baseBetas);
  return {
    ...processArrays(spacedBetas(base.alphasCumprod, useTimesteps)),
    numTimesteps: useTimesteps.length,
    originalNumSteps: config.steps,
    timestepMap: Int32Array.from(useTimesteps),
    baseBetas,
    rescaleTimesteps: config.rescaleTimesteps,
    modelMeanType: config.modelMeanType,
    modelVarType: config.modelVarType,
    lossType: config.lossType,
    inputPerturbation: config.inputPerturbation,
  };
}

/**
 * What the network receives for spaced steps t (_WrappedModel): timestepMap[t], or with rescaleTimesteps
 * float32(timestepMap[t]) · float32(1000/T), the product rounded to float32 as PyTorch does it.
 */
export function modelTimesteps(process: DiffusionProcess, t: ArrayLike<number>): Float32Array {
  const out = new Float32Array(t.length);
  const scale = Math.fround(1000 / process.originalNumSteps);
  for (let i = 0; i < t.length; i++) {
    const ti = t[i];
    if (!Number.isInteger(ti) || ti < 0 || ti >= process.numTimesteps) {
      throw new Error(`timestep t[${i}] is ${ti}; accepted: an integer in [0, ${process.numTimesteps - 1}]`);
    }
    const mapped = process.timestepMap[ti];
    out[i] = process.rescaleTimesteps ? Math.fround(mapped * scale) : mapped;
  }
  return out;
}
