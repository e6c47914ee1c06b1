import * as ort from 'onnxruntime-node';
import { parseUNetConfig, randomStateDict, unetParameterShapes } from '@diffq/diffusion';
import { buildUNetOnnx } from '../src/unet-graph.ts';
const cfg = parseUNetConfig({ image_size: 32, num_channels: 64, channel_mult: '1,2,2,2', num_res_blocks: 2, attention_resolutions: '16', num_head_channels: 32, use_scale_shift_norm: true, resblock_updown: true, use_new_attention_order: true, learn_sigma: true });
const rec = randomStateDict(unetParameterShapes(cfg), 0);
const variants: Record<string, [Uint8Array, ort.InferenceSession.SessionOptions]> = {};
const base: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 2 };
for (const v of (process.env.VARIANTS ?? 'std,mha').split(',')) {
  if (v.includes('mha')) process.env.MHA = '1'; else delete process.env.MHA;
  const opts = { ...base };
  if (v.includes('ext')) opts.graphOptimizationLevel = 'extended';
  if (v.includes('nospin')) opts.extra = { session: { intra_op: { allow_spinning: '0' } } };
  if (v.includes('t1')) opts.intraOpNumThreads = 1;
  variants[v] = [buildUNetOnnx(cfg, rec), opts];
}
const sessions: Record<string, ort.InferenceSession> = {};
for (const [v, [bytes, opts]] of Object.entries(variants)) sessions[v] = await ort.InferenceSession.create(bytes, opts);
const n = Number(process.env.BATCH ?? 32);
const x = new ort.Tensor('float32', Float32Array.from({ length: n * 3 * 32 * 32 }, () => Math.random() * 2 - 1), [n, 3, 32, 32]);
const t = new ort.Tensor('float32', Float32Array.from({ length: n }, () => Math.floor(Math.random() * 1000)), [n]);
const times: Record<string, number[]> = {};
const outs: Record<string, Float32Array> = {};
for (const v in sessions) outs[v] = (await sessions[v].run({ x, t })).out.data as Float32Array;
for (let r = 0; r < Number(process.env.REPEAT ?? 5); r++) for (const v in sessions) { const a = performance.now(); await sessions[v].run({ x, t }); (times[v] ??= []).push(performance.now() - a); }
const first = Object.keys(outs)[0];
for (const v in sessions) { const s = times[v].sort((a, b) => a - b); let d = 0, nn = 0; for (let i = 0; i < outs[v].length; i++) { d += (outs[v][i] - outs[first][i]) ** 2; nn += outs[first][i] ** 2; } console.log(v, 'batch', n, 'min', s[0].toFixed(0), 'median', s[Math.floor(s.length / 2)].toFixed(0), 'rel vs first', Math.sqrt(d / nn).toExponential(2)); }
