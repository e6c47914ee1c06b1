/**
 * A model directory (docs/design.md#model-directory): model.json + weights.safetensors, the latter holding the PyTorch
 * state_dict under its own key names. Parsing is pure (text and bytes in, checked description out)
 * so that a worker, a test or a browser can load a model from wherever it got the bytes.
 */

import { MODEL_JSON, WEIGHTS_FILE } from '@diffq/contract';
import { classifierParamSpecs } from '../adm/classifier.ts';
import { type ClassifierConfig, parseClassifierConfig } from '../adm/classifier-config.ts';
import { unetParamSpecs } from '../adm/unet.ts';
import { parseUNetConfig, type UNetConfig } from '../adm/unet-config.ts';
import { type Dinov2Config, parseDinov2Config } from '../dinov2/dinov2-config.ts';
import { DINOV2_MISMATCH_HINT, dinov2ParamSpecs } from '../dinov2/dinov2-params.ts';
import { type DiTConfig, ditNullLabel, parseDiTConfig } from '../dit/dit-config.ts';
import { checkDiTStateDict } from '../dit/dit-plan.ts';
import type { InceptionPreprocess } from '../inception/inception-preprocess.ts';
import { INCEPTION_MISMATCH_HINT, inceptionParamSpecs } from '../inception/inception-v3.ts';
import { mnistClassifierParamSpecs } from '../mnist-classifier/mnist-classifier.ts';
import { type MnistClassifierConfig, parseMnistClassifierConfig } from '../mnist-classifier/mnist-classifier-config.ts';
import { checkStateDict } from '../nn/params.ts';
import { readSafetensors, type StoredTensor } from '../weights/safetensors.ts';
import { type ModelJson, parseModelJson } from './model-json.ts';

/** Defined by the contract; re-exported for the engines that read a model directory through this package. */
export { MODEL_JSON, WEIGHTS_FILE } from '@diffq/contract';

/** What every directory has; `json` is model.json narrowed to the directory's architecture. */
interface Common<A extends ModelJson['architecture']> {
  json: Extract<ModelJson, { architecture: A }>;
  /** The state_dict, checked against the architecture: every key present with its shape, none extra. */
  weights: Map<string, StoredTensor>;
  /** The safetensors `__metadata__`. */
  metadata: Record<string, string>;
}

export interface DenoiserDirectory extends Common<'adm-unet'> {
  architecture: 'adm-unet';
  unet: UNetConfig;
  /** model.json `diffusion`, unparsed: the diffusion-config parser reads it. */
  diffusion: Record<string, unknown>;
  /** guidance.null_label: the "no class" label for classifier-free guidance, or null. */
  nullLabel: number | null;
}

/** A facebookresearch/DiT denoiser: it samples latents, which the `decoder` autoencoder turns into images. */
export interface DiTDirectory extends Common<'dit'> {
  architecture: 'dit';
  dit: DiTConfig;
  /** model.json `diffusion`, unparsed: the diffusion-config parser reads it. */
  diffusion: Record<string, unknown>;
  /** guidance.null_label when given, else the label table's null row (num_classes) or null without one. */
  nullLabel: number | null;
  /** model.json `decoder` as written (a path relative to the model directory), or undefined. */
  decoder: string | undefined;
}

export interface ClassifierDirectory extends Common<'adm-classifier'> {
  architecture: 'adm-classifier';
  classifier: ClassifierConfig;
  diffusion: Record<string, unknown> | undefined;
}

/** The MNIST feature network (docs/mnist-classifier.md). */
export interface MnistClassifierDirectory extends Common<'mnist-classifier'> {
  architecture: 'mnist-classifier';
  mnistClassifier: MnistClassifierConfig;
}

/** pytorch-fid's FID Inception network (docs/feature-networks.md). */
export interface InceptionDirectory extends Common<'fid-inception-v3'> {
  architecture: 'fid-inception-v3';
  /** model.json's default preprocessing. */
  preprocess: InceptionPreprocess;
}

/** DINOv2 ViT-L/14, the FD_DINOv2 feature network (docs/feature-networks.md). */
export interface Dinov2Directory extends Common<'dinov2-vit-l14'> {
  architecture: 'dinov2-vit-l14';
  dinov2: Dinov2Config;
}

export type ModelDirectory =
  | DenoiserDirectory
  | DiTDirectory
  | ClassifierDirectory
  | MnistClassifierDirectory
  | InceptionDirectory
  | Dinov2Directory;

/**
 * Parses and checks a model directory from its two files' contents. Throws naming the field of
 * model.json that is wrong, or the first missing / unexpected / mis-shaped weight. `weightsName`
 * (the weights file's path, when known) begins the errors of a malformed safetensors file.
 */
export function parseModelDirectory(modelJsonText: string, weightsBytes: Uint8Array, weightsName: string = WEIGHTS_FILE): ModelDirectory {
  const json = parseModelJson(modelJsonText, MODEL_JSON);
  // model.json is checked in full before the weights are decoded, so its errors come first.
  if (json.architecture === 'adm-unet') {
    const unet = parseUNetConfig(json.model, `${MODEL_JSON}.model`);
    const nullLabel = json.guidance.null_label;
    if (nullLabel !== null && (unet.numClasses === null || nullLabel >= unet.numClasses)) {
      throw new Error(
        unet.numClasses === null
          ? `${MODEL_JSON}.guidance.null_label is ${nullLabel} but the model is unconditional (model.class_cond false); set null_label to null`
          : `${MODEL_JSON}.guidance.null_label is ${nullLabel}; accepted: null or a label in 0..${unet.numClasses - 1} (model.num_classes ${unet.numClasses})`,
      );
    }
    const { tensors: weights, metadata } = readSafetensors(weightsBytes, weightsName);
    checkStateDict(unetParamSpecs(unet), weights, WEIGHTS_FILE);
    return { architecture: 'adm-unet', json, weights, metadata, unet, diffusion: json.diffusion, nullLabel };
  }
  if (json.architecture === 'dit') {
    const dit = parseDiTConfig(json.model, `${MODEL_JSON}.model`);
    const rows = dit.num_classes + (ditNullLabel(dit) === null ? 0 : 1);
    const nullLabel = json.guidance.null_label === undefined ? ditNullLabel(dit) : json.guidance.null_label;
    if (nullLabel !== null && nullLabel >= rows) {
      throw new Error(
        `${MODEL_JSON}.guidance.null_label is ${nullLabel}; accepted: null or a label in 0..${rows - 1} (the label table has ${rows} rows: model.num_classes ${dit.num_classes}${rows > dit.num_classes ? ' and the null row' : ''})`,
      );
    }
    const { tensors: weights, metadata } = readSafetensors(weightsBytes);
    checkDiTStateDict(dit, weights, WEIGHTS_FILE);
    return { architecture: 'dit', json, weights, metadata, dit, diffusion: json.diffusion, nullLabel, decoder: json.decoder };
  }
  if (json.architecture === 'mnist-classifier') {
    const mnistClassifier = parseMnistClassifierConfig(json.model, `${MODEL_JSON}.model`);
    const { tensors: weights, metadata } = readSafetensors(weightsBytes, weightsName);
    checkStateDict(mnistClassifierParamSpecs(mnistClassifier), weights, WEIGHTS_FILE);
    return { architecture: 'mnist-classifier', json, weights, metadata, mnistClassifier };
  }
  if (json.architecture === 'fid-inception-v3') {
    const { tensors: weights, metadata } = readSafetensors(weightsBytes, weightsName);
    checkStateDict(inceptionParamSpecs(), weights, WEIGHTS_FILE, INCEPTION_MISMATCH_HINT);
    return { architecture: 'fid-inception-v3', json, weights, metadata, preprocess: json.preprocess };
  }
  if (json.architecture === 'dinov2-vit-l14') {
    const dinov2 = parseDinov2Config(json.model, `${MODEL_JSON}.model`);
    const { tensors: weights, metadata } = readSafetensors(weightsBytes);
    checkStateDict(dinov2ParamSpecs(dinov2), weights, WEIGHTS_FILE, DINOV2_MISMATCH_HINT);
    return { architecture: 'dinov2-vit-l14', json, weights, metadata, dinov2 };
  }
  const classifier = parseClassifierConfig(json.model, `${MODEL_JSON}.model`);
  if (json.guidance.null_label !== null) {
    throw new Error(`${MODEL_JSON}.guidance.null_label is ${json.guidance.null_label}; a classifier has no null label, accepted: null`);
  }
  const { tensors: weights, metadata } = readSafetensors(weightsBytes, weightsName);
  checkStateDict(classifierParamSpecs(classifier), weights, WEIGHTS_FILE);
  return { architecture: 'adm-classifier', json, weights, metadata, classifier, diffusion: json.diffusion };
}
