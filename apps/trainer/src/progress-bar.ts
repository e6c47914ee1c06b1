/**
 * The one-line progress bar `diffq-train` redraws on a terminal: where the run is against its step
 * target or its time budget (whichever ends it first), the recent loss and the speed. Pure: the
 * caller decides where the line goes.
 */

export interface Progress {
  /** Updates in all so far. */
  step: number;
  /** The step target. */
  steps: number;
  /** Steps at the start of this run (a resumed run starts above 0). */
  firstStep: number;
  /** Mean loss of the recent window, or null before the first one. */
  loss: number | null;
  /** Recent steps per second. */
  stepsPerSecond: number;
  /** ms since this run started, and its budget (null: none). */
  elapsedMs: number;
  budgetMs: number | null;
}

const WIDTH = 24;

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** e.g. `[#########---------------] 38% step 1140/3000  loss 0.0412  1.9 steps/s  left 16m20s` */
export function formatProgress(p: Progress): string {
  const bySteps = (p.step - p.firstStep) / Math.max(1, p.steps - p.firstStep);
  const byTime = p.budgetMs === null ? 0 : p.elapsedMs / p.budgetMs;
  const done = Math.min(1, Math.max(bySteps, byTime));
  const filled = Math.round(done * WIDTH);
  const stepsLeft = (p.steps - p.step) / p.stepsPerSecond;
  const left = p.budgetMs === null ? stepsLeft : Math.min(stepsLeft, (p.budgetMs - p.elapsedMs) / 1000);
  return (
    `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(done * 100)).padStart(3)}% ` +
    `step ${p.step}/${p.steps}  loss ${p.loss === null ? '-' : p.loss.toFixed(4)}  ${p.stepsPerSecond.toFixed(2)} steps/s  left ${clock(left)}`
  );
}
