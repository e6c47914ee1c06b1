/**
 * What `diffq launch` needs to know of a model directory to validate a run before anything is
 * written: its identity (digest, queue id) and the few facts flags are checked against. Only
 * model.json is parsed; the worker checks the weights against it when it loads them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON } from '@diffq/contract';
import { parseDiffusionConfig } from '@diffq/diffusion/config';
import { parseClassifierConfig, parseModelJson, parseUNetConfig } from '@diffq/networks/config';
import { defaultModelId } from '@diffq/queue';
import { fetchModel } from '@diffq/storage';
import { type EvaluationDefaults, resolveBeside } from './statistics-flags.ts';

export interface DenoiserFacts {
  /** As the manifest records it: an absolute path or an s3:// URI. */
  uri: string;
  id: string;
  digest: string;
  imageSize: number;
  /** Class count of a class-conditional model (including a null label), else null. */
  numClasses: number | null;
  nullLabel: number | null;
  /** T, the base diffusion steps. */
  steps: number;
  /** Image channels (1 grey, 3 RGB). */
  channels: number;
  /** A latent model (isLatentModelJson): its samples are latents, with no [−1, 1] range to clip x̂_0 to. */
  latent: boolean;
  /** model.json `evaluation`, its paths resolved against the model directory: the --stats defaults. */
  evaluation?: EvaluationDefaults;
}

export interface ClassifierFacts {
  uri: string;
  digest: string;
  imageSize: number;
  numClasses: number;
}

/**
 * Whether model.json (parsed JSON, before any schema) describes a latent model: one with a
 * top-level `decoder` (the autoencoder that turns its samples into images) or the DiT architecture.
 * The one place the launch decides "latent" until packages/networks owns the predicate.
 */
export function isLatentModelJson(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const json = raw as Record<string, unknown>;
  return json.decoder !== undefined || json.architecture === 'dit';
}

async function modelJson(uri: string, flag: string) {
  const local = await fetchModel(uri, flag);
  const text = await readFile(join(local.dir, MODEL_JSON), 'utf8');
  try {
    return { local, json: parseModelJson(text, `${flag} ${uri}: ${MODEL_JSON}`), latent: isLatentModelJson(JSON.parse(text)) };
  } catch (error) {
    throw new Error((error as Error).message);
  }
}

export async function denoiserFacts(uri: string, modelId?: string): Promise<DenoiserFacts> {
  const { local, json, latent } = await modelJson(uri, '--model');
  if (json.architecture !== 'adm-unet') {
    throw new Error(
      `--model ${uri}: model.json architecture is "${json.architecture}"; sampling needs a denoiser ("adm-unet")${json.architecture === 'adm-classifier' ? '; pass a classifier with --classifier' : ''}`,
    );
  }
  const unet = parseUNetConfig(json.model, `--model ${uri}: model.json model`);
  const diffusion = parseDiffusionConfig(json.diffusion, `--model ${uri}: model.json diffusion`);
  const base = uri.startsWith('s3://') ? uri : local.dir;
  const evaluation = json.evaluation;
  return {
    uri: base,
    id: modelId ?? defaultModelId(local.digest),
    digest: local.digest,
    imageSize: unet.imageSize,
    numClasses: unet.numClasses,
    nullLabel: json.guidance.null_label,
    steps: diffusion.steps,
    channels: unet.inChannels,
    latent,
    ...(evaluation && {
      evaluation: {
        features: resolveBeside(base, evaluation.features),
        ...(evaluation.reference && { reference: resolveBeside(base, evaluation.reference) }),
        ...(evaluation.floor && { floor: resolveBeside(base, evaluation.floor) }),
      },
    }),
  };
}

export async function classifierFacts(uri: string): Promise<ClassifierFacts> {
  const { local, json } = await modelJson(uri, '--classifier');
  if (json.architecture !== 'adm-classifier') {
    throw new Error(`--classifier ${uri}: model.json architecture is "${json.architecture}"; classifier guidance needs "adm-classifier"`);
  }
  const config = parseClassifierConfig(json.model, `--classifier ${uri}: model.json model`);
  return {
    uri: uri.startsWith('s3://') ? uri : local.dir,
    digest: local.digest,
    imageSize: config.imageSize,
    numClasses: config.outChannels,
  };
}
