/**
 * A training checkpoint as bytes: the model directory (docs/design.md#model-directory; model.json and the EMA weights
 * in weights.safetensors under the reference's key names, what sampling loads) plus a sidecar
 * train-state.safetensors with what only resuming needs: the raw weights and AdamW's moments.
 * Pure: the trainer app reads and writes the files.
 */
import { parseModelDirectory, readSafetensors, type StoredTensor, type TensorToWrite, writeSafetensors } from '@diffq/networks';
import { MODEL_FORMAT } from '@diffq/networks/config';
import type { DiffusionTrainer, ModelSpec, TrainerSettings } from './trainer.ts';

export const TRAIN_STATE_FILE = 'train-state.safetensors';
const STATE_FORMAT = 'diffq-train-state/1';
const PARTS = ['params', 'adam_m', 'adam_v'] as const;

export interface CheckpointFiles {
  /** model.json text. */
  modelJson: string;
  /** weights.safetensors: the EMA state_dict. */
  weights: Uint8Array;
  /** train-state.safetensors: `params/<key>`, `adam_m/<key>`, `adam_v/<key>`. */
  state: Uint8Array;
}

/** What a checkpoint restores (DiffusionTrainer.resume's arguments). */
export interface SavedTraining {
  spec: ModelSpec;
  step: number;
  /** The settings the checkpoint was trained with, as recorded. */
  settings?: TrainerSettings;
  ema: Map<string, StoredTensor>;
  params: Map<string, StoredTensor>;
  m?: Map<string, StoredTensor>;
  v?: Map<string, StoredTensor>;
}

/** model.json for a trained spec: create_model / create_gaussian_diffusion arguments and the null label. */
export function modelJsonText(spec: ModelSpec): string {
  const json = {
    format: MODEL_FORMAT,
    architecture: 'adm-unet',
    model: spec.model,
    diffusion: spec.diffusion,
    guidance: { null_label: spec.nullLabel },
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

function toWrite(dict: ReadonlyMap<string, StoredTensor>, prefix = ''): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [key, t] of dict) out[`${prefix}${key}`] = { shape: t.shape, data: t.data as Float32Array };
  return out;
}

/** The three files of the trainer's current state. `metadata` is added to both safetensors headers. */
export function checkpointFiles(trainer: DiffusionTrainer, metadata: Record<string, string> = {}): CheckpointFiles {
  const dicts = trainer.stateDicts();
  const common = { ...metadata, step: String(trainer.step) };
  const weights = writeSafetensors(toWrite(dicts.ema), { ...common, weights: 'ema', ema_rate: String(trainer.settings.emaRate) });
  const state = writeSafetensors(
    { ...toWrite(dicts.params, 'params/'), ...toWrite(dicts.m, 'adam_m/'), ...toWrite(dicts.v, 'adam_v/') },
    { ...common, format: STATE_FORMAT, settings: JSON.stringify(trainer.settings) },
  );
  return { modelJson: modelJsonText(trainer.spec), weights, state };
}

function stepOf(metadata: Record<string, string>, file: string): number {
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`${file}: __metadata__.step is ${JSON.stringify(metadata.step)}; accepted: an integer ≥ 0`);
  return step;
}

/**
 * Reads a checkpoint back. Without `state` (a model directory alone) training resumes from the EMA
 * weights with fresh AdamW moments, at the step weights.safetensors records (0 if none).
 */
export function readCheckpoint(files: { modelJson: string; weights: Uint8Array; state?: Uint8Array }): SavedTraining {
  const dir = parseModelDirectory(files.modelJson, files.weights);
  if (dir.architecture !== 'adm-unet') throw new Error(`model.json.architecture is "${dir.architecture}"; the trainer trains "adm-unet"`);
  const spec: ModelSpec = { model: dir.json.model, diffusion: dir.diffusion, nullLabel: dir.nullLabel };
  const weightsStep = dir.metadata.step === undefined ? 0 : stepOf(dir.metadata, 'weights.safetensors');
  if (!files.state) return { spec, step: weightsStep, ema: dir.weights, params: dir.weights };
  const { tensors, metadata } = readSafetensors(files.state, TRAIN_STATE_FILE);
  if (metadata.format !== STATE_FORMAT) {
    throw new Error(`${TRAIN_STATE_FILE}: __metadata__.format is ${JSON.stringify(metadata.format)}; accepted: "${STATE_FORMAT}"`);
  }
  const step = stepOf(metadata, TRAIN_STATE_FILE);
  if (step !== weightsStep) {
    throw new Error(
      `${TRAIN_STATE_FILE} is at step ${step} but weights.safetensors at step ${weightsStep} (an interrupted save?); delete ${TRAIN_STATE_FILE} to resume from the EMA weights alone`,
    );
  }
  const parts = Object.fromEntries(PARTS.map((p) => [p, new Map<string, StoredTensor>()])) as Record<
    (typeof PARTS)[number],
    Map<string, StoredTensor>
  >;
  for (const [name, t] of tensors) {
    const slash = name.indexOf('/');
    const part = parts[name.slice(0, slash) as (typeof PARTS)[number]];
    if (slash < 0 || !part)
      throw new Error(`${TRAIN_STATE_FILE}: unexpected tensor "${name}"; accepted prefixes: ${PARTS.map((p) => `${p}/`).join(', ')}`);
    part.set(name.slice(slash + 1), t);
  }
  const settings = metadata.settings ? (JSON.parse(metadata.settings) as TrainerSettings) : undefined;
  return { spec, step, settings, ema: dir.weights, params: parts.params, m: parts.adam_m, v: parts.adam_v };
}
