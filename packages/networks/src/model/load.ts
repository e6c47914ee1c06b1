/** Puts a parsed model directory's network on the tfjs backend. */

import { WEIGHTS_FILE } from '@diffq/contract';
import { createClassifier, type NoisyClassifier } from '../adm/classifier.ts';
import { createUNet, type UNet } from '../adm/unet.ts';
import type { ModelDirectory } from './model-directory.ts';

/** The denoiser of an `adm-unet` directory; the caller disposes it (or hands it to a TfjsEngine). */
export function loadUNet(dir: ModelDirectory): UNet {
  if (dir.architecture !== 'adm-unet') {
    throw new Error(`model.json.architecture is "${dir.architecture}"; a denoiser needs "adm-unet"`);
  }
  return createUNet(dir.unet, dir.weights, WEIGHTS_FILE);
}

/** The noisy classifier of an `adm-classifier` directory; the caller disposes it. */
export function loadClassifier(dir: ModelDirectory): NoisyClassifier {
  if (dir.architecture !== 'adm-classifier') {
    throw new Error(`model.json.architecture is "${dir.architecture}"; classifier guidance needs "adm-classifier"`);
  }
  return createClassifier(dir.classifier, dir.weights, WEIGHTS_FILE);
}
