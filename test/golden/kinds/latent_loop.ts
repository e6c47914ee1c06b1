/**
 * latent_loop: a whole run as DiT's sample.py / sample_ddp.py do it — DiT + DiT's create_diffusion
 * (linear, 1000 steps, learned-range sigma, respaced), DDPM or DDIM without clipping, classifier-free
 * guidance on the first 3 ε channels (or all of them, the variant), then the KL decoder and the uint8
 * conversion. diffq carries only the N kept rows: the null half of DiT's doubled batch never reaches
 * them (test/golden/cases/README.md, latent_loop), so the kept rows take noise_steps[i][:N].
 * DiT runs on the leg's engine (tfjs or onnx); the decoder on onnxruntime in both, as vae_decode does.
 */
import { createProcess, type Guidance, InjectedNoise, parseDiffusionConfig, runSampler, type SamplerSettings } from '@diffq/diffusion';
import { parseDiTConfig } from '@diffq/networks';
import { openEngine } from '@diffq/onnx';
import type { GoldenCase, Outputs } from '../case.ts';
import { indices } from './case-tensors.ts';
import { checkDerived } from './diffusion-derived.ts';
import { caseDecoderDirectory, decodeOnnx } from './vae_decode.ts';

interface LatentSampler {
  loop: 'p_sample_loop' | 'ddim_sample_loop';
  eta: number | null;
  clip_denoised: boolean;
  batch_size: number;
  guidance: { type: 'forward_with_cfg'; cfg_scale: number; null_label: number; guided_channels: number } | { type: 'none' };
}

/** DiT's create_diffusion arguments as guided-diffusion's create_gaussian_diffusion names them (DiT has no timestep rescaling). */
function diffusionArgs(d: Record<string, unknown>): Record<string, unknown> {
  const { function: _function, derived: _derived, diffusion_steps, ...rest } = d;
  return { ...rest, steps: diffusion_steps, rescale_timesteps: false };
}

/** Rows [0, n) of every step's draw [S, B, ...sample], i.e. noise_steps[:, :n]. */
function keptRows(steps: Float32Array, stepCount: number, rows: number, n: number): Float32Array {
  const perRow = steps.length / stepCount / rows;
  const out = new Float32Array(stepCount * n * perRow);
  for (let i = 0; i < stepCount; i++) out.set(steps.subarray(i * rows * perRow, (i * rows + n) * perRow), i * n * perRow);
  return out;
}

export async function run(c: GoldenCase, ctx: { engine: string }): Promise<Outputs> {
  const config = parseDiffusionConfig(diffusionArgs(c.json.diffusion ?? {}), `case ${c.json.name} diffusion`);
  const process = createProcess(config);
  checkDerived(c, config, process);
  const s = c.json.sampler as unknown as LatentSampler;
  const sampler: SamplerSettings =
    s.loop === 'p_sample_loop'
      ? { kind: 'ddpm', clipDenoised: s.clip_denoised }
      : { kind: 'ddim', eta: s.eta ?? 0, clipDenoised: s.clip_denoised };
  const z = c.tensor('z');
  const [n, ch, h, w] = z.shape;
  const noiseSteps = c.tensor('noise_steps');
  const [stepCount, rows] = noiseSteps.shape;
  const labels = Int32Array.from(indices(c, 'y'));
  // DiT's cfg_scale s is u + s·(c − u) = (1 + w)·c − w·u: guided-diffusion's (and diffq's) w = s − 1.
  const guidance: Guidance =
    s.guidance.type === 'forward_with_cfg'
      ? {
          type: 'classifier_free',
          w: s.guidance.cfg_scale - 1,
          nullLabel: s.guidance.null_label,
          guidedChannels: s.guidance.guided_channels,
        }
      : { type: 'none' };
  const { engine } = await openEngine({
    architecture: 'dit',
    modelConfig: parseDiTConfig(c.json.model),
    weights: c.weights('model'),
    engine: ctx.engine as 'onnx' | 'tfjs',
  });
  let sampleLatents: Float32Array;
  try {
    const noise = new InjectedNoise(
      Float32Array.from(z.data as Float32Array),
      keptRows(noiseSteps.data as Float32Array, stepCount, rows, n),
      [n, ch, h, w],
    );
    const x0 = await runSampler({ engine, process, noise, shape: [n, ch, h, w], labels, guidance }, sampler);
    sampleLatents = (await x0.data()) as Float32Array;
    x0.dispose();
  } finally {
    engine.dispose();
  }
  const decoded = await decodeOnnx(caseDecoderDirectory(c), sampleLatents, [n, ch, h, w]);
  return { sample_latents: sampleLatents, ...decoded };
}
