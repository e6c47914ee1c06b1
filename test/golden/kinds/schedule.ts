/** Kind `schedule`: the kept timesteps and every float64 array of the spaced process. */
import { createProcess, parseDiffusionConfig } from '@diffq/diffusion';
import type { KindRunner } from '../case.ts';
import { checkDerived } from './diffusion-derived.ts';

export const run: KindRunner = async (c) => {
  const config = parseDiffusionConfig(c.json.diffusion);
  const p = createProcess(config);
  checkDerived(c, config, p);
  return {
    use_timesteps: p.timestepMap,
    base_betas: p.baseBetas,
    betas: p.betas,
    alphas_cumprod: p.alphasCumprod,
    alphas_cumprod_prev: p.alphasCumprodPrev,
    alphas_cumprod_next: p.alphasCumprodNext,
    sqrt_alphas_cumprod: p.sqrtAlphasCumprod,
    sqrt_one_minus_alphas_cumprod: p.sqrtOneMinusAlphasCumprod,
    log_one_minus_alphas_cumprod: p.logOneMinusAlphasCumprod,
    sqrt_recip_alphas_cumprod: p.sqrtRecipAlphasCumprod,
    sqrt_recipm1_alphas_cumprod: p.sqrtRecipm1AlphasCumprod,
    posterior_variance: p.posteriorVariance,
    posterior_log_variance_clipped: p.posteriorLogVarianceClipped,
    posterior_mean_coef1: p.posteriorMeanCoef1,
    posterior_mean_coef2: p.posteriorMeanCoef2,
  };
};
