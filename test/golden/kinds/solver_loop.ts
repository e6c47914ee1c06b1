/**
 * Kind `solver_loop`: a whole DPM-Solver++ or UniPC loop from the case's x_T on its UNet, with the
 * case's guidance. x_steps is x_T followed by every step's x; t_inputs is what the network received at
 * each evaluation, recorded at the engine.
 */
import {
  createProcess,
  type DenoiserEngine,
  dpmSolverOrders,
  type Guidance,
  InjectedNoise,
  parseDiffusionConfig,
  runSampler,
  type SamplerSettings,
  type Shape4,
  type SkipType,
  type UniPCVariant,
  uniPcOrders,
} from '@diffq/diffusion';
import { classifierGradient, createClassifier, parseClassifierConfig } from '@diffq/networks';
import type { KindRunner } from '../case.ts';
import { caseEngine } from './case-engine.ts';
import { indices } from './case-tensors.ts';

interface SolverSampler {
  solver: 'dpm_solver' | 'unipc';
  variant?: UniPCVariant;
  order: number;
  steps: number;
  skip_type: SkipType;
  lower_order_final: boolean;
  denoise_to_zero: boolean;
  correcting_x0_fn: null | 'dynamic_thresholding';
  dynamic_thresholding_ratio?: number;
  thresholding_max_val?: number;
  step_orders: number[];
  shape: Shape4;
  guidance:
    | { type: 'uncond'; model_receives_y: boolean }
    | { type: 'classifier-free'; guidance_scale: number; unconditional_condition: number }
    | { type: 'classifier'; guidance_scale: number; model_receives_y: boolean };
}

/** The engine, recording the (first) timestep of every forward pass. */
function recording(engine: DenoiserEngine, seen: number[]): DenoiserEngine {
  return {
    name: engine.name,
    description: engine.description,
    provider: engine.provider,
    async forward(x, timesteps, y) {
      seen.push((await timesteps.data())[0]);
      return engine.forward(x, timesteps, y);
    },
    dispose: () => engine.dispose(),
  };
}

export const run: KindRunner = async (c, ctx) => {
  const process = createProcess(parseDiffusionConfig(c.json.diffusion));
  const s = c.json.sampler as unknown as SolverSampler;
  if (!s.lower_order_final) throw new Error(`case ${c.json.name}: lower_order_final false is not a diffq setting`);
  const orders = s.solver === 'unipc' ? uniPcOrders(s.order, s.steps) : dpmSolverOrders(s.order, s.steps);
  if (orders.join() !== s.step_orders.join()) throw new Error(`step orders: case ${s.step_orders}, diffq ${orders}`);
  const common = {
    order: s.order,
    steps: s.steps,
    skipType: s.skip_type,
    denoiseToZero: s.denoise_to_zero,
    // The official correcting_x0_fn is one function: these cases pin no correction or the thresholding alone.
    clipDenoised: false,
    dynamicThreshold:
      s.correcting_x0_fn === 'dynamic_thresholding'
        ? { ratio: s.dynamic_thresholding_ratio ?? Number.NaN, maxValue: s.thresholding_max_val ?? Number.NaN }
        : undefined,
  };
  const sampler: SamplerSettings =
    s.solver === 'unipc' ? { kind: 'unipc', variant: s.variant ?? 'bh1', ...common } : { kind: 'dpm-solver++', ...common };

  const y = c.json.inputs.includes('y') ? Int32Array.from(indices(c, 'y')) : undefined;
  const g = s.guidance;
  const classifier =
    g.type === 'classifier' ? createClassifier(parseClassifierConfig(c.json.classifier, 'classifier'), c.weights('classifier')) : undefined;
  let guidance: Guidance = { type: 'none' };
  // The official CFG scale s multiplies (ε_c − ε_u): s = 1 + w in guided-diffusion's (1 + w)·ε_c − w·ε_u.
  if (g.type === 'classifier-free') guidance = { type: 'classifier_free', w: g.guidance_scale - 1, nullLabel: g.unconditional_condition };
  if (g.type === 'classifier' && classifier) {
    if (!y) throw new Error(`case ${c.json.name}: classifier guidance without input y`);
    const scale = g.guidance_scale;
    guidance = { type: 'classifier', labels: y, condFn: async (x, t, labels) => classifierGradient(classifier, x, t, labels, scale) };
  }
  const modelReceivesY = g.type === 'classifier-free' || g.model_receives_y;

  const tInputs: number[] = [];
  const engine = recording(await caseEngine(c, ctx), tInputs);
  const xT = c.tensor('x_T').data as Float32Array;
  const xSteps: Float32Array[] = [xT];
  try {
    const sample = await runSampler(
      {
        engine,
        process,
        noise: new InjectedNoise(xT, new Float32Array(0), s.shape),
        shape: s.shape,
        labels: modelReceivesY ? y : undefined,
        guidance,
        onStep: async (step) => {
          xSteps.push((await step.x.data()) as Float32Array);
        },
      },
      sampler,
    );
    const data = (await sample.data()) as Float32Array;
    sample.dispose();
    const flat = new Float32Array(xSteps.length * xT.length);
    for (const [k, x] of xSteps.entries()) flat.set(x, k * xT.length);
    return { sample: data, x_steps: flat, t_inputs: Float32Array.from(tInputs) };
  } finally {
    engine.dispose();
    classifier?.dispose();
  }
};
