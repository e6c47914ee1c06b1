/** `diffq fid` through a DINOv2 feature network names its distance FD_DINOv2 (edm2's `fd_dinov2`). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeNpz, npyArray } from '@diffq/codecs';
import { accumulateMoments, emptyMoments, frechetDistance, momentsToStats } from '@diffq/metrics';
import { openFeatureNetwork } from '@diffq/onnx';
import { writeRandomDinov2 } from '../../../test/fixtures/random-feature-model.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { type Io, main } from '../src/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'diffq-fd-dinov2-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function images(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n * 10 * 10 * 3 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  });
}

async function diffq(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = (t: string) => {
    out += t;
  };
  const io: Io = { out: write, err: write, tty: false };
  const code = await main(['--redis', testRedisUrl(9), '--prefix', 'fd-dinov2-cli', ...args], io);
  return { code, out };
}

describe('diffq fid with a dinov2-vit-l14 feature network', () => {
  it('prints FD_DINOv2 and says fd_dinov2 in its JSON, with the distance of the class-token statistics', async () => {
    const features = writeRandomDinov2(join(dir, 'dinov2'), 4);
    const sets = [images(20, 1), images(20, 2).map((v) => v >> 1)];
    for (const [i, set] of sets.entries()) writeFileSync(join(dir, `${i}.npz`), encodeNpz({ arr_0: npyArray(set, [20, 10, 10, 3]) }));
    const json = await diffq(['fid', join(dir, '0.npz'), join(dir, '1.npz'), '--features', features, '--json']);
    assert.equal(json.code, 0, json.out);
    const r = JSON.parse(json.out);
    assert.equal(r.metric, 'fd_dinov2');

    const network = await openFeatureNetwork(features);
    try {
      const stats = async (set: Uint8Array) =>
        momentsToStats(accumulateMoments(emptyMoments(32), (await network.extract(set, [20, 10, 10, 3])).features));
      const expected = frechetDistance(await stats(sets[0]), await stats(sets[1]));
      assert.ok(Math.abs(r.fid - expected) <= 1e-6 * expected, `${r.fid} vs ${expected}`);
    } finally {
      network.dispose();
    }
    const text = await diffq(['fid', join(dir, '0.npz'), join(dir, '1.npz'), '--features', features]);
    assert.match(text.out, /^FD_DINOv2 \d+\.\d{4}\n/);
  });
});
