/**
 * UNet forward speed on the loaded tfjs backend, for a CIFAR-size ADM (the DDPM-IP CIFAR-10 layout at
 * half width: 64 channels, mult 1,2,2,2, 2 res blocks, attention at 16×16, 32 channels per head,
 * scale-shift norm, resblock up/down, new attention order, learned sigma) with random weights.
 * Prints ms per forward and sample-steps per second (one sample through one denoiser step) at
 * batch 1, 8 and 32; on the pure-JS cpu backend at batch 1 only, which already takes minutes.
 */

import {
  createUNet,
  describeBackend,
  initBackend,
  parseUNetConfig,
  randomStateDict,
  TfjsEngine,
  unetParameterCount,
  unetParameterShapes,
} from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';

const CIFAR_SIZE = {
  image_size: 32,
  num_channels: 64,
  num_res_blocks: 2,
  channel_mult: '1,2,2,2',
  attention_resolutions: '16',
  num_head_channels: 32,
  use_scale_shift_norm: true,
  resblock_updown: true,
  use_new_attention_order: true,
  learn_sigma: true,
};

/** Each batch size is timed for about this long (at least two forwards) after one warm-up forward. */
const SECONDS_PER_BATCH = 6;

export async function benchUnet(): Promise<void> {
  const backend = await initBackend();
  const config = parseUNetConfig(CIFAR_SIZE);
  console.log(`unet: ${describeBackend(backend)}`);
  console.log(`unet: CIFAR-size ADM ${JSON.stringify(CIFAR_SIZE)}, ${(unetParameterCount(config) / 1e6).toFixed(2)}M parameters`);
  const engine = new TfjsEngine(createUNet(config, randomStateDict(unetParameterShapes(config), 0)));
  const batches = backend.tfBackend === 'cpu' ? [1] : [1, 8, 32];
  try {
    for (const n of batches) {
      const x = tf.randomNormal([n, 3, 32, 32], 0, 1, 'float32', n) as tf.Tensor4D;
      const t = tf.fill([n], 500) as tf.Tensor1D;
      const once = async () => {
        const out = await engine.forward(x, t);
        await out.data();
        out.dispose();
      };
      const warm = performance.now();
      await once();
      const warmMs = performance.now() - warm;
      const runs = Math.max(2, Math.min(20, Math.round((SECONDS_PER_BATCH * 1000) / warmMs)));
      const start = performance.now();
      for (let i = 0; i < runs; i++) await once();
      const ms = (performance.now() - start) / runs;
      console.log(
        `unet: batch ${String(n).padStart(2)}  ${ms.toFixed(1).padStart(8)} ms/forward  ${((n * 1000) / ms).toFixed(2).padStart(7)} sample-steps/s  (${runs} runs, first ${warmMs.toFixed(0)} ms)`,
      );
      tf.dispose([x, t]);
    }
  } finally {
    engine.dispose();
  }
}
