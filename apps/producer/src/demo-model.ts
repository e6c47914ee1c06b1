/**
 * A small random-weights model directory (model.json + weights.safetensors, DESIGN.md §5): what
 * `diffq demo` samples until a trained default model ships, and what the end-to-end tests sample.
 * Weights come from a seeded generator, so the same options always give the same bytes (and digest).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  classifierParameterShapes,
  parseClassifierConfig,
  parseUNetConfig,
  randomStateDict,
  type StoredTensor,
  type TensorToWrite,
  unetParameterShapes,
  writeSafetensors,
} from '@diffq/diffusion';

export interface DemoModelOptions {
  /** Image side in pixels (default 8). */
  imageSize?: number;
  /** Base channel count, a multiple of 32 (default 32). */
  channels?: number;
  /** Number of classes for a class-conditional model; null (default) for an unconditional one. */
  numClasses?: number | null;
  /** Seed of the random weights (default 0). */
  seed?: number;
}

export function demoModelJson(options: DemoModelOptions = {}) {
  const numClasses = options.numClasses ?? null;
  return {
    format: 'diffq-model/1',
    architecture: 'adm-unet',
    model: {
      image_size: options.imageSize ?? 8,
      num_channels: options.channels ?? 32,
      num_res_blocks: 1,
      channel_mult: '1',
      attention_resolutions: String(options.imageSize ?? 8),
      num_heads: 2,
      num_head_channels: -1,
      num_heads_upsample: -1,
      use_scale_shift_norm: true,
      resblock_updown: false,
      use_new_attention_order: false,
      learn_sigma: true,
      class_cond: numClasses !== null,
      num_classes: numClasses,
      in_channels: 3,
      dropout: 0,
    },
    diffusion: {
      steps: 1000,
      noise_schedule: 'linear',
      learn_sigma: true,
      sigma_small: false,
      predict_xstart: false,
      rescale_timesteps: false,
      rescale_learned_sigmas: false,
      use_kl: false,
    },
    // The last class index stands for "no class" so that classifier-free guidance can be tried.
    guidance: { null_label: numClasses === null ? null : numClasses - 1 },
  };
}

function safetensorsOf(stateDict: Map<string, StoredTensor>): Uint8Array {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [key, tensor] of stateDict) tensors[key] = { shape: tensor.shape, data: tensor.data as Float32Array };
  return writeSafetensors(tensors);
}

/** The UNet's exact state_dict keys and shapes, filled by randomStateDict (seeded). */
export function demoWeights(options: DemoModelOptions = {}): Uint8Array {
  return safetensorsOf(randomStateDict(unetParameterShapes(parseUNetConfig(demoModelJson(options).model)), options.seed ?? 0));
}

/** A matching noisy classifier (adm-classifier) over `numClasses` classes, for classifier guidance. */
export function demoClassifierJson(options: { imageSize?: number; numClasses: number }) {
  return {
    format: 'diffq-model/1',
    architecture: 'adm-classifier',
    model: {
      image_size: options.imageSize ?? 8,
      classifier_width: 32,
      classifier_depth: 1,
      classifier_attention_resolutions: '',
      classifier_pool: 'adaptive',
      channel_mult: '1',
      out_channels: options.numClasses,
      num_head_channels: 32,
    },
  };
}

/** Writes a random-weights classifier directory; returns dir. */
export async function writeDemoClassifier(
  dir: string,
  options: { imageSize?: number; numClasses: number; seed?: number },
): Promise<string> {
  const json = demoClassifierJson(options);
  const weights = safetensorsOf(randomStateDict(classifierParameterShapes(parseClassifierConfig(json.model)), options.seed ?? 1));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.safetensors'), weights);
  await writeFile(join(dir, 'model.json'), `${JSON.stringify(json, null, 2)}\n`);
  return dir;
}

/** Writes the model directory (creating it) unless it already holds the same model; returns dir. */
export async function writeDemoModel(dir: string, options: DemoModelOptions = {}): Promise<string> {
  const json = `${JSON.stringify(demoModelJson(options), null, 2)}\n`;
  const existing = await readFile(join(dir, 'model.json'), 'utf8').catch(() => undefined);
  if (existing === json) {
    const weights = await readFile(join(dir, 'weights.safetensors')).catch(() => undefined);
    if (weights !== undefined && Buffer.compare(weights, demoWeights(options)) === 0) return dir;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.safetensors'), demoWeights(options));
  await writeFile(join(dir, 'model.json'), json);
  return dir;
}
