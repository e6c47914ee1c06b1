import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeStatsNpz } from '@diffq/codecs';
import { FINALIZE_QUEUE_NAME, keys, sampleQueueName } from '@diffq/contract';
import type { RunningWorker } from '@diffq/worker';
import type { Job, Queue } from 'bullmq';
import { writeRandomMnistClassifier } from '../fixtures/random-feature-model.ts';
import { zipBombNpz } from '../fixtures/zip-bomb.ts';
import { runDiffq, smallModel, useTestEnv, waitFor } from './harness.ts';

describe('malformed launches and job payloads', () => {
  const env = useTestEnv('malformed');
  let model: string;
  let classModel: string;
  let storeDir: string;
  let storeUrl: string;
  let features: string;
  let wrongRef: string;
  let bomb: string;

  before(async () => {
    model = env.model;
    classModel = await smallModel(env.dir, { numClasses: 10 });
    features = writeRandomMnistClassifier(join(env.dir, 'mnist-classifier'));
    // Statistics of dimension 5: the MNIST classifier's features have 32.
    wrongRef = join(env.dir, 'ref-5d.npz');
    writeFileSync(wrongRef, encodeStatsNpz({ mu: new Float64Array(5), sigma: new Float64Array(25) }));
    bomb = join(env.dir, 'bomb.npz');
    writeFileSync(bomb, await zipBombNpz(1024 ** 3));
    storeDir = join(env.dir, 'runs');
    storeUrl = env.storeUrl;
  });

  const launches: { name: string; args: () => string[]; says: RegExp }[] = [
    { name: 'no --seeds', args: () => ['--model', model], says: /--seeds is required/ },
    { name: 'a reversed seed range', args: () => ['--model', model, '--seeds', '9-2'], says: /--seeds "9-2".*ends before it starts/ },
    { name: 'a seed given twice', args: () => ['--model', model, '--seeds', '0-9,5'], says: /--seeds "0-9,5".*seed 5 appears twice/ },
    {
      name: 'seeds that are not numbers',
      args: () => ['--model', model, '--seeds', 'ten'],
      says: /--seeds "ten".*neither a seed nor a range/,
    },
    {
      name: 'an invalid run id',
      args: () => ['--model', model, '--seeds', '0-9', '--run-id', 'Bad_Id'],
      says: /--run-id "Bad_Id" must be 1 to 63 characters/,
    },
    {
      name: 'an unknown sampler',
      args: () => ['--model', model, '--seeds', '0-9', '--sampler', 'euler'],
      says: /--sampler "euler": accepted: ddpm, ddim, dpm\+\+2m, dpm\+\+3m, unipc/,
    },
    {
      name: 'a solver time grid that does not exist',
      args: () => ['--model', model, '--seeds', '0-9', '--sampler', 'dpm++2m', '--skip-type', 'karras'],
      says: /--skip-type "karras": accepted: time_uniform, logSNR, time_quadratic/,
    },
    {
      name: 'a solver flag given to DDIM',
      args: () => ['--model', model, '--seeds', '0-9', '--sampler', 'ddim', '--unipc-variant', 'bh2'],
      says: /--unipc-variant applies to the ODE solvers only/,
    },
    {
      name: 'fewer solver steps than the order',
      args: () => ['--model', model, '--seeds', '0-9', '--sampler', 'dpm++3m', '--steps', '2'],
      says: /--steps is 2; accepted: an integer ≥ 3 for dpm\+\+3m/,
    },
    {
      name: 'one sampling step',
      args: () => ['--model', model, '--seeds', '0-9', '--steps', '1'],
      says: /--steps is 1; accepted: an integer ≥ 2/,
    },
    {
      name: 'more steps than the model has',
      args: () => ['--model', model, '--seeds', '0-9', '--steps', '5000'],
      says: /--steps is 5000; accepted: 2 to 1000/,
    },
    {
      name: 'both --steps and --respacing',
      args: () => ['--model', model, '--seeds', '0-9', '--steps', '4', '--respacing', '10'],
      says: /--steps 4 and --respacing "10" both set/,
    },
    {
      name: 'a DDIM stride no integer step gives',
      args: () => ['--model', model, '--seeds', '0-9', '--respacing', 'ddim999'],
      says: /--respacing: .*ddim999.*no integer stride/,
    },
    {
      name: 'eta with the ddpm sampler',
      args: () => ['--model', model, '--seeds', '0-9', '--eta', '0.5'],
      says: /--eta 0.5 applies to --sampler ddim only/,
    },
    {
      name: 'eta above 1',
      args: () => ['--model', model, '--seeds', '0-9', '--sampler', 'ddim', '--eta', '2'],
      says: /--eta is 2; accepted: a number from 0 to 1/,
    },
    {
      name: 'classifier-free guidance on an unconditional model',
      args: () => ['--model', model, '--seeds', '0-9', '--guidance-scale', '3'],
      says: /--guidance-scale needs a class-conditional model/,
    },
    {
      name: 'a classifier without its scale',
      args: () => ['--model', model, '--seeds', '0-9', '--classifier', model],
      says: /--classifier needs --classifier-scale/,
    },
    {
      name: 'labels for an unconditional model',
      args: () => ['--model', model, '--seeds', '0-9', '--labels', '3'],
      says: /--labels 3: .* is unconditional/,
    },
    {
      name: 'a class index beyond the classes',
      args: () => ['--model', classModel, '--seeds', '0-9', '--labels', '9'],
      says: /--labels 9: accepted: a class index from 0 to 8/,
    },
    {
      name: 'a zero shard size',
      args: () => ['--model', model, '--seeds', '0-9', '--shard-size', '0'],
      says: /--shard-size is 0; accepted: an integer from 1 to 65536/,
    },
    {
      name: 'an unknown output format',
      args: () => ['--model', model, '--seeds', '0-9', '--format', 'gif'],
      says: /--format "gif": accepted: npz, png, both/,
    },
    {
      name: 'a store that is not file:// or s3://',
      args: () => ['--model', model, '--seeds', '0-9', '--store', 'ftp://host/runs'],
      says: /--store "ftp:\/\/host\/runs": accepted: file:\/\/<dir>/,
    },
    {
      name: 'a negative priority',
      args: () => ['--model', model, '--seeds', '0-9', '--priority', '-1'],
      says: /--priority is -1; accepted: an integer from 0/,
    },
    {
      name: 'a model directory that does not exist',
      args: () => ['--model', join(env.dir, 'nope'), '--seeds', '0-9'],
      says: /--model .*nope: no model.json there/,
    },
    {
      name: 'a Redis URL of another scheme',
      args: () => ['--model', model, '--seeds', '0-9', '--redis', 'http://127.0.0.1:6379'],
      says: /--redis "http:\/\/127.0.0.1:6379" has scheme http; accepted: redis:\/\/ or rediss:\/\//,
    },
    {
      name: 'an unknown statistic',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid,kd', '--features', features, '--ref', wrongRef],
      says: /--stats "kd" is not a statistic; accepted: fid, sfid, is, pr, accuracy, kid/,
    },
    {
      name: 'a feature network without --stats',
      args: () => ['--model', model, '--seeds', '0-9', '--features', features],
      says: /--features applies with --stats/,
    },
    {
      name: 'a feature network that does not fit the images',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'is', '--features', features],
      says: /takes images of 1 channels; the model samples 3[\s\S]*takes 28×28 images; the model samples 8×8/,
    },
    {
      name: 'a reference of another dimension than the features',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid', '--features', features, '--ref', wrongRef],
      says: /--ref .*ref-5d.npz holds statistics of dimension 5; .* gives features of dimension 32/,
    },
    {
      name: 'a reference that is a directory',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid', '--features', features, '--ref', env.dir],
      says: /--ref .*: .* is a directory; accepted: a regular file/,
    },
    {
      name: 'a reference that is a device',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid', '--features', features, '--ref', '/dev/zero'],
      says: /--ref .*\/dev\/zero is a character device; accepted: a regular file/,
    },
    {
      name: 'a reference that is a zip bomb',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid', '--features', features, '--ref', bomb],
      says: /bomb\.npz: its \d+ bytes declare 1073741824 inflated bytes .* accepted: at most 100×/,
    },
    {
      name: 'more shards than one launch may create',
      args: () => ['--model', model, '--seeds', '0-9999999', '--shard-size', '1'],
      says: /make 10000000 shards; accepted: at most 100000 per launch: give --shard-size 100 or more/,
    },
    {
      name: 'FID without a reference',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid', '--features', features],
      says: /--stats fid needs --ref/,
    },
    {
      name: 'a reference run that has no statistics',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'fid', '--features', features, '--ref', 'no-such-run'],
      says: /--ref no-such-run \(run no-such-run's stats.npz.*does not exist/,
    },
    {
      name: 'class accuracy of an unconditional model',
      args: () => ['--model', model, '--seeds', '0-9', '--stats', 'accuracy', '--features', features],
      says: /--stats accuracy needs a class-conditional model/,
    },
    { name: 'a misspelt flag', args: () => ['--model', model, '--seeds', '0-9', '--shardsize', '10'], says: /Unknown argument: shardsize/ },
  ];

  it(`rejects ${launches.length} malformed launches, each naming its flag, with nothing enqueued or written`, async () => {
    for (const { name, args, says } of launches) {
      const result = await runDiffq(['launch', ...env.flags, '--store', storeUrl, ...args()]);
      assert.equal(result.code, 2, `${name}: exit code (stderr: ${result.err})`);
      assert.match(result.err, says, name);
      assert.equal(await env.redis.dbsize(), 0, `${name}: Redis is untouched`);
      assert.equal(existsSync(storeDir), false, `${name}: the store is untouched`);
    }
  });

  describe('job payloads a worker must refuse at once', () => {
    let worker: RunningWorker;
    let queue: Queue;
    let modelId: string;

    before(async () => {
      await env.launch({ runId: 'real', seeds: '0-19', shardSize: 10, steps: 2 });
      // The real run's own jobs are removed: only the malformed ones below reach the worker.
      await env.queue(FINALIZE_QUEUE_NAME).obliterate({ force: true });
      modelId = await env.modelId();
      queue = await env.sampleQueue();
      await queue.obliterate({ force: true });
      worker = await env.startWorker({ batchSize: 10 });
    });
    after(() => worker.close('now'));

    const good = () => ({ runId: 'real', modelId, shardIndex: 0, seedCheck: { first: 0, last: 9, count: 10 }, storeUrl });
    const payloads: { name: string; data: () => unknown; says: RegExp }[] = [
      { name: 'an empty payload', data: () => ({}), says: /Invalid shard job:.*runId is required/s },
      {
        name: 'a run id that could escape the store',
        data: () => ({ ...good(), runId: '../etc' }),
        says: /runId must be 1 to 63 characters/,
      },
      { name: 'a negative shard index', data: () => ({ ...good(), shardIndex: -1 }), says: /shardIndex must be an integer ≥ 0/ },
      {
        name: 'a seed check whose last seed comes before its first',
        data: () => ({ ...good(), seedCheck: { first: 3, last: 2, count: 2 } }),
        says: /seedCheck\.count must be at most last − first \+ 1 = 0/,
      },
      {
        name: 'no seeds',
        data: () => ({ ...good(), seedCheck: { first: 0, last: 9, count: 0 } }),
        says: /seedCheck\.count must be an integer from 1/,
      },
      { name: 'the seeds themselves', data: () => ({ ...good(), seeds: [0, 1] }), says: /unknown field "seeds"/ },
      {
        name: 'a store URL of another scheme',
        data: () => ({ ...good(), storeUrl: 'ftp://host/runs' }),
        says: /storeUrl must be a store URL/,
      },
      { name: 'an unknown field', data: () => ({ ...good(), extra: 1 }), says: /unknown field "extra"/ },
      {
        name: 'another model',
        data: () => ({ ...good(), modelId: 'model-000000000000' }),
        says: /is for model model-000000000000; this worker serves model-/,
      },
      { name: 'a run that was never launched', data: () => ({ ...good(), runId: 'ghost' }), says: /run ghost has no manifest/ },
      {
        name: 'a seed check that is not the shard of the run',
        data: () => ({ ...good(), seedCheck: { first: 100, last: 101, count: 2 } }),
        says: /its seed check \(2 seeds, 100 to 101\) does not describe shard 0 of run real \(10 seeds, 0 to 9\)/,
      },
      { name: 'a shard index past the run', data: () => ({ ...good(), shardIndex: 7 }), says: /shardIndex must be an integer from 0 to 1/ },
    ];

    it(`fails ${payloads.length} malformed shard jobs and a malformed finalize job without retrying or writing`, {
      timeout: 120_000,
    }, async () => {
      const jobs: { name: string; job: Job; says: RegExp }[] = [];
      for (const { name, data, says } of payloads)
        jobs.push({
          name,
          says,
          job: await queue.add('shard', data(), { jobId: `bad-${jobs.length}`, attempts: 5, backoff: { type: 'fixed', delay: 100 } }),
        });
      const finalizeQueue = env.queue(FINALIZE_QUEUE_NAME);
      jobs.push({
        name: 'a finalize job without store',
        says: /Invalid finalize job:.*storeUrl is required/s,
        job: await finalizeQueue.add('finalize', { runId: 'real' }, { jobId: 'bad-finalize', attempts: 5 }),
      });
      for (const { name, job, says } of jobs) {
        const q = job.queueName === FINALIZE_QUEUE_NAME ? finalizeQueue : queue;
        await waitFor(`${name} to fail`, async () => (await q.getJobState(job.id as string)) === 'failed', 60_000, 100);
        const failed = (await q.getJob(job.id as string)) as Job;
        assert.match(failed.failedReason, says, name);
        assert.equal(failed.attemptsMade, 1, `${name}: failed at once, no retry`);
      }
      assert.deepEqual(await env.store().list(''), [keys.manifest('real')], 'nothing but the real run manifest was written');
      const metrics = await worker.metrics.registry.getSingleMetricAsString('diffq_jobs_total');
      assert.match(
        metrics,
        new RegExp(`diffq_jobs_total\\{queue="${sampleQueueName(modelId).replace('.', '\\.')}",outcome="rejected"\\} ${payloads.length}`),
      );
    });
  });
});
