/**
 * What a shard size that is not a multiple of the batch size costs. The worker cuts each shard
 * into micro-batches of the batch size B, so a shard of S = k·B + r seeds runs k full forwards and
 * one of r per step. Forwards of B and of each remainder r are timed side by side (onnx, the
 * CIFAR-size ADM), and each case's throughput is compared with full micro-batches:
 * loss = 1 − (S · t(B) / B) / (k · t(B) + t(r)).
 * Beside it, the loss where a forward costs the same whatever its batch (a GPU below saturation):
 * 1 − S / (⌈S / B⌉ · B).
 *
 * Options: --batch 32  --rounds 5
 */
import { initBackend } from '@diffq/diffusion';
import { median, openEngine, timedForward, WARMUP_FORWARDS } from '@diffq/onnx';
import { cifarSizeModel } from './cifar-config.ts';
import { loadLine, numberOption } from './options.ts';

const LIMIT = 0.02;

export async function benchPacking(): Promise<void> {
  const batch = numberOption('batch', 32);
  const rounds = numberOption('rounds', 5, 3);
  // Shard sizes: the default (256), and ones leaving 1, 4, B/2 and B−1 seeds in the last micro-batch.
  const shardSizes = [256, 8 * batch + 1, 3 * batch + 4, batch + batch / 2, 4 * batch - 1].filter((s, i, all) => all.indexOf(s) === i);
  const remainders = [...new Set(shardSizes.map((s) => s % batch).filter((r) => r > 0))];
  await initBackend();
  const { config, weights, summary } = cifarSizeModel();
  const { engine } = await openEngine({ modelConfig: config, weights, engine: 'onnx' });
  const sizes = [batch, ...remainders];
  const forwards = sizes.map((b) => timedForward(engine, config, b));
  try {
    for (let i = 0; i < WARMUP_FORWARDS; i++) for (const f of forwards) await f.once();
    const times: number[][] = sizes.map(() => []);
    for (let r = 0; r < rounds; r++) for (const [i, f] of forwards.entries()) times[i].push(await f.once());
    const ms = new Map(sizes.map((b, i) => [b, median(times[i])]));
    const full = ms.get(batch) as number;
    console.log(
      `packing: ${summary}; onnx forward ms by batch: ${sizes.map((b) => `${b}: ${(ms.get(b) as number).toFixed(1)}`).join(', ')}`,
    );
    let worst = 0;
    for (const s of shardSizes) {
      const k = Math.floor(s / batch);
      const r = s % batch;
      const actual = k * full + (r > 0 ? (ms.get(r) as number) : 0);
      const loss = 1 - (s * full) / batch / actual;
      const flatLoss = 1 - s / (Math.ceil(s / batch) * batch);
      worst = Math.max(worst, loss);
      console.log(
        `packing: shard ${String(s).padStart(4)} at batch ${batch} (last micro-batch ${r || batch}): throughput loss ${(loss * 100).toFixed(1)} % on this CPU, ${(flatLoss * 100).toFixed(1)} % where a forward costs the same whatever its batch`,
      );
    }
    console.log(
      `packing: worst measured loss ${(worst * 100).toFixed(1)} % (limit ${LIMIT * 100} %: ${worst <= LIMIT ? 'within' : 'EXCEEDED'}); ${loadLine()}`,
    );
  } finally {
    for (const f of forwards) f.dispose();
    engine.dispose();
  }
}
