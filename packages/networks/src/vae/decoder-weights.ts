/**
 * A decoder's state_dict as users have it, brought to the keys the plan reads: the decode side
 * (`post_quant_conv.*`, `decoder.*`) of a diffusers AutoencoderKL file, an LDM AutoencoderKL, or a
 * whole LDM / Stable Diffusion checkpoint (the autoencoder behind `first_stage_model.`). The key
 * layout is detected from the keys, so config.json need not say it.
 */
import { checkStateDict } from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import type { DecoderConfig, DecoderKeyLayout } from './decoder-config.ts';
import { decoderParamSpecs, planDecoder } from './decoder-plan.ts';

/** The prefix of the autoencoder inside a full LDM / SD checkpoint (LatentDiffusion.first_stage_model). */
export const LDM_FIRST_STAGE_PREFIX = 'first_stage_model.';

/**
 * Attention names of diffusers VAE files saved before diffusers 0.14 (sd-vae-ft-ema / -mse as
 * published), renamed as diffusers renames them at load (_convert_deprecated_attention_blocks).
 */
const DEPRECATED_ATTENTION: [RegExp, string][] = [
  [/\.attentions\.(\d+)\.query\./, '.attentions.$1.to_q.'],
  [/\.attentions\.(\d+)\.key\./, '.attentions.$1.to_k.'],
  [/\.attentions\.(\d+)\.value\./, '.attentions.$1.to_v.'],
  [/\.attentions\.(\d+)\.proj_attn\./, '.attentions.$1.to_out.0.'],
];

const isDecodeSide = (key: string) => key.startsWith('decoder.') || key.startsWith('post_quant_conv.');

export interface DecoderStateDict {
  keyLayout: DecoderKeyLayout;
  /** Only the decode-side keys, without prefix, deprecated attention names renamed. */
  weights: Map<string, StoredTensor>;
}

/**
 * Selects the decode side of `tensors` (encoder, quant_conv, loss and denoiser keys are ignored)
 * and detects its key layout; `file` names the weights file in errors.
 */
export function decoderStateDict(tensors: ReadonlyMap<string, StoredTensor>, file: string): DecoderStateDict {
  const keys = [...tensors.keys()];
  const prefix = keys.some((k) => k.startsWith(LDM_FIRST_STAGE_PREFIX)) ? LDM_FIRST_STAGE_PREFIX : '';
  const weights = new Map<string, StoredTensor>();
  for (const [key, tensor] of tensors) {
    if (!key.startsWith(prefix)) continue;
    let name = key.slice(prefix.length);
    if (!isDecodeSide(name)) continue;
    for (const [from, to] of DEPRECATED_ATTENTION) name = name.replace(from, to);
    weights.set(name, tensor);
  }
  const names = [...weights.keys()];
  const diffusers = names.some((k) => k.startsWith('decoder.up_blocks.') || k.startsWith('decoder.mid_block.'));
  const ldm = names.some((k) => k.startsWith('decoder.up.') || k.startsWith('decoder.mid.'));
  if (diffusers === ldm) {
    const sample = keys
      .slice(0, 3)
      .map((k) => `"${k}"`)
      .join(', ');
    throw new Error(
      diffusers
        ? `${file} mixes diffusers decoder keys (decoder.up_blocks.*, decoder.mid_block.*) and LDM ones (decoder.up.*, decoder.mid.*); accepted: one layout`
        : `${file} has no KL-decoder keys: expected decoder.up_blocks.* / decoder.mid_block.* (diffusers AutoencoderKL) or decoder.up.* / decoder.mid.* (LDM, optionally behind ${LDM_FIRST_STAGE_PREFIX}); its first keys are ${sample || 'none (empty file)'}`,
    );
  }
  return { keyLayout: diffusers ? 'diffusers' : 'ldm', weights };
}

/** Throws naming `file` and the first missing, unexpected or mis-shaped decode-side key. */
export function checkDecoderWeights(config: DecoderConfig, weights: ReadonlyMap<string, StoredTensor>, file: string): void {
  checkStateDict(
    decoderParamSpecs(planDecoder(config)),
    weights,
    file,
    'check config.json: block_out_channels / ddconfig.ch and ch_mult, layers_per_block / num_res_blocks, latent_channels / embed_dim, out_channels / out_ch',
  );
}
