/** The denoiser of a golden case (`model` + `model.*` weights) on the engine the run asked for. */
import type { DenoiserEngine } from '@diffq/diffusion';
import { createUNet, parseUNetConfig, TfjsEngine } from '@diffq/networks';
import { openEngine } from '@diffq/onnx';
import { type GoldenCase, NotImplemented, type RunContext } from '../case.ts';

export async function caseEngine(c: GoldenCase, ctx: RunContext): Promise<DenoiserEngine> {
  if (ctx.engine === 'onnx')
    return (await openEngine({ modelConfig: parseUNetConfig(c.json.model), weights: c.weights('model'), engine: 'onnx' })).engine;
  if (ctx.engine !== 'tfjs') throw new NotImplemented(`kind ${c.json.kind} has no ${ctx.engine} engine yet`);
  return new TfjsEngine(createUNet(parseUNetConfig(c.json.model), c.weights('model'), `case ${c.json.name} model.*`));
}
