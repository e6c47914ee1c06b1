/**
 * `diffq watch <run>`: a progress bar with live throughput, redrawn in place on a terminal (one line
 * per update otherwise), until the run is complete, cancelled, or stuck on failed shards.
 */

import type { Producer } from './producer.ts';
import { formatDuration, type LocatedRun, type RunStatus, runPhase, runStatus } from './run-state.ts';

export interface WatchOptions {
  intervalMs?: number;
  write: (text: string) => void;
  /** Redraw in place (\r) instead of printing a line per update. */
  tty: boolean;
  signal?: AbortSignal;
  /** Stop after this many ms even if the run goes on. */
  timeoutMs?: number;
}

export function progressBar(fraction: number, width = 30): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/** Samples per second between two polls, smoothed (EMA) so the figure does not jump per shard. */
export class LiveRate {
  private last?: { t: number; samples: number };
  rate: number | null = null;

  constructor(private readonly smoothing = 0.3) {}

  update(t: number, samples: number): number | null {
    if (this.last && t > this.last.t) {
      const instant = ((samples - this.last.samples) * 1000) / (t - this.last.t);
      this.rate = this.rate === null ? instant : this.smoothing * instant + (1 - this.smoothing) * this.rate;
    }
    this.last = { t, samples };
    return this.rate;
  }
}

export function progressLine(s: RunStatus, rate: number | null): string {
  const fraction = s.samples.total > 0 ? s.samples.done / s.samples.total : 0;
  const speed = rate ?? s.throughput;
  const remaining = s.samples.total - s.samples.done;
  const eta = remaining === 0 ? 0 : speed ? remaining / speed : null;
  return (
    `${progressBar(fraction)} ${(100 * fraction).toFixed(1).padStart(5)}%  ${s.samples.done}/${s.samples.total} samples  ` +
    `${speed === null ? '—' : speed.toFixed(1)} samples/s  ETA ${formatDuration(eta)}  ` +
    `shards ${s.shards.done}✓ ${s.shards.active}▶ ${s.shards.waiting + s.shards.delayed}… ${s.shards.failed}✗  ${runPhase(s)}`
  );
}

function finished(s: RunStatus): boolean {
  const phase = runPhase(s);
  const stuck = s.shards.failed > 0 && s.shards.active + s.shards.waiting + s.shards.delayed === 0;
  return phase === 'complete' || phase === 'cancelled' || phase.startsWith('stopped') || stuck;
}

export async function watchRun(producer: Producer, run: LocatedRun, options: WatchOptions): Promise<RunStatus> {
  const rate = new LiveRate();
  const start = Date.now();
  for (;;) {
    const status = await runStatus(producer, run);
    const line = progressLine(status, rate.update(Date.now(), status.samples.done));
    options.write(options.tty ? `\r\x1b[2K${line}` : `${line}\n`);
    const timedOut = options.timeoutMs !== undefined && Date.now() - start > options.timeoutMs;
    if (finished(status) || options.signal?.aborted || timedOut) {
      if (options.tty) options.write('\n');
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}
