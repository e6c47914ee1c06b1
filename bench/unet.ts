/**
 * UNet forward speed on the loaded tfjs backend, for the CIFAR-size ADM of cifar-config.ts.
 * Prints ms per forward and sample-steps per second (one sample through one denoiser step) at
 * batch 1, 8 and 32; on the pure-JS cpu backend at batch 1 only, which already takes minutes.
 */

import { describeBackend, initBackend } from '@diffq/diffusion';
import { createUNet, TfjsEngine } from '@diffq/networks';
import { timedForward } from '@diffq/onnx';
import { cifarSizeModel } from './cifar-config.ts';

/** Each batch size is timed for about this long (at least two forwards) after one warm-up forward. */
const SECONDS_PER_BATCH = 6;

export async function benchUnet(): Promise<void> {
  const backend = await initBackend();
  const { config, weights, summary } = cifarSizeModel();
  console.log(`unet: ${describeBackend(backend)}`);
  console.log(`unet: ${summary}`);
  const engine = new TfjsEngine(createUNet(config, weights));
  const batches = backend.tfBackend === 'cpu' ? [1] : [1, 8, 32];
  try {
    for (const n of batches) {
      const forward = timedForward(engine, config, n);
      try {
        const warmMs = await forward.once();
        const runs = Math.max(2, Math.min(20, Math.round((SECONDS_PER_BATCH * 1000) / warmMs)));
        let totalMs = 0;
        for (let i = 0; i < runs; i++) totalMs += await forward.once();
        const ms = totalMs / runs;
        console.log(
          `unet: batch ${String(n).padStart(2)}  ${ms.toFixed(1).padStart(8)} ms/forward  ${((n * 1000) / ms).toFixed(2).padStart(7)} sample-steps/s  (${runs} runs, first ${warmMs.toFixed(0)} ms)`,
        );
      } finally {
        forward.dispose();
      }
    }
  } finally {
    engine.dispose();
  }
}
