import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSeed, philox4x32, SeedError, seedKey, wordToUniform } from '../src/rng/philox.ts';

const hex = (words: Uint32Array) => Array.from(words, (w) => w.toString(16).padStart(8, '0')).join(' ');

describe('Philox4x32-10', () => {
  it('reproduces the Random123 known answer for a zero counter and key', () => {
    assert.equal(hex(philox4x32(0, 0, 0, 0, 0, 0)), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  });

  it('reproduces the Random123 known answer for an all-ones counter and key', () => {
    const ones = 0xffffffff;
    assert.equal(hex(philox4x32(ones, ones, ones, ones, ones, ones)), '408f276d 41c83b0e a20bc7c6 6d5451fd');
  });

  it('reproduces the Random123 known answer for the digits of pi', () => {
    const out = philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
    assert.equal(hex(out), 'd16cfe09 94fdcceb 5001e420 24126ea1');
  });

  it('writes into a given array at an offset', () => {
    const out = new Uint32Array(8);
    philox4x32(0, 0, 0, 0, 0, 0, out, 4);
    assert.equal(hex(out.subarray(4)), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    assert.deepEqual(Array.from(out.subarray(0, 4)), [0, 0, 0, 0]);
  });
});

describe('seed keys', () => {
  it('splits a seed into (seed mod 2^32, floor(seed / 2^32))', () => {
    assert.deepEqual(seedKey(7), [7, 0]);
    assert.deepEqual(seedKey(2 ** 32 + 5), [5, 1]);
    assert.deepEqual(seedKey(Number.MAX_SAFE_INTEGER), [0xffffffff, 2 ** 21 - 1]);
  });

  it('rejects seeds that are negative, fractional or beyond 2^53 − 1, naming the value and the range', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) {
      assert.throws(
        () => checkSeed(bad),
        (e: Error) => e instanceof SeedError && e.message.includes(`${bad}`) && e.message.includes('[0, 9007199254740991]'),
      );
    }
  });
});

describe('u(w) = (w + 0.5) / 2^32', () => {
  it('maps the extreme words strictly inside (0, 1)', () => {
    assert.equal(wordToUniform(0), 2 ** -33);
    assert.equal(wordToUniform(0xffffffff), 1 - 2 ** -33);
  });
});
