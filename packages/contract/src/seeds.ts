/**
 * Seed lists as EDM's `--seeds` writes them: comma-separated seeds and inclusive ranges, e.g.
 * "0-49999" or "1,2,5-10". Unlike EDM, a seed may appear only once (one seed, one image, one key),
 * and the list is returned sorted whatever the order it was written in.
 */
import { InvalidPayload } from './invalid-payload.ts';

/** Seeds are integers in [0, 2^53): exact as float64 and split into Philox's two key words. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;
/** At most this many seeds per run (10 million, 80 MB as a number[]). */
export const MAX_SEEDS_PER_RUN = 10_000_000;

const ACCEPTED = 'write seeds as comma-separated integers and inclusive ranges, e.g. "0-49999" or "1,2,5-10"';

/** An inclusive range [first, last] and the token it was written as. */
interface SeedRange {
  first: number;
  last: number;
  token: string;
}

function fail(problem: string): never {
  throw new InvalidPayload('seeds', [problem]);
}

function parseSeed(text: string, token: string): number {
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) fail(`seed ${text} in "${token}" is out of range; seeds are integers from 0 to ${MAX_SEED} (2^53 - 1).`);
  return seed;
}

/** The ranges of a seed spec, sorted by first seed, checked for syntax, order, overlaps and size. */
function seedRanges(spec: string): SeedRange[] {
  if (typeof spec !== 'string' || spec.trim() === '') fail(`the seed list is empty; ${ACCEPTED}.`);
  const ranges = spec.split(',').map((raw, i): SeedRange => {
    const token = raw.trim();
    if (token === '') fail(`item ${i + 1} of "${spec}" is empty (a stray comma?); ${ACCEPTED}.`);
    const match = /^(\d+)(?:-(\d+))?$/.exec(token);
    if (!match) fail(`"${token}" is neither a seed nor a range of seeds; ${ACCEPTED}.`);
    const first = parseSeed(match[1], token);
    const last = match[2] === undefined ? first : parseSeed(match[2], token);
    if (last < first) fail(`range "${token}" ends before it starts; write it as "${last}-${first}".`);
    return { first, last, token };
  });
  const count = ranges.reduce((sum, r) => sum + (r.last - r.first + 1), 0);
  if (count > MAX_SEEDS_PER_RUN)
    fail(`"${spec}" holds ${count} seeds; a run takes at most ${MAX_SEEDS_PER_RUN}, split it into several runs.`);
  ranges.sort((a, b) => a.first - b.first);
  for (let i = 1; i < ranges.length; i++) {
    const previous = ranges[i - 1];
    const current = ranges[i];
    if (current.first <= previous.last) {
      fail(`seed ${current.first} appears twice (in "${previous.token}" and "${current.token}"); each seed may appear only once.`);
    }
  }
  return ranges;
}

/**
 * A run's seeds held as their sorted ranges: counted, indexed and sliced without expanding the
 * list, so a 1,000,000-seed run costs its launch and its workers a few ranges, not 8 MB of numbers.
 * Index i is the i-th seed of the sorted list.
 */
export class SeedList {
  /** How many seeds the list holds. */
  readonly count: number;
  /** offsets[k]: the index of ranges[k].first in the list. */
  private readonly offsets: number[];

  private constructor(private readonly ranges: readonly SeedRange[]) {
    this.offsets = [];
    let count = 0;
    for (const r of ranges) {
      this.offsets.push(count);
      count += r.last - r.first + 1;
    }
    this.count = count;
  }

  /** Parses a spec; throws InvalidPayload naming the bad token. */
  static parse(spec: string): SeedList {
    return new SeedList(seedRanges(spec));
  }

  /** The index of the range holding list index i (0 ≤ i < count). */
  private rangeOf(i: number): number {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The seed at list index i. */
  at(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`seed index ${i} is outside 0 to ${this.count - 1}`);
    const k = this.rangeOf(i);
    return this.ranges[k].first + (i - this.offsets[k]);
  }

  /** The seeds at list indices [start, end), as Array.prototype.slice cuts (end clamped to count). */
  slice(start: number, end = this.count): number[] {
    const stop = Math.min(end, this.count);
    const seeds: number[] = [];
    if (start >= stop) return seeds;
    let k = this.rangeOf(start);
    let seed = this.ranges[k].first + (start - this.offsets[k]);
    for (let i = start; i < stop; i++) {
      if (seed > this.ranges[k].last) seed = this.ranges[++k].first;
      seeds.push(seed++);
    }
    return seeds;
  }
}

/** The seeds of a spec, sorted ascending and unique; throws InvalidPayload naming the bad token. */
export function parseSeeds(spec: string): number[] {
  return SeedList.parse(spec).slice(0);
}

/** How many seeds a spec holds, without expanding it; throws like parseSeeds. */
export function countSeeds(spec: string): number {
  return SeedList.parse(spec).count;
}

/** The shortest spec for a list of unique seeds, e.g. [0, 1, 2, 7] → "0-2,7" (for logs and metadata). */
export function formatSeeds(seeds: readonly number[]): string {
  const sorted = [...seeds].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
