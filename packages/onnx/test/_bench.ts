import * as ort from 'onnxruntime-node';
import { parseUNetConfig, randomStateDict, unetParameterShapes } from '@diffq/diffusion';
import { buildUNetOnnx } from '../src/unet-graph.ts';

const cfg = parseUNetConfig({ image_size: 32, num_channels: 64, channel_mult: '1,2,2,2', num_res_blocks: 2, attention_resolutions: '16', num_head_channels: 32, use_scale_shift_norm: true, resblock_updown: true, use_new_attention_order: true, learn_sigma: true });
const rec = randomStateDict(unetParameterShapes(cfg), 0);
let t0 = performance.now();
const bytes = buildUNetOnnx(cfg, rec);
console.log('params', [...rec.values()].reduce((a, t) => a + t.data.length, 0), 'build ms', performance.now() - t0, 'bytes', bytes.length);
const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: (process.env.LEVEL ?? 'all') as 'all', intraOpNumThreads: 2, executionMode: 'sequential', ...(process.env.PROFILE ? { enableProfiling: true, profileFilePrefix: '/tmp/onnxh/prof' } : {}), ...(process.env.OPT ? { optimizedModelFilePath: '/tmp/onnxh/opt.onnx' } : {}) };
t0 = performance.now();
const s = await ort.InferenceSession.create(bytes, opts);
console.log('session ms', performance.now() - t0);
for (const n of (process.env.BATCHES ?? '1,8,32').split(',').map(Number)) {
  const x = new ort.Tensor('float32', Float32Array.from({ length: n * 3 * 32 * 32 }, () => Math.random() * 2 - 1), [n, 3, 32, 32]);
  const t = new ort.Tensor('float32', Float32Array.from({ length: n }, () => Math.floor(Math.random() * 1000)), [n]);
  await s.run({ x, t });
  const times = [];
  for (let r = 0; r < Number(process.env.REPEAT ?? 3); r++) { const a = performance.now(); await s.run({ x, t }); times.push(performance.now() - a); }
  times.sort((a, b) => a - b);
  console.log('batch', n, 'min', times[0].toFixed(1), 'median ms', times[Math.floor(times.length / 2)].toFixed(1), times.map((v) => v.toFixed(0)).join(' '));
}
if (process.env.PROFILE) console.log(s.endProfiling());
