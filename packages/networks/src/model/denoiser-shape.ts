/**
 * What a sampler and a benchmark need to know of a denoiser, whichever network it is: the tensors it
 * takes and gives. A pixel UNet's samples are images; a DiT's are latents, which its decoder turns
 * into images.
 */
import { planDiT } from '../dit/dit-plan.ts';
import type { DenoiserDirectory, DiTDirectory } from './model-directory.ts';

export interface DenoiserShape {
  /** C of the samples x [N, C, S, S]. */
  inChannels: number;
  /** S of the samples x [N, C, S, S]. */
  imageSize: number;
  /** Channels of the network output: C, or 2C with learned variances. */
  outChannels: number;
  /** Rows of the label table (the null label's row included), or null for an unconditional network. */
  numClasses: number | null;
}

export function denoiserShape(dir: DenoiserDirectory | DiTDirectory): DenoiserShape {
  if (dir.architecture === 'adm-unet') {
    const { inChannels, imageSize, outChannels, numClasses } = dir.unet;
    return { inChannels, imageSize, outChannels, numClasses };
  }
  const plan = planDiT(dir.dit);
  return { inChannels: dir.dit.in_channels, imageSize: dir.dit.input_size, outChannels: plan.outChannels, numClasses: plan.labelRows };
}
