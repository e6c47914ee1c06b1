import { initBackend } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import { DiffusionTrainer } from '../src/training/trainer.ts';
await initBackend();
const [nc, mult, nrb, bs, attn] = process.argv.slice(2);
const spec = { model: { image_size: 28, in_channels: 1, num_channels: Number(nc), channel_mult: mult, num_res_blocks: Number(nrb), attention_resolutions: attn ?? '7', num_head_channels: 32, use_scale_shift_norm: true, use_new_attention_order: true, class_cond: true, num_classes: 11, learn_sigma: false }, diffusion: { steps: 1000, noise_schedule: 'cosine', input_perturbation: 0.1 }, nullLabel: 10 };
const count = 256;
const pixels = new Uint8Array(count * 784).map((_, i) => (i * 37) % 256);
const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
const tr = DiffusionTrainer.create(spec, { pixels, labels, imageShape: [1, 28, 28], count }, { batchSize: Number(bs), lr: 2e-4, weightDecay: 0, emaRate: 0.999, classDropout: 0.1, gradClip: null, seed: 0 });
const times: number[] = [];
for (let i = 0; i < 6; i++) { const t0 = performance.now(); const r = tr.trainStep(); times.push(performance.now() - t0); if (i === 5) console.log('loss', r.loss.toFixed(4), 'tensors', tf.memory().numTensors); }
console.log(`nc=${nc} mult=${mult} nrb=${nrb} bs=${bs} attn=${attn ?? '7'} step ms: ${times.map((t) => t.toFixed(0)).join(' ')}`);
