/** Generated decoder weights for fixtures and benchmarks. */
import { randomStateDict } from '../adm/random-weights.ts';
import { paramShapes } from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import type { DecoderArchitecture, DecoderConfig } from './decoder-config.ts';
import { decoderParamSpecs, planDecoder } from './decoder-plan.ts';

/**
 * Decode-side weights of `config` in its key layout, drawn from `seed` (randomStateDict: every
 * parameter non-zero, so every part of the decoder moves the image), for fixtures and benchmarks.
 */
export function randomDecoderWeights(config: DecoderConfig | DecoderArchitecture, seed: number): Map<string, StoredTensor> {
  const full: DecoderConfig = { keyLayout: 'diffusers', ...config };
  return randomStateDict(paramShapes(decoderParamSpecs(planDecoder(full))), seed);
}
