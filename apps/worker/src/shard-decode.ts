/**
 * The decode phase of a latent model's shard (docs/latent-models.md): the sampled latents, in seed
 * order, through the model's decoder in micro-batches of --decode-batch. Each image depends only on
 * its own latent, so the decode batch never changes an image; it bounds the decoder's activations,
 * which at 256² are far larger than the denoiser's. Between two decoder micro-batches the loop yields
 * to the event loop (BullMQ's lock renewal) and checks the job's abort signal.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { LatentDecoder } from './model-runtime.ts';
import { type SampledLatents, type SampledShard, SamplingAborted } from './shard-sampler.ts';

export async function decodeShard(
  decoder: LatentDecoder,
  shard: SampledLatents,
  options: { decodeBatch: number; signal?: AbortSignal },
): Promise<SampledShard> {
  const [n, c, h, w] = shard.latentShape;
  const latentSize = c * h * w;
  const parts: Uint8Array[] = [];
  let imageShape: [number, number, number, number] | undefined;
  for (let start = 0; start < n; start += options.decodeBatch) {
    const rows = Math.min(options.decodeBatch, n - start);
    const decoded = await decoder.decode(shard.latents.subarray(start * latentSize, (start + rows) * latentSize), rows, h, w);
    const perImage = decoded.length / rows;
    imageShape ??= [n, ...decoder.imageShape(h, w)];
    if (perImage !== imageShape[1] * imageShape[2] * imageShape[3]) {
      throw new Error(`the decoder returned ${decoded.length} values for ${rows} latents; expected ${rows} × [${imageShape.slice(1)}]`);
    }
    parts.push(decoded);
    await yieldToEventLoop();
    if (options.signal?.aborted) throw new SamplingAborted(String(options.signal.reason ?? 'aborted'));
  }
  if (!imageShape) throw new Error('decodeShard: a shard without latents');
  const images = new Uint8Array(imageShape[0] * imageShape[1] * imageShape[2] * imageShape[3]);
  let offset = 0;
  for (const p of parts) {
    images.set(p, offset);
    offset += p.length;
  }
  return { images, imageShape, labels: shard.labels };
}
