/**
 * A decoder directory: the KL autoencoder a latent model decodes with (docs/models.md, "The
 * autoencoder"). It holds `config.json` and one weights file:
 * - diffusers, as downloaded (`stabilityai/sd-vae-ft-ema`, `sd-vae-ft-mse`): config.json (AutoencoderKL's
 *   config) + `diffusion_pytorch_model.safetensors` (encoder keys present and ignored);
 * - LDM / CompVis: config.json `{ "embed_dim", "ddconfig", "scaling_factor"? }` + `weights.safetensors`
 *   with ldm's AutoencoderKL keys, bare or behind `first_stage_model.` (a whole SD checkpoint works).
 * Either config form goes with either key layout; the keys decide the layout. The digest (sha256 of
 * the weights file) is how a run pins the decoder, as it pins the denoiser.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, type StoredTensor } from '../weights/safetensors.ts';
import { type DecoderConfig, parseDecoderConfig } from './decoder-config.ts';
import { checkDecoderWeights, decoderStateDict } from './decoder-weights.ts';

export const DECODER_CONFIG_FILE = 'config.json';
/** The weights file names a decoder directory may hold, in the order they are looked for. */
export const DECODER_WEIGHTS_FILES = ['diffusion_pytorch_model.safetensors', 'weights.safetensors'] as const;

export interface DecoderDirectory {
  dir: string;
  config: DecoderConfig;
  /** The decode-side state_dict in `config.keyLayout`, checked against the plan. */
  weights: ReadonlyMap<string, StoredTensor>;
  /** sha256 hex of the weights file. */
  digest: string;
  /** The weights file's name inside `dir`. */
  weightsFile: string;
}

/**
 * Parses a decoder directory from its files' contents (pure); `dir` only names them in errors.
 * Throws naming the file and the field or key that is wrong.
 */
export function parseDecoderDirectory(dir: string, configText: string, weightsFile: string, weightsBytes: Uint8Array): DecoderDirectory {
  const configPath = join(dir, DECODER_CONFIG_FILE);
  const weightsPath = join(dir, weightsFile);
  let raw: unknown;
  try {
    raw = JSON.parse(configText);
  } catch (e) {
    throw new Error(`${configPath} is not valid JSON (${(e as Error).message})`);
  }
  const architecture = parseDecoderConfig(raw, configPath);
  let tensors: Map<string, StoredTensor>;
  try {
    tensors = readSafetensors(weightsBytes).tensors;
  } catch (e) {
    throw new Error(`${weightsPath}: ${(e as Error).message}`);
  }
  const { keyLayout, weights } = decoderStateDict(tensors, weightsPath);
  const config: DecoderConfig = { ...architecture, keyLayout };
  checkDecoderWeights(config, weights, weightsPath);
  const digest = createHash('sha256').update(weightsBytes).digest('hex');
  return { dir, config, weights, digest, weightsFile };
}

/** The directory's weights file: exactly one of DECODER_WEIGHTS_FILES. */
function weightsFileOf(dir: string): string {
  const present = DECODER_WEIGHTS_FILES.filter((f) => existsSync(join(dir, f)));
  if (present.length === 1) return present[0];
  if (present.length > 1) {
    throw new Error(`decoder directory ${dir} holds both ${present.join(' and ')}; accepted: exactly one weights file`);
  }
  const bin = existsSync(join(dir, 'diffusion_pytorch_model.bin'))
    ? ` It holds diffusion_pytorch_model.bin: convert it with python -c "import torch, safetensors.torch as st; st.save_file(torch.load('diffusion_pytorch_model.bin', map_location='cpu'), 'diffusion_pytorch_model.safetensors')".`
    : '';
  throw new Error(`decoder directory ${dir} has no weights file; accepted: ${DECODER_WEIGHTS_FILES.join(' or ')}.${bin}`);
}

export async function readDecoderDirectory(dir: string): Promise<DecoderDirectory> {
  const configPath = join(dir, DECODER_CONFIG_FILE);
  if (!existsSync(configPath)) {
    throw new Error(
      `decoder directory ${dir} has no ${DECODER_CONFIG_FILE}; a decoder directory holds ${DECODER_CONFIG_FILE} and ${DECODER_WEIGHTS_FILES.join(' or ')}`,
    );
  }
  const weightsFile = weightsFileOf(dir);
  const [configText, weights] = await Promise.all([readFile(configPath, 'utf8'), readFile(join(dir, weightsFile))]);
  return parseDecoderDirectory(dir, configText, weightsFile, new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
}
