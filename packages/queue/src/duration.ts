/**
 * Durations on the command line, in the environment and in config files: one spelling for every
 * duration flag, a number with its unit (`500ms`, `60s`, `2m`, `1h`). Before units were required,
 * `--lock-duration` and `--stalled-interval` took bare milliseconds while `--shutdown-grace` and
 * `diffq watch --interval` took bare seconds; a bare number still means what it meant for its flag,
 * with a warning that says how to write it, so no deployment changes meaning silently.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;

const SPELLING = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const BARE = /^\d+(?:\.\d+)?$/;

export interface DurationFlag {
  /** The flag's name without dashes, e.g. "lock-duration"; errors and warnings name it. */
  flag: string;
  /** What a bare number meant for this flag before units were required. */
  bareUnit: 'ms' | 's';
  /** Inclusive range of the result, in ms. */
  minMs: number;
  maxMs: number;
}

export interface Duration {
  ms: number;
  /** Set when the value was a bare number: how to write it with its unit. */
  deprecation?: string;
}

/** An exact spelling for messages and defaults: 60000 → "60s", 600000 → "10m", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  if (ms >= UNIT_MS.h && ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  // Minutes only from 5 min on: lock durations and grace periods read best in seconds.
  if (ms >= 5 * UNIT_MS.m && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms >= UNIT_MS.s && ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}

/**
 * Reads a duration flag's value (a string from the command line or environment, or a number from a
 * config file); throws naming the flag, the value and what is accepted.
 */
export function parseDuration(value: string | number, spec: DurationFlag): Duration {
  const text = String(value).trim();
  const accepted = `accepted: a duration from ${formatDuration(spec.minMs)} to ${formatDuration(spec.maxMs)} with its unit, e.g. 500ms, 60s, 2m (ms, s, m, h)`;
  let ms: number;
  let deprecation: string | undefined;
  const spelled = SPELLING.exec(text);
  if (spelled) {
    ms = Number(spelled[1]) * UNIT_MS[spelled[2] as DurationUnit];
  } else if (BARE.test(text)) {
    ms = Number(text) * UNIT_MS[spec.bareUnit];
    const meaning = spec.bareUnit === 'ms' ? 'milliseconds' : 'seconds';
    deprecation = `--${spec.flag} ${text}: a bare number is read as ${meaning} (deprecated; durations carry their unit now): write --${spec.flag} ${Number.isInteger(ms) ? formatDuration(ms) : `${text}${spec.bareUnit}`}`;
  } else {
    throw new Error(`--${spec.flag} is ${JSON.stringify(value)}; ${accepted}`);
  }
  if (!Number.isInteger(ms))
    throw new Error(`--${spec.flag} is ${JSON.stringify(value)}, ${ms} ms; accepted: a whole number of milliseconds`);
  if (ms < spec.minMs || ms > spec.maxMs)
    throw new Error(`--${spec.flag} is ${JSON.stringify(value)} (${formatDuration(ms)}); ${accepted}`);
  return deprecation === undefined ? { ms } : { ms, deprecation };
}
