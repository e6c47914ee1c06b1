/**
 * What `diffq launch` needs to know of a model directory to validate a run before anything is
 * written: its identity (digest, queue id) and the few facts flags are checked against. Only
 * model.json is parsed; the worker checks the weights against it when it loads them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON } from '@diffq/contract';
import { parseDiffusionConfig } from '@diffq/diffusion/config';
import {
  type DiTConfig,
  decoderImageSize,
  ditNullLabel,
  parseClassifierConfig,
  parseDiTConfig,
  parseModelJson,
  parseUNetConfig,
} from '@diffq/networks/config';
import { defaultModelId } from '@diffq/queue';
import { fetchModel } from '@diffq/storage';
import { type EvaluationDefaults, resolveBeside } from './statistics-flags.ts';

/** A latent model's decoder as the run pins it, with the latent shape it takes and the images it gives. */
export interface LatentFacts {
  decoder: { uri: string; digest: string; description: string };
  /** The latents the denoiser samples, [latentChannels, latentSize, latentSize]. */
  latentChannels: number;
  latentSize: number;
  /** The decoded images: imageSize², imageChannels. */
  imageSize: number;
  imageChannels: number;
}

export interface DenoiserFacts {
  /** As the manifest records it: an absolute path or an s3:// URI. */
  uri: string;
  id: string;
  digest: string;
  /** model.json architecture: "adm-unet" (pixels) or "dit" (latents). */
  architecture: string;
  /** Set for a latent model: the reverse process runs on latents and the decoder makes the images. */
  latent?: LatentFacts;
  /** The side of the images the run writes (a latent model's decoded images). */
  imageSize: number;
  /** Class count of a class-conditional model (including a null label), else null. */
  numClasses: number | null;
  nullLabel: number | null;
  /** T, the base diffusion steps. */
  steps: number;
  /** Image channels of the images the run writes (1 grey, 3 RGB). */
  channels: number;
  /** model.json `evaluation`, its paths resolved against the model directory: the --stats defaults. */
  evaluation?: EvaluationDefaults;
}

export interface ClassifierFacts {
  uri: string;
  digest: string;
  imageSize: number;
  numClasses: number;
}

async function modelJson(uri: string, flag: string) {
  const local = await fetchModel(uri, flag);
  const text = await readFile(join(local.dir, MODEL_JSON), 'utf8');
  try {
    return { local, json: parseModelJson(text, `${flag} ${uri}: ${MODEL_JSON}`) };
  } catch (error) {
    throw new Error((error as Error).message);
  }
}

/**
 * The decoder model.json names, read in full (config and weights, as the worker will) and checked
 * against the latents the DiT samples. Errors name model.json's `decoder` field.
 */
async function latentFacts(uri: string, base: string, named: string | undefined, dit: DiTConfig): Promise<LatentFacts> {
  const field = `--model ${uri}: model.json decoder`;
  if (named === undefined) {
    throw new Error(
      `${field} is missing; a latent model (architecture "dit") samples latents, and "decoder" names the autoencoder directory that turns them into images (docs/latent-models.md)`,
    );
  }
  const decoderUri = resolveBeside(base, named);
  if (decoderUri.startsWith('s3://')) {
    throw new Error(`${field} "${named}" resolves to ${decoderUri}; accepted: a local directory (decoders are not fetched from s3:// yet)`);
  }
  // The full package (tfjs included) only for latent models: plain launches stay quick.
  const { readDecoderDirectory } = await import('@diffq/networks');
  let decoder: Awaited<ReturnType<typeof readDecoderDirectory>>;
  try {
    decoder = await readDecoderDirectory(decoderUri);
  } catch (error) {
    throw new Error(`${field} "${named}": ${(error as Error).message}`);
  }
  const { config } = decoder;
  if (config.latentChannels !== dit.in_channels) {
    throw new Error(
      `${field} "${named}" decodes latents of ${config.latentChannels} channels (its config.json), but the DiT samples ${dit.in_channels} (model.json model.in_channels); accepted: equal`,
    );
  }
  return {
    decoder: {
      uri: decoderUri,
      digest: decoder.digest,
      description: `${config.keyLayout} KL decoder, ${config.blockOutChannels.length} levels`,
    },
    latentChannels: dit.in_channels,
    latentSize: dit.input_size,
    imageSize: decoderImageSize(config, dit.input_size),
    imageChannels: config.outChannels,
  };
}

export async function denoiserFacts(uri: string, modelId?: string): Promise<DenoiserFacts> {
  const { local, json } = await modelJson(uri, '--model');
  if (json.architecture !== 'adm-unet' && json.architecture !== 'dit') {
    throw new Error(
      `--model ${uri}: model.json architecture is "${json.architecture}"; sampling needs a denoiser ("adm-unet" or "dit")${json.architecture === 'adm-classifier' ? '; pass a classifier with --classifier' : ''}`,
    );
  }
  const diffusion = parseDiffusionConfig(json.diffusion, `--model ${uri}: model.json diffusion`);
  const base = uri.startsWith('s3://') ? uri : local.dir;
  const evaluation = json.evaluation;
  let shape: Pick<DenoiserFacts, 'imageSize' | 'channels' | 'numClasses' | 'nullLabel' | 'latent'>;
  if (json.architecture === 'dit') {
    const dit = parseDiTConfig(json.model, `--model ${uri}: model.json model`);
    const latent = await latentFacts(uri, base, json.decoder, dit);
    // As the model directory reads it: guidance.null_label when given, else the label table's null row.
    const nullLabel = json.guidance.null_label === undefined ? ditNullLabel(dit) : json.guidance.null_label;
    const numClasses = dit.num_classes + (ditNullLabel(dit) === null ? 0 : 1);
    shape = { imageSize: latent.imageSize, channels: latent.imageChannels, numClasses, nullLabel, latent };
  } else {
    const unet = parseUNetConfig(json.model, `--model ${uri}: model.json model`);
    shape = { imageSize: unet.imageSize, channels: unet.inChannels, numClasses: unet.numClasses, nullLabel: json.guidance.null_label };
  }
  return {
    uri: base,
    id: modelId ?? defaultModelId(local.digest),
    digest: local.digest,
    architecture: json.architecture,
    ...shape,
    steps: diffusion.steps,
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
