/**
 * A model directory (DESIGN.md §5): model.json + weights.safetensors, the latter holding the PyTorch
 * state_dict under its own key names. Parsing is pure (text and bytes in, checked description out)
 * so that a worker, a test or a browser can load a model from wherever it got the bytes.
 */

import { classifierParamSpecs } from '../nn/classifier.ts';
import { type ClassifierConfig, parseClassifierConfig } from '../nn/classifier-config.ts';
import { parseUNetConfig, type UNetConfig } from '../nn/config.ts';
import { checkStateDict } from '../nn/params.ts';
import { unetParamSpecs } from '../nn/unet.ts';
import { readSafetensors, type StoredTensor } from '../weights/safetensors.ts';
import { type ModelJson, parseModelJson } from './model-json.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.safetensors';

interface Common {
  json: ModelJson;
  /** The state_dict, checked against the architecture: every key present with its shape, none extra. */
  weights: Map<string, StoredTensor>;
  /** The safetensors `__metadata__`. */
  metadata: Record<string, string>;
}

export interface DenoiserDirectory extends Common {
  architecture: 'adm-unet';
  unet: UNetConfig;
  /** model.json `diffusion`, unparsed: the diffusion-config parser reads it. */
  diffusion: Record<string, unknown>;
  /** guidance.null_label: the "no class" label for classifier-free guidance, or null. */
  nullLabel: number | null;
}

export interface ClassifierDirectory extends Common {
  architecture: 'adm-classifier';
  classifier: ClassifierConfig;
  diffusion: Record<string, unknown> | undefined;
}

export type ModelDirectory = DenoiserDirectory | ClassifierDirectory;

/**
 * Parses and checks a model directory from its two files' contents. Throws naming the field of
 * model.json that is wrong, or the first missing / unexpected / mis-shaped weight.
 */
export function parseModelDirectory(modelJsonText: string, weightsBytes: Uint8Array): ModelDirectory {
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
    const { tensors: weights, metadata } = readSafetensors(weightsBytes);
    checkStateDict(unetParamSpecs(unet), weights, WEIGHTS_FILE);
    return { architecture: 'adm-unet', json, weights, metadata, unet, diffusion: json.diffusion, nullLabel };
  }
  const classifier = parseClassifierConfig(json.model, `${MODEL_JSON}.model`);
  if (json.guidance.null_label !== null) {
    throw new Error(`${MODEL_JSON}.guidance.null_label is ${json.guidance.null_label}; a classifier has no null label, accepted: null`);
  }
  const { tensors: weights, metadata } = readSafetensors(weightsBytes);
  checkStateDict(classifierParamSpecs(classifier), weights, WEIGHTS_FILE);
  return { architecture: 'adm-classifier', json, weights, metadata, classifier, diffusion: json.diffusion };
}
