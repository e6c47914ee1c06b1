import * as tf from '@tensorflow/tfjs';
import { createUNet, initBackend, parseUNetConfig, randomStateDict, unetForward, unetParameterShapes } from '@diffq/diffusion';
await initBackend();
const config = parseUNetConfig({ image_size: 32, num_channels: 64, num_res_blocks: 2, channel_mult: '1,2,2,2', attention_resolutions: '16', num_head_channels: 32, use_scale_shift_norm: true, resblock_updown: true, use_new_attention_order: true, learn_sigma: true });
const unet = createUNet(config, randomStateDict(unetParameterShapes(config), 0));
const n = Number(process.argv[2] ?? 4);
const x = tf.randomNormal([n, 3, 32, 32]) as tf.Tensor4D; const t = tf.fill([n], 500) as tf.Tensor1D;
tf.tidy(() => unetForward(unet, x, t)).dispose();
const info = await tf.profile(() => tf.tidy(() => unetForward(unet, x, t)));
const by = new Map<string, [number, number]>();
let total = 0;
for (const k of info.kernels) { const ms = await (k.kernelTimeMs as any); const e = by.get(k.name) ?? [0, 0]; e[0] += ms; e[1]++; by.set(k.name, e); total += ms; }
console.log('total kernel ms', total.toFixed(0));
console.log([...by].sort((a, b) => b[1][0] - a[1][0]).slice(0, 15).map(([k, [ms, c]]) => `${k.padEnd(20)} ${ms.toFixed(1).padStart(8)} ms  x${c}`).join('\n'));
const list = [];
for (const k of info.kernels) list.push([await (k.kernelTimeMs as any), k.name, JSON.stringify(k.inputShapes)]);
list.sort((a, b) => b[0] - a[0]);
console.log(list.slice(0, 25).map((r) => `${r[0].toFixed(1).padStart(7)} ${r[1].padEnd(14)} ${r[2]}`).join('\n'));
