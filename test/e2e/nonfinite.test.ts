/**
 * A model with one NaN tensor in its weights: before, every shard, the finalizer and the report
 * succeeded with all-black images. Now the worker checks each micro-batch, fails the shard at once
 * (one attempt, no retry loop) with the reason, nothing is stored, and `diffq status` shows why.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSafetensors, type TensorToWrite, writeSafetensors } from '@diffq/networks';
import { Queue } from 'bullmq';
import { FleetEnv } from './fleet-processes.ts';
import { runDiffq } from './harness.ts';

/** The model with its output convolution's bias set to NaN. */
function poisonWeights(model: string): void {
  const file = join(model, 'weights.safetensors');
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)), file);
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of tensors) out[name] = { shape: t.shape, data: t.data as Float32Array };
  assert.ok(out['out.2.bias'], 'the UNet has an output convolution bias');
  out['out.2.bias'] = { shape: out['out.2.bias'].shape, data: new Float32Array(out['out.2.bias'].data.length).fill(Number.NaN) };
  writeFileSync(file, writeSafetensors(out));
}

describe('a model that produces NaN', () => {
  const fleet = new FleetEnv('e2e-nonfinite');
  before(async () => {
    await fleet.setUp();
    poisonWeights(fleet.model);
  });
  after(() => fleet.cleanup());

  it('fails its shards at once with the reason, and the run status shows it', { timeout: 120_000 }, async () => {
    await fleet.launch('nan-run', ['--model-id', 'nan-model', '--seeds', '0-7', '--shard-size', '4', '--steps', '2']);
    const worker = fleet.worker(['--model-id', 'nan-model', '--batch-size', '2', '--exit-when-idle']);
    assert.equal(await worker.exited, 0, worker.log());

    const queue = new Queue('sample.nan-model', { connection: { url: fleet.redis.url }, prefix: fleet.prefix });
    try {
      for (const id of ['nan-run.shard.0', 'nan-run.shard.1']) {
        const job = await queue.getJob(id);
        assert.equal(await job?.getState(), 'failed', id);
        assert.equal(job?.attemptsMade, 1, `${id}: one attempt, no retry loop`);
        assert.match(
          job?.failedReason ?? '',
          /non-finite samples \(\d+ NaN and 0 infinite values\) for 2 of 2 seeds of a micro-batch \(seeds [0246], [1357]\)/,
        );
      }
    } finally {
      await queue.close();
    }
    const status = await runDiffq(['status', 'nan-run', ...fleet.flags, '--store', fleet.storeUrl, '--json']);
    const parsed = JSON.parse(status.out) as {
      shards: { failed: number; done: number };
      failures: { shardIndex: number; reason: string }[];
    };
    assert.equal(parsed.shards.failed, 2);
    assert.equal(parsed.shards.done, 0, 'no black images stored');
    assert.deepEqual(
      parsed.failures.map((f) => [f.shardIndex, /shard \d of run nan-run: the model produced non-finite samples/.test(f.reason)]),
      [
        [0, true],
        [1, true],
      ],
    );
    const text = await runDiffq(['status', 'nan-run', ...fleet.flags, '--store', fleet.storeUrl]);
    assert.match(text.out, /failed {4}shard 0: shard 0 of run nan-run: the model produced non-finite samples/);
  });
});
