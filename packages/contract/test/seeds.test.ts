import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countSeeds, formatSeeds, InvalidPayload, MAX_SEED, parseSeeds, SeedList } from '@diffq/contract';

function rejection(spec: string): string {
  try {
    parseSeeds(spec);
  } catch (error) {
    assert.ok(error instanceof InvalidPayload, `expected InvalidPayload for ${JSON.stringify(spec)}`);
    return error.message;
  }
  assert.fail(`parseSeeds(${JSON.stringify(spec)}) should have thrown`);
}

describe('parseSeeds', () => {
  it('expands an inclusive range as EDM does', () => {
    const seeds = parseSeeds('0-49999');
    assert.equal(seeds.length, 50000);
    assert.equal(seeds[0], 0);
    assert.equal(seeds[49999], 49999);
  });

  it('mixes single seeds and ranges, returning them sorted whatever the order written', () => {
    assert.deepEqual(parseSeeds('1,2,5-10'), [1, 2, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(parseSeeds('20-22, 3 ,0'), [0, 3, 20, 21, 22]);
  });

  it('accepts the largest seed that is exact as a float64', () => {
    assert.deepEqual(parseSeeds(`${MAX_SEED - 1}-${MAX_SEED}`), [MAX_SEED - 1, MAX_SEED]);
  });

  it('counts seeds without expanding them and agrees with the expansion', () => {
    for (const spec of ['0-49999', '1,2,5-10', '7', '100-199,0-99']) assert.equal(countSeeds(spec), parseSeeds(spec).length);
  });

  it('indexes and slices a seed list as the expanded list, without expanding it', () => {
    for (const spec of ['0-49999', '1,2,5-10,40-1000,3000', '7', '100-199,0-99']) {
      const seeds = parseSeeds(spec);
      const list = SeedList.parse(spec);
      assert.equal(list.count, seeds.length);
      for (const i of [0, 1, 2, 5, 9, seeds.length - 1].filter((i) => i < seeds.length))
        assert.equal(list.at(i), seeds[i], `${spec}[${i}]`);
      for (const [start, end] of [
        [0, 3],
        [1, 9],
        [2, 1000],
        [Math.max(0, seeds.length - 2), seeds.length + 5],
      ])
        assert.deepEqual(list.slice(start, end), seeds.slice(start, end), `${spec}.slice(${start}, ${end})`);
    }
    assert.throws(() => SeedList.parse('0-9').at(10), /seed index 10 is outside 0 to 9/);
  });

  it('holds 10,000,000 seeds as one range', () => {
    const list = SeedList.parse('0-9999999');
    assert.equal(list.count, 10_000_000);
    assert.deepEqual(list.slice(9_999_998), [9_999_998, 9_999_999]);
  });

  it('writes a seed list back in its shortest form', () => {
    assert.equal(formatSeeds(parseSeeds('5-10,1,2,3')), '1-3,5-10');
    assert.deepEqual(parseSeeds(formatSeeds([9, 4, 5, 6, 0])), [0, 4, 5, 6, 9]);
  });

  const malformed: [string, string, RegExp][] = [
    ['an empty list', '', /empty.*"0-49999"/],
    ['a stray comma', '1,,2', /item 2 of "1,,2" is empty/],
    ['a word', '1,abc', /"abc" is neither a seed nor a range/],
    ['a negative seed', '-3', /"-3" is neither a seed nor a range/],
    ['a fractional seed', '1.5', /"1.5" is neither a seed nor a range/],
    ['a reversed range', '10-5', /range "10-5" ends before it starts; write it as "5-10"/],
    ['an overlap', '0-10,5', /seed 5 appears twice \(in "0-10" and "5"\)/],
    ['a repeated seed', '3,3', /seed 3 appears twice/],
    ['a seed beyond 2^53', '9007199254740992', /9007199254740992.*out of range/],
    ['too many seeds', '0-10000000', /holds 10000001 seeds; a run takes at most 10000000/],
  ];
  for (const [what, spec, message] of malformed) {
    it(`rejects ${what} with a message naming it`, () => assert.match(rejection(spec), message));
  }
});
