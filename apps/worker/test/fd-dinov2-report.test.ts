/**
 * A run evaluated through a DINOv2 feature network reports FD_DINOv2 under edm2's name `fd_dinov2`
 * (not `fid`): shards' images through a tiny random dinov2-vit-l14 directory, finalized against a
 * reference of other images through the same network.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeStatsNpz } from '@diffq/codecs';
import { type RunSpecInput, SeedList, shardSeeds } from '@diffq/contract';
import { accumulateMoments, emptyMoments, frechetDistance, momentsToStats } from '@diffq/metrics';
import { openFeatureNetwork } from '@diffq/onnx';
import { openStore, sha256Hex, writeManifest } from '@diffq/storage';
import { writeRandomDinov2 } from '../../../test/fixtures/random-feature-model.ts';
import { testShardContext } from '../../../test/fixtures/shard-context.ts';
import { formatStatistics } from '../../producer/src/report.ts';
import { finalizeRun } from '../src/finalize-job.ts';
import { extractShardFeatures } from '../src/shard-features.ts';
import { writeShard } from '../src/shard-output.ts';

const N = 24;
const SHARD = 8;
const SIDE = 12;

const dir = mkdtempSync(join(tmpdir(), 'diffq-fd-dinov2-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** n seeded uint8 RGB images, brighter with `shift`. */
function images(n: number, seed: number, shift: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n * SIDE * SIDE * 3 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.min(255, (s >>> 25) + shift);
  });
}

describe('a run evaluated with a dinov2-vit-l14 feature network', () => {
  it('reports fd_dinov2, the Fréchet distance of its class-token features, and no fid', async () => {
    const featuresDir = writeRandomDinov2(join(dir, 'dinov2'), 9);
    const network = await openFeatureNetwork(featuresDir);
    try {
      const d = network.info.featureDim;
      const statsOf = async (pixels: Uint8Array, n: number) => {
        const { features } = await network.extract(pixels, [n, SIDE, SIDE, 3]);
        return { features, stats: momentsToStats(accumulateMoments(emptyMoments(d), features)) };
      };
      const reference = await statsOf(images(40, 2, 0), 40);
      const refBytes = encodeStatsNpz({ mu: reference.stats.mu, sigma: reference.stats.sigma });
      writeFileSync(join(dir, 'ref.npz'), refBytes);

      const store = openStore(`file://${join(dir, 'runs')}`);
      const input: RunSpecInput = {
        runId: 'dinov2-run',
        model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
        sampler: { kind: 'ddim', respacing: '4' },
        seeds: `0-${N - 1}`,
        seedCount: N,
        shardSize: SHARD,
        statistics: {
          kinds: ['fid'],
          features: {
            uri: featuresDir,
            digest: '1'.repeat(64),
            architecture: network.info.architecture,
            preprocess: network.info.preprocess,
            featureDim: d,
          },
          reference: { uri: join(dir, 'ref.npz'), digest: sha256Hex(refBytes) },
        },
        createdAt: new Date().toISOString(),
        codeVersion: 'test',
      };
      const spec = await writeManifest(store, input);
      const sampled = images(N, 7, 40);
      for (let shardIndex = 0; shardIndex < N / SHARD; shardIndex++) {
        const seeds = shardSeeds(SeedList.parse(spec.seeds), SHARD, shardIndex);
        const per = SIDE * SIDE * 3;
        const shard = {
          images: sampled.slice(seeds[0] * per, (seeds.at(-1)! + 1) * per),
          imageShape: [seeds.length, SIDE, SIDE, 3] as [number, number, number, number],
          labels: null,
        };
        const features = await extractShardFeatures(network, shard, seeds, spec.statistics!, { batchSize: 5 });
        await writeShard(testShardContext({ store, spec, shardIndex, seeds }, { timings: { sample: 1, features: 1 } }), shard, features);
      }
      const statistics = (await finalizeRun(store, spec)).report.statistics;
      assert.ok(statistics);
      assert.equal(statistics.fid, undefined, 'a DINOv2 distance is not an FID');
      const expected = frechetDistance((await statsOf(sampled, N)).stats, reference.stats);
      assert.ok(expected > 0.01, `the two image sets differ (FD ${expected})`);
      assert.ok(Math.abs((statistics.fd_dinov2 as number) - expected) <= 1e-6 * expected, `${statistics.fd_dinov2} vs ${expected}`);
      assert.equal(statistics.featureNetwork.architecture, 'dinov2-vit-l14');
      assert.ok(formatStatistics(statistics).some((line) => /^ {2}FD_DINOv2 \d/.test(line)));
      assert.ok(!formatStatistics(statistics).some((line) => /FID/.test(line)));
    } finally {
      network.dispose();
    }
  });
});
