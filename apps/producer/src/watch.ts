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

/**
 * Samples per second over a sliding window of polls. Samples arrive a whole shard at a time, so a
 * per-poll rate (even smoothed) swings between zero and a burst; the gain across a window several
 * shards long does not. Until the window has filled, the rate is the gain since watching began.
 */
export class LiveRate {
  private readonly points: { t: number; samples: number }[] = [];

  constructor(private readonly windowMs = 60_000) {}

  update(t: number, samples: number): number | null {
    this.points.push({ t, samples });
    // Keep one point at or beyond the window's start as the anchor the gain is measured from.
    while (this.points.length > 2 && t - this.points[1].t >= this.windowMs) this.points.shift();
    const first = this.points[0];
    if (t <= first.t) return null;
    return ((samples - first.samples) * 1000) / (t - first.t);
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
    `shards ${s.shards.done}✓ ${s.shards.active}▶ ${s.shards.waiting + s.shards.delayed}… ${s.shards.failed}✗  ` +
    `${s.fid ? `FID ${s.fid.fid.toPrecision(4)}  ` : ''}${runPhase(s)}`
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
