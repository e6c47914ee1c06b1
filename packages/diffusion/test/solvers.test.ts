import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { relativeL2 } from '../../../test/fixtures/small-networks.ts';
import { initBackend } from '../src/backend.ts';
import type { Shape4 } from '../src/rng/noise-source.ts';
import { SeedNoiseSource } from '../src/rng/seed-noise.ts';
import { sampleDdim } from '../src/sampling/ddim.ts';
import { dpmSolverOrders, sampleDpmSolverPP } from '../src/sampling/dpm-solver-pp.ts';
import { dynamicThreshold } from '../src/sampling/dynamic-threshold.ts';
import type { CondFn } from '../src/sampling/guidance.ts';
import type { SolverOptions } from '../src/sampling/solver-options.ts';
import { sampleUniPC, solveLinear, uniPcCoefficients, uniPcOrders } from '../src/sampling/unipc.ts';
import { betaSchedule } from '../src/schedule/beta-schedule.ts';
import {
  DPM_SOLVER_CLIPPED_LAMBDA,
  inverseLambda,
  marginalLambda,
  marginalLogMeanCoeff,
  noiseScheduleVP,
} from '../src/solvers/noise-schedule-vp.ts';
import { solverTimeGrid } from '../src/solvers/time-grid.ts';
import { RecordingNoise, TestNetwork, testProcess } from './sampling-test-network.ts';

await initBackend();

const shape: Shape4 = [2, 3, 4, 4];
const labels = Int32Array.from([1, 2]);

async function values(t: tf.Tensor): Promise<Float32Array> {
  const data = (await t.data()) as Float32Array;
  t.dispose();
  return data;
}

const gradTowardsZero: CondFn = async (x) => tf.tidy(() => tf.mul(tf.neg(x), 0.1) as tf.Tensor4D);

describe('the VP noise schedule of the solvers', () => {
  it('clips the cosine schedule’s last four keypoints (λ < −5.1) and keeps all of the linear one', () => {
    const cosine = noiseScheduleVP(betaSchedule('cosine', 1000), DPM_SOLVER_CLIPPED_LAMBDA);
    assert.equal(cosine.totalN, 996);
    assert.equal(cosine.t0, 1 / 996);
    assert.equal(noiseScheduleVP(betaSchedule('cosine', 1000)).totalN, 1000);
    assert.equal(noiseScheduleVP(betaSchedule('linear', 1000), DPM_SOLVER_CLIPPED_LAMBDA).totalN, 1000);
  });

  it('interpolates log α through the keypoints and inverts λ', () => {
    const s = noiseScheduleVP(betaSchedule('linear', 1000));
    assert.equal(marginalLogMeanCoeff(s, 0.5), s.keypointLogAlpha[499]);
    const between = marginalLogMeanCoeff(s, 0.5005);
    assert.ok(Math.abs(between - (s.keypointLogAlpha[499] + s.keypointLogAlpha[500]) / 2) < 1e-12);
    for (const t of [0.001, 0.0137, 0.5, 0.93, 1]) assert.ok(Math.abs(inverseLambda(s, marginalLambda(s, t)) - t) < 1e-9, `t = ${t}`);
  });

  it('spaces the grid uniformly in t, in √t or in λ, from T down to t_0', () => {
    const s = noiseScheduleVP(betaSchedule('linear', 1000));
    const uniform = solverTimeGrid(s, 'time_uniform', 9);
    assert.deepEqual(
      Array.from(uniform, (t) => Math.round((t - 0.001) * 1000)),
      [999, 888, 777, 666, 555, 444, 333, 222, 111, 0],
    );
    const quadratic = solverTimeGrid(s, 'time_quadratic', 4);
    assert.ok(Math.abs(Math.sqrt(quadratic[2]) - (1 + Math.sqrt(0.001)) / 2) < 1e-12);
    const logSnr = Array.from(solverTimeGrid(s, 'logSNR', 5), (t) => marginalLambda(s, t));
    const stepsInLambda = logSnr.slice(1).map((l, k) => l - logSnr[k]);
    for (const d of stepsInLambda) assert.ok(Math.abs(d - stepsInLambda[0]) < 1e-9);
  });
});

describe('solver orders', () => {
  it('DPM-Solver++ lowers the final orders only below 10 steps', () => {
    assert.deepEqual(dpmSolverOrders(2, 5), [1, 2, 2, 2, 1]);
    assert.deepEqual(dpmSolverOrders(3, 5), [1, 2, 3, 2, 1]);
    assert.deepEqual(dpmSolverOrders(3, 10), [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
  });

  it('UniPC lowers them at any number of steps', () => {
    assert.deepEqual(uniPcOrders(3, 10), [1, 2, 3, 3, 3, 3, 3, 3, 2, 1]);
    assert.deepEqual(uniPcOrders(2, 10), [1, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
  });

  it('UniPC’s coefficients solve R·ρ = b, with ½ for the first order', () => {
    assert.deepEqual(
      solveLinear(
        [
          [0, 2],
          [3, 1],
        ],
        [4, 5],
      ),
      [1, 2],
    );
    const c1 = uniPcCoefficients('bh2', 0.3, []);
    assert.deepEqual(c1.rhosC, [0.5]);
    assert.equal(c1.B, Math.expm1(-0.3));
    const c3 = uniPcCoefficients('bh1', 0.3, [-1, -2.1]);
    assert.equal(c3.rhosP.length, 2);
    assert.equal(c3.rhosC.length, 3);
    assert.equal(c3.B, -0.3);
  });
});

describe('dynamic thresholding', () => {
  it('divides by the p-quantile of |x̂_0| per sample, at least m', () => {
    // sample 0: |x| = 0 … 15, the 0.5-quantile is 7.5; sample 1: all within 0.5, so s = m = 1
    const x = tf.tensor4d([...Array.from({ length: 16 }, (_, i) => (i % 2 ? -i : i)), ...Array(16).fill(0.5)], [2, 1, 4, 4]);
    const out = tf.tidy(() => dynamicThreshold(x, { ratio: 0.5, maxValue: 1 }));
    const v = out.dataSync();
    assert.equal(v[2], Math.fround(Math.fround(2) / Math.fround(7.5)));
    assert.equal(v[15], -1);
    assert.equal(v[16], 0.5);
    tf.dispose([x, out]);
  });
});

describe('multistep solvers', () => {
  const base = (over: Partial<SolverOptions> = {}): SolverOptions => ({
    engine: new TestNetwork(true),
    process: testProcess({ learn_sigma: true, timestep_respacing: '' }),
    noise: new RecordingNoise(3),
    shape,
    labels,
    guidance: { type: 'classifier_free', w: 2, nullLabel: 3 },
    steps: 8,
    order: 2,
    skipType: 'time_uniform',
    clipDenoised: false,
    ...over,
  });

  for (const clipDenoised of [false, true]) {
    it(`DPM-Solver++ of order 1 on the uniform grid with denoise-to-zero is DDIM with η = 0, x̂₀ ${clipDenoised ? '' : 'not '}clipped`, async () => {
      const common = { engine: new TestNetwork(false), shape, labels, clipDenoised };
      const ddim = await values(
        await sampleDdim({
          ...common,
          process: testProcess({ noise_schedule: 'linear', timestep_respacing: '10' }),
          noise: new RecordingNoise(4),
          eta: 0,
        }),
      );
      const dpm = await values(
        await sampleDpmSolverPP({
          ...common,
          process: testProcess({ noise_schedule: 'linear', timestep_respacing: '' }),
          noise: new RecordingNoise(4),
          steps: 9,
          order: 1,
          skipType: 'time_uniform',
          denoiseToZero: true,
        }),
      );
      assert.ok(relativeL2(dpm, ddim) < 1e-5, `relative error ${relativeL2(dpm, ddim)}`);
      if (clipDenoised) {
        assert.ok(
          dpm.every((v) => v >= -1 && v <= 1),
          'the denoised result is a clipped x̂₀',
        );
      }
    });
  }

  it('leave no tensors behind, and hold no more per step once the history is full', async () => {
    const runs: [string, (o: SolverOptions) => Promise<tf.Tensor4D>, Partial<SolverOptions>][] = [
      ['dpm++2m, CFG', sampleDpmSolverPP, {}],
      [
        'dpm++3m, classifier, thresholding, denoise',
        sampleDpmSolverPP,
        {
          order: 3,
          skipType: 'logSNR',
          guidance: { type: 'classifier', condFn: gradTowardsZero, labels },
          dynamicThreshold: { ratio: 0.9, maxValue: 1 },
          denoiseToZero: true,
        },
      ],
      ['unipc bh1 order 3', (o) => sampleUniPC({ ...o, variant: 'bh1' }), { order: 3, skipType: 'time_quadratic' }],
      [
        'unipc bh2, classifier',
        (o) => sampleUniPC({ ...o, variant: 'bh2' }),
        { guidance: { type: 'classifier', condFn: gradTowardsZero, labels } },
      ],
    ];
    for (const [name, sample, over] of runs) {
      const before = tf.memory().numTensors;
      const perStep: number[] = [];
      const out = await sample(base({ ...over, onStep: () => void perStep.push(tf.memory().numTensors) }));
      out.dispose();
      assert.equal(tf.memory().numTensors, before, name);
      const order = over.order ?? 2;
      assert.equal(new Set(perStep.slice(order, 8 - 1)).size, 1, `${name}: live tensors per step ${perStep}`);
    }
  });

  it('release everything when a step fails', async () => {
    const before = tf.memory().numTensors;
    let calls = 0;
    const failing = () => {
      if (++calls === 4) throw new Error('stop');
    };
    await assert.rejects(sampleDpmSolverPP(base({ order: 3, onStep: failing })), /stop/);
    calls = 0;
    await assert.rejects(sampleUniPC({ ...base({ onStep: failing }), variant: 'bh2' }), /stop/);
    assert.equal(tf.memory().numTensors, before);
  });

  it('draw x_T only: a seed’s sample is the same whatever batch it is drawn in', async () => {
    const noise = new RecordingNoise(9);
    (await sampleUniPC({ ...base({ noise }), variant: 'bh2' })).dispose();
    assert.deepEqual(noise.requests, ['initial']);
    const seeds = [11, 12, 13];
    const run = async (batch: number[], y: number[]) =>
      values(
        await sampleDpmSolverPP(
          base({ noise: new SeedNoiseSource(batch), shape: [batch.length, 3, 4, 4], labels: Int32Array.from(y), order: 3 }),
        ),
      );
    const together = await run(seeds, [0, 1, 2]);
    const alone = [...(await run([11, 12], [0, 1])), ...(await run([13], [2]))];
    assert.ok(relativeL2(Float32Array.from(alone), together) < 1e-6);
  });

  it('reject orders, step counts and thresholds out of range, naming the value', async () => {
    await assert.rejects(sampleDpmSolverPP(base({ order: 4 })), /order is 4; accepted: 1, 2 or 3/);
    await assert.rejects(sampleDpmSolverPP(base({ order: 3, steps: 2 })), /steps is 2; accepted: an integer ≥ the order 3/);
    await assert.rejects(sampleDpmSolverPP(base({ dynamicThreshold: { ratio: 1.5, maxValue: 1 } })), /ratio is 1.5/);
  });
});
