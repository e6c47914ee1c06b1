/**
 * Command-line options of `npm run bench -- [<name> …] [--option value …]`: names select benchmarks,
 * options shorten or reshape them (each bench lists its own in its doc comment; `--quick` shortens
 * all of them, for a first look or a busy machine).
 */
import { availableParallelism, loadavg } from 'node:os';

const args = process.argv.slice(2);

/** The benchmark names given (arguments that are neither options nor their values). */
export function benchNames(): string[] {
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--')) {
      if (!args[i].includes('=') && args[i + 1] !== undefined && !args[i + 1].startsWith('--')) i++;
    } else names.push(args[i]);
  }
  return names;
}

/** `--name value` or `--name=value`; `true` for a bare `--name`; undefined when absent. */
function raw(name: string): string | true | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1] !== undefined && !args[i + 1].startsWith('--') ? args[i + 1] : true;
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

/** `--quick`: every bench runs a shorter version of itself. */
export const QUICK = raw('quick') !== undefined;

export function flagOption(name: string): boolean {
  return raw(name) !== undefined;
}

export function numberOption(name: string, fallback: number, quickFallback = fallback): number {
  const value = raw(name);
  if (value === undefined) return QUICK ? quickFallback : fallback;
  const n = Number(value);
  if (value === true || !Number.isFinite(n) || n <= 0) throw new Error(`--${name} is "${value}"; accepted: a positive number`);
  return n;
}

export function listOption(name: string, fallback: number[], quickFallback = fallback): number[] {
  const value = raw(name);
  if (value === undefined) return QUICK ? quickFallback : fallback;
  const list = value === true ? [] : value.split(',').map(Number);
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`--${name} is "${value}"; accepted: comma-separated positive integers, e.g. 1,4,16`);
  return list;
}

export function stringOption(name: string, fallback: string): string {
  const value = raw(name);
  if (value === true) throw new Error(`--${name} needs a value`);
  return value ?? fallback;
}

/** "load average 1.2 (1 min) on 2 cores": printed next to every figure, since the machine may be shared. */
export function loadLine(): string {
  const [one] = loadavg();
  return `load average ${one.toFixed(2)} (1 min) on ${availableParallelism()} cores${one > availableParallelism() / 2 ? ' — busy: figures are pessimistic' : ''}`;
}
