import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readModelDirectory, readSafetensors, SafetensorsError, writeSafetensors } from '@diffq/networks';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';

/** A safetensors file with this header (as given, even when invalid) and a data block of `dataBytes` bytes. */
function withHeader(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const f32 = (shape: number[], data_offsets: unknown) => ({ dtype: 'F32', shape, data_offsets });

describe('safetensors headers', () => {
  it('reads what writeSafetensors wrote, zero-sized tensors included', () => {
    const bytes = writeSafetensors({
      a: { shape: [2], data: new Float32Array([1, 2]) },
      empty: { shape: [0, 3], data: new Float32Array(0) },
    });
    const { tensors } = readSafetensors(bytes, 'ok.safetensors');
    assert.deepEqual([...(tensors.get('a')?.data ?? [])], [1, 2]);
    assert.deepEqual(tensors.get('empty')?.shape, [0, 3]);
  });

  const refused: { name: string; header: unknown; dataBytes: number; says: RegExp }[] = [
    { name: 'a null header', header: null, dataBytes: 0, says: /^w\.safetensors: header is null; accepted: a JSON object/ },
    { name: 'a list header', header: [1], dataBytes: 0, says: /^w\.safetensors: header is \[1\]; accepted: a JSON object/ },
    { name: 'a null tensor entry', header: { t: null }, dataBytes: 0, says: /^w\.safetensors: tensor "t" is null; accepted: an object/ },
    {
      name: 'a missing data_offsets',
      header: { t: { dtype: 'F32', shape: [1] } },
      dataBytes: 4,
      says: /^w\.safetensors: tensor "t" has data_offsets undefined; accepted: \[begin, end\], two integers ≥ 0/,
    },
    {
      name: 'fractional offsets',
      header: { t: f32([1], [0.5, 4.5]) },
      dataBytes: 5,
      says: /^w\.safetensors: tensor "t" has data_offsets \[0\.5,4\.5\]; accepted: \[begin, end\], two integers/,
    },
    { name: 'negative offsets', header: { t: f32([1], [-4, 0]) }, dataBytes: 4, says: /tensor "t" has data_offsets \[-4,0\]/ },
    {
      name: 'reversed offsets',
      header: { t: f32([0], [4, 0]) },
      dataBytes: 4,
      says: /tensor "t" has data_offsets \[4, 0\): it ends before it begins/,
    },
    {
      name: 'offsets past the data block',
      header: { t: f32([2], [0, 8]) },
      dataBytes: 4,
      says: /tensor "t" has data_offsets \[0, 8\) past the end of the 4-byte data block/,
    },
    {
      name: 'a size that is not dtype × shape',
      header: { t: f32([3], [0, 8]) },
      dataBytes: 8,
      says: /tensor "t" of shape \[3\] F32 needs 12 bytes \(3 × 4\) but its data_offsets \[0, 8\) hold 8/,
    },
    {
      name: 'a fractional shape',
      header: { t: f32([1.5], [0, 6]) },
      dataBytes: 6,
      says: /tensor "t" has shape \[1\.5\]; accepted: a list of integers ≥ 0/,
    },
    {
      name: 'an unknown dtype',
      header: { t: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } },
      dataBytes: 8,
      says: /tensor "t" has dtype "C64"; accepted: F64, F32/,
    },
    {
      name: 'overlapping tensors',
      header: { a: f32([2], [0, 8]), b: f32([2], [4, 12]) },
      dataBytes: 12,
      says: /^w\.safetensors: tensors "a" \[0, 8\) and "b" \[4, 12\) overlap/,
    },
    {
      name: 'two tensors on the same bytes',
      header: { a: f32([2], [0, 8]), b: f32([2], [0, 8]) },
      dataBytes: 8,
      says: /tensors "a" \[0, 8\) and "b" \[0, 8\) overlap/,
    },
    {
      name: 'a hole between tensors',
      header: { a: f32([1], [0, 4]), b: f32([1], [8, 12]) },
      dataBytes: 12,
      says: /bytes \[4, 8\) of the data block belong to no tensor \(before "b"\)/,
    },
    {
      name: 'bytes after the last tensor',
      header: { a: f32([1], [0, 4]) },
      dataBytes: 8,
      says: /the data block is 8 bytes but its tensors end at byte 4/,
    },
    {
      name: 'a metadata that is not strings',
      header: { __metadata__: { step: 3 } },
      dataBytes: 0,
      says: /__metadata__ is \{"step":3\}; accepted: an object of string values/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}, naming the file and the tensor`, () => {
      assert.throws(
        () => readSafetensors(withHeader(c.header, c.dataBytes), 'w.safetensors'),
        (error: Error) => error instanceof SafetensorsError && c.says.test(error.message),
      );
    });
  }

  it('names the weights file of a model directory in its error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diffq-safetensors-'));
    try {
      const model = await writeRandomModel(join(dir, 'model'), { numClasses: null });
      const weights = join(model, 'weights.safetensors');
      writeFileSync(weights, withHeader(null, 0));
      await assert.rejects(readModelDirectory(model), (error: Error) => error.message.startsWith(`${weights}: header is null`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
