import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PYTHON, skipUnlessPython } from '../../../test/fixtures/reference-python.ts';
import { zipBombNpz } from '../../../test/fixtures/zip-bomb.ts';
import { crc32, decodeNpz, encodeNpz, int64Array, npyArray } from '../src/npz.ts';

const needNumpy = skipUnlessPython(['numpy']);

function shardArrays() {
  const images = new Uint8Array(5 * 4 * 3 * 3).map((_, i) => (i * 37) % 256);
  return {
    arr_0: npyArray(images, [5, 4, 3, 3]),
    arr_1: npyArray(int64Array([3, 0, 9, 1, 2]), [5]),
    seeds: npyArray(int64Array([100, 101, 102, 2 ** 40, 104]), [5]),
  };
}

describe('npz', () => {
  it('computes the zip CRC-32 of the standard check string', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });

  it('round-trips uint8 images and int64 labels and seeds', () => {
    const back = decodeNpz(encodeNpz(shardArrays()));
    assert.deepEqual(Object.keys(back), ['arr_0', 'arr_1', 'seeds']);
    assert.deepEqual(back.arr_0.shape, [5, 4, 3, 3]);
    assert.deepEqual(back.arr_0.data, shardArrays().arr_0.data);
    assert.equal(back.arr_1.dtype, 'int64');
    assert.deepEqual([...back.seeds.data].map(Number), [100, 101, 102, 2 ** 40, 104]);
  });

  it('writes the same bytes for the same arrays, so a retried shard is identical', () => {
    assert.deepEqual(encodeNpz(shardArrays()), encodeNpz(shardArrays()));
  });

  it('rejects a corrupted member by its CRC', () => {
    const bytes = encodeNpz(shardArrays());
    bytes[200] ^= 0xff;
    assert.throws(() => decodeNpz(bytes), /arr_0\.npy: CRC-32 mismatch/);
  });

  it('is read by numpy as guided-diffusion evaluator reads a sample batch', { skip: needNumpy }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'npz-'));
    const file = join(dir, 'shard.npz');
    writeFileSync(file, encodeNpz(shardArrays()));
    const script = [
      'import numpy as np, sys, json',
      'z = np.load(sys.argv[1])',
      'print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), int(z[k].astype(np.int64).sum())] for k in z.files}))',
    ].join('\n');
    const out = JSON.parse(execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8' }));
    const imageSum = Array.from(shardArrays().arr_0.data as Uint8Array).reduce((a, b) => a + b, 0);
    assert.deepEqual(out, {
      arr_0: ['uint8', [5, 4, 3, 3], imageSum],
      arr_1: ['int64', [5], 15],
      seeds: ['int64', [5], 100 + 101 + 102 + 2 ** 40 + 104],
    });
  });

  it('reads what numpy.savez writes', { skip: needNumpy }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'npz-'));
    const file = join(dir, 'np.npz');
    const script = [
      'import numpy as np, sys',
      'np.savez(sys.argv[1], np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([7, 8], dtype=np.int64), f=np.array([0.5, -1.25], dtype=np.float32))',
    ].join('\n');
    execFileSync(PYTHON, ['-c', script, file]);
    const back = decodeNpz(readFileSync(file));
    assert.deepEqual(back.arr_0.shape, [2, 3, 4]);
    assert.deepEqual(
      [...back.arr_0.data],
      Array.from({ length: 24 }, (_, i) => i),
    );
    assert.deepEqual([...back.arr_1.data], [7n, 8n]);
    assert.deepEqual([...back.f.data], [0.5, -1.25]);
  });

  it('round-trips float64 exactly, stored and deflate-compressed', () => {
    const values = Float64Array.of(Math.PI, -1e-300, 1 / 3, 2 ** 60, 0);
    for (const compress of [false, true]) {
      const back = decodeNpz(
        encodeNpz(
          {
            mu: npyArray(values, [5]),
            sigma: npyArray(
              values.map((v) => -v),
              [5, 1],
            ),
          },
          { compress },
        ),
      );
      assert.equal(back.mu.dtype, 'float64');
      assert.deepEqual(back.mu.data, values);
      assert.deepEqual(back.sigma.shape, [5, 1]);
    }
  });

  it('deflates repetitive arrays when asked and stays deterministic', () => {
    const arrays = { arr_0: npyArray(new Uint8Array(10000).fill(7), [100, 100]) };
    const stored = encodeNpz(arrays);
    const compressed = encodeNpz(arrays, { compress: true });
    assert.ok(compressed.length < stored.length / 10, `${compressed.length} vs ${stored.length} bytes`);
    assert.deepEqual(encodeNpz(arrays, { compress: true }), compressed);
  });

  it('rejects bytes that are not a zip, saying so', () => {
    assert.throws(() => decodeNpz(Buffer.from('not a zip at all, just some text')), /not a readable zip\/npz file/);
  });

  it('reads what numpy.savez_compressed writes, float64 and zip64 headers included', { skip: needNumpy }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'npz-'));
    const file = join(dir, 'np.npz');
    const script = [
      'import numpy as np, sys',
      'np.savez_compressed(sys.argv[1], mu=np.arange(6, dtype=np.float64) / 7, sigma=np.eye(3, dtype=np.float64) * 1e-200, img=np.full((4, 5, 3), 200, dtype=np.uint8))',
    ].join('\n');
    execFileSync(PYTHON, ['-c', script, file]);
    const back = decodeNpz(readFileSync(file));
    assert.deepEqual(
      [...back.mu.data],
      Array.from({ length: 6 }, (_, i) => i / 7),
    );
    assert.deepEqual(back.sigma.shape, [3, 3]);
    assert.equal(back.sigma.data[4], 1e-200);
    assert.equal(back.img.dtype, 'uint8');
    assert.ok((back.img.data as Uint8Array).every((v) => v === 200));
  });

  it('writes float64 and compressed npz files that numpy reads bit for bit', { skip: needNumpy }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'npz-'));
    const values = Float64Array.from({ length: 12 }, (_, i) => Math.sqrt(i + 0.5) * (i % 2 ? -1 : 1));
    const script = [
      'import numpy as np, sys, json',
      'z = np.load(sys.argv[1])',
      'print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), z[k].ravel().tolist()] for k in z.files}))',
    ].join('\n');
    for (const compress of [false, true]) {
      const file = join(dir, `ours-${compress}.npz`);
      writeFileSync(file, encodeNpz({ sigma: npyArray(values, [3, 4]), n: npyArray(int64Array([50000]), [1]) }, { compress }));
      const out = JSON.parse(execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8' }));
      assert.deepEqual(out, { sigma: ['float64', [3, 4], [...values]], n: ['int64', [1], [50000]] });
    }
  });
});

describe('npz size caps', () => {
  it('refuses a 1 GiB zip bomb from its declared sizes, before inflating anything', async () => {
    const bomb = await zipBombNpz(1024 ** 3);
    assert.ok(bomb.length < 8 * 1024 ** 2, `the bomb is ${bomb.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => decodeNpz(bomb, { source: 'bomb.npz' }),
      /^Error: bomb\.npz: its \d+ bytes declare 1073741824 inflated bytes \(\d+× by arr_0\.npy\); accepted: at most 100× past 67108864 bytes/,
    );
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 64 * 1024 ** 2, `decoding allocated ${grown} bytes`);
  });

  it('refuses members that inflate past maxBytes, naming the cap', async () => {
    const npz = encodeNpz({ a: npyArray(new Uint8Array(1000), [1000]), b: npyArray(new Uint8Array(1000), [1000]) });
    assert.equal(decodeNpz(npz, { maxBytes: 4096 }).b.data.length, 1000);
    assert.throws(
      () => decodeNpz(npz, { maxBytes: 1500, source: 'x.npz' }),
      /^Error: x\.npz: its members inflate to more than 1500 bytes \(\d+ declared by b\.npy and those before it\); accepted: at most 1500/,
    );
  });

  it('inflates a member no further than its zip entry declares', async () => {
    const bomb = await zipBombNpz(1024 ** 2);
    // Declare 256 bytes where 1 MiB are deflated: the inflated member is cut there and fails its CRC.
    const view = new DataView(bomb.buffer, bomb.byteOffset, bomb.byteLength);
    for (let i = 0; i + 4 <= bomb.length; i++) {
      const sig = view.getUint32(i, true);
      if (sig === 0x04034b50) view.setUint32(i + 22, 256, true);
      if (sig === 0x02014b50) view.setUint32(i + 24, 256, true);
    }
    assert.throws(() => decodeNpz(bomb), /arr_0\.npy: CRC-32 mismatch/);
  });
});
