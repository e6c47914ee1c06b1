/**
 * onnx against tfjs on the CIFAR-size ADM of cifar-config.ts. At batch 1, 8 and 32 the two engines'
 * forwards alternate, so both see the same machine load, and the median ms per forward of each is
 * printed with their ratio (tfjs ms / onnx ms = onnx's throughput in multiples of tfjs's).
 * Target: ≥ 12× at batch 32.
 */
import { availableParallelism, loadavg } from 'node:os';
import { initBackend } from '@diffq/diffusion';
import { median, type OpenedEngine, openEngine, type TimedForward, timedForward, WARMUP_FORWARDS } from '@diffq/onnx';
import { cifarSizeModel } from './cifar-config.ts';

/** Timed forwards per engine at each batch size; fewer where tfjs takes seconds per forward. */
const ROUNDS: Record<number, number> = { 1: 7, 8: 5, 32: 3 };
const TARGET_RATIO_AT_32 = 12;

async function medianMs(forwards: TimedForward[], rounds: number): Promise<number[]> {
  for (let i = 0; i < WARMUP_FORWARDS; i++) for (const f of forwards) await f.once();
  const times: number[][] = forwards.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, f] of forwards.entries()) times[i].push(await f.once());
  return times.map(median);
}

function pad(text: string | number, width: number): string {
  return String(text).padStart(width);
}

export async function benchEngines(): Promise<void> {
  await initBackend();
  const { config, weights, summary } = cifarSizeModel();
  console.log(`engines: ${summary}`);
  const opened: OpenedEngine[] = [];
  try {
    for (const engine of ['onnx', 'tfjs'] as const) {
      const started = performance.now();
      opened.push(await openEngine({ modelConfig: config, weights, engine }));
      console.log(`engines: ${engine} opened in ${((performance.now() - started) / 1000).toFixed(1)} s: ${opened.at(-1)?.why}`);
    }
    const [onnx, tfjs] = opened.map((o) => o.engine);
    console.log(`engines: ${pad('batch', 5)} ${pad('onnx ms', 10)} ${pad('tfjs ms', 10)} ${pad('tfjs/onnx', 10)}`);
    let ratioAt32 = 0;
    for (const batch of [1, 8, 32]) {
      const forwards = [timedForward(onnx, config, batch), timedForward(tfjs, config, batch)];
      try {
        const [onnxMs, tfjsMs] = await medianMs(forwards, ROUNDS[batch]);
        const ratio = tfjsMs / onnxMs;
        if (batch === 32) ratioAt32 = ratio;
        console.log(
          `engines: ${pad(batch, 5)} ${pad(onnxMs.toFixed(1), 10)} ${pad(tfjsMs.toFixed(1), 10)} ${pad(`${ratio.toFixed(1)}×`, 10)}`,
        );
      } finally {
        for (const f of forwards) f.dispose();
      }
    }
    const verdict = ratioAt32 >= TARGET_RATIO_AT_32 ? 'met' : 'NOT met';
    console.log(`engines: target onnx ≥ ${TARGET_RATIO_AT_32}× tfjs throughput at batch 32: ${verdict} (${ratioAt32.toFixed(1)}×)`);
    // tfjs-wasm uses one thread and onnx every core, so other processes on the cores cut onnx's lead.
    const [load] = loadavg();
    console.log(
      `engines: load average ${load.toFixed(1)} on ${availableParallelism()} cores during the run${load > 1 ? ' (busy cores lower the ratio)' : ''}`,
    );
  } finally {
    for (const o of opened) o.engine.dispose();
  }
}
