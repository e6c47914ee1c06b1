import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpz, encodeNpz, type NpyData, npyArray, npzMembers, readNpzRows } from '@diffq/codecs';
import { PYTHON, skipUnlessPython } from '../../../test/fixtures/reference-python.ts';
import { zipBombNpz } from '../../../test/fixtures/zip-bomb.ts';

const needNumpy = skipUnlessPython(['numpy']);

/** Row r of the big file: byte c is (31·r + c) mod 251, so any batch can be checked without the file. */
const ROW = 256 * 256 * 3;
const BIG_ROWS = 11_000;
/** Written as numpy.savez writes a member (zipfile, force_zip64, stored), in chunks so python stays small. */
const WRITE_BIG = `
import sys, zipfile, numpy as np
rows, row = int(sys.argv[2]), int(sys.argv[3])
base = (np.arange(row) % 251).astype(np.uint32)
with zipfile.ZipFile(sys.argv[1], 'w', compression=zipfile.ZIP_STORED, allowZip64=True) as z:
    with z.open('arr_0.npy', 'w', force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, {'descr': '|u1', 'fortran_order': False, 'shape': (rows, 256, 256, 3)})
        for r0 in range(0, rows, 64):
            r = np.arange(r0, min(rows, r0 + 64), dtype=np.uint32)[:, None]
            f.write(((base[None, :] + (r * 31) % 251) % 251).astype(np.uint8).tobytes())
    z.writestr('mu.npy', b'')
`;
/** Reads every row of the big file in batches of 64 and checks the first and last byte of each; prints rows and peak RSS. */
const READ_BIG = `
import { readNpzRows } from '@diffq/codecs';
let rows = 0;
for await (const batch of readNpzRows(process.argv[1], 'arr_0', 64)) {
  const n = batch.data.length / ${ROW};
  for (let i = 0; i < n; i++) {
    const r = batch.start + i;
    const first = batch.data[i * ${ROW}];
    const last = batch.data[(i + 1) * ${ROW} - 1];
    if (first !== (31 * r) % 251 || last !== ((31 * r) % 251 + ((${ROW} - 1) % 251)) % 251) throw new Error('row ' + r + ' differs');
  }
  rows += n;
}
console.log(JSON.stringify({ rows, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
`;

function rows(batches: NpyData[]): number[] {
  return batches.flatMap((b) => Array.from(b as ArrayLike<number>, Number));
}

describe('reading an npz in row batches', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-npz-stream-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives decodeNpz’s arrays batch by batch, stored or deflated, with the last batch shorter', async () => {
    const images = Uint8Array.from({ length: 7 * 3 * 2 }, (_, i) => (i * 37) % 256);
    const floats = Float64Array.from({ length: 5 }, (_, i) => i / 3);
    for (const compress of [false, true]) {
      const file = join(dir, `small-${compress}.npz`);
      writeFileSync(file, encodeNpz({ arr_0: npyArray(images, [7, 3, 2]), mu: npyArray(floats, [5]) }, { compress }));
      const batches = [];
      for await (const b of readNpzRows(file, 'arr_0', 3)) batches.push(b);
      assert.deepEqual(
        batches.map((b) => [b.start, b.data.length]),
        [
          [0, 18],
          [3, 18],
          [6, 6],
        ],
      );
      assert.deepEqual(batches[0].shape, [7, 3, 2]);
      assert.deepEqual(rows(batches.map((b) => b.data)), Array.from(decodeNpz(readFileSync(file)).arr_0.data as Uint8Array));
      const mu = [];
      for await (const b of readNpzRows(file, 'mu', 100)) mu.push(b);
      assert.deepEqual(Array.from(mu[0].data as Float64Array), Array.from(floats));
    }
  });

  it('refuses a missing array and a corrupted member, naming them', async () => {
    const file = join(dir, 'corrupt.npz');
    const bytes = encodeNpz({ arr_0: npyArray(new Uint8Array(4096).fill(7), [16, 256]) });
    await assert.rejects(async () => {
      writeFileSync(file, bytes);
      for await (const _ of readNpzRows(file, 'arr_1', 4));
    }, /no array "arr_1"; it holds arr_0/);
    bytes[bytes.length - 200] ^= 1;
    writeFileSync(file, bytes);
    await assert.rejects(async () => {
      for await (const _ of readNpzRows(file, 'arr_0', 4));
    }, /"arr_0" CRC-32 mismatch/);
  });

  // ~2.2 GB written then read back: about a minute on the shared 2-core machine (write ~25 s, read ~20 s).
  it('refuses a zip bomb from its declared sizes before streaming any of it, as decodeNpz does', async () => {
    const file = join(dir, 'bomb.npz');
    writeFileSync(file, await zipBombNpz(1024 ** 3));
    await assert.rejects(npzMembers(file), /bomb\.npz: its \d+ bytes declare 1073741824 inflated bytes .* accepted: at most 100×/);
  });

  it('reads a zip64 npz over 2 GiB, as numpy.savez writes it, with peak RSS under 1 GB', { skip: needNumpy, timeout: 600_000 }, () => {
    const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
    if (free < 5e9) return;
    const file = join(dir, 'big.npz');
    execFileSync(PYTHON, ['-c', WRITE_BIG, file, String(BIG_ROWS), String(ROW)]);
    const size = Number(execFileSync('stat', ['-c', '%s', file], { encoding: 'utf8' }));
    assert.ok(size > 2 ** 31, `the file is ${size} bytes, over 2 GiB`);
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', READ_BIG, file], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').pop() as string);
    rmSync(file);
    assert.equal(result.rows, BIG_ROWS);
    assert.ok(result.maxRssMb < 1000, `peak RSS ${result.maxRssMb} MB`);
  });
});
