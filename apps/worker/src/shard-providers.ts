/**
 * What ran each network of a shard (denoiser, a latent model's decoder, a run's feature network):
 * the shard's `providers` where it records them, else what its `engine` text says, for shards
 * written before diffq recorded them.
 */
import type { ShardMeta, ShardProviders } from '@diffq/contract';

/** Joins a latent model's denoiser and decoder descriptions in a shard's `engine`. */
const DECODER_SEPARATOR = '; decoder ';

/** A shard's `engine`: the denoiser's description, and a latent model's decoder's after it. */
export function shardEngine(denoiser: string, decoder?: string): string {
  return decoder === undefined ? denoiser : `${denoiser}${DECODER_SEPARATOR}${decoder}`;
}

/**
 * What runs an engine's forward passes, read from its description: the onnx execution provider or
 * the tfjs backend, which every denoiser engine's description ends with ("onnxruntime-node 1.22.0
 * cuda", "tfjs wasm"); a cuda request that fell back reads "cpu".
 */
export function providerOf(description: string): string {
  const words = description
    .replace(/\s*\(.*\)\s*$/, '')
    .trim()
    .split(/\s+/);
  return words[words.length - 1] || 'unknown';
}

/**
 * The shard's providers. An older shard has only its engine text: the denoiser's provider ends the
 * part before the decoder's description (which ends with where its graph came from, not a provider),
 * and the decoder's description opens with "onnxruntime-node <version> <provider>"; what ran its
 * features it never said.
 */
export function shardProviders(meta: Pick<ShardMeta, 'engine' | 'providers'>): ShardProviders {
  if (meta.providers) return meta.providers;
  const at = meta.engine.indexOf(DECODER_SEPARATOR);
  if (at < 0) return { denoiser: providerOf(meta.engine) };
  const decoder = /^onnxruntime-node \S+ ([^\s;(]+)/.exec(meta.engine.slice(at + DECODER_SEPARATOR.length))?.[1];
  return { denoiser: providerOf(meta.engine.slice(0, at)), ...(decoder !== undefined && { decoder }) };
}
