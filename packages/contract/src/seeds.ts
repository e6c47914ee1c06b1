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

/** The seeds of a spec, sorted ascending and unique; throws InvalidPayload naming the bad token. */
export function parseSeeds(spec: string): number[] {
  const seeds: number[] = [];
  for (const { first, last } of seedRanges(spec)) {
    for (let seed = first; seed <= last; seed++) seeds.push(seed);
  }
  return seeds;
}

/** How many seeds a spec holds, without expanding it; throws like parseSeeds. */
export function countSeeds(spec: string): number {
  return seedRanges(spec).reduce((sum, r) => sum + (r.last - r.first + 1), 0);
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
