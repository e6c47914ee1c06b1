/**
 * vae_decode: the KL decoder of the case's `vae` (ldm ddconfig + embed_dim, the same decoder in either
 * key layout) with its `vae.*` weights, from `latents` to `images` and DiT's `uint8`. The decoder runs
 * on onnxruntime only (as the feature networks do), so both `--engine` runs check the onnx graph.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DecoderDirectory, decoderStateDict, parseLdmDecoderConfig } from '@diffq/networks';
import { openDecoder } from '@diffq/onnx';
import type { GoldenCase, KindRunner, Outputs } from '../case.ts';

interface CaseVae {
  naming: 'ldm' | 'diffusers';
  ddconfig: unknown;
  embed_dim: number;
}

/** The case as a decoder directory: the ldm config of `vae`, the `vae.*` weights, the layout from their keys. */
export function caseDecoderDirectory(c: GoldenCase): DecoderDirectory {
  const vae = c.json.vae as CaseVae;
  const architecture = parseLdmDecoderConfig(
    { embed_dim: vae.embed_dim, ddconfig: vae.ddconfig, scaling_factor: c.json.scaling_factor },
    `case ${c.json.name} vae`,
  );
  const file = join(c.dir, 'tensors.safetensors');
  const { keyLayout, weights } = decoderStateDict(c.weights('vae'), `case ${c.json.name} vae.*`);
  if (keyLayout !== vae.naming) throw new Error(`case ${c.json.name}: vae.naming is ${vae.naming} but the keys are ${keyLayout}'s`);
  const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { dir: c.dir, config: { ...architecture, keyLayout }, weights, digest, weightsFile: 'tensors.safetensors' };
}

/** Decodes `latents` [N, C, h, w] of the case on onnx: `images` (NCHW) and `uint8` (NHWC). */
export async function decodeOnnx(directory: DecoderDirectory, latents: Float32Array, shape: number[]): Promise<Outputs> {
  const decoder = await openDecoder(directory, { cache: false });
  try {
    const [n, , h, w] = shape;
    const { images, uint8 } = await decoder.decodeImages(latents, n, h, w);
    return { images, uint8 };
  } finally {
    await decoder.dispose();
  }
}

export const run: KindRunner = async (c) => {
  const latents = c.tensor('latents');
  return decodeOnnx(caseDecoderDirectory(c), Float32Array.from(latents.data as Float32Array), latents.shape);
};
