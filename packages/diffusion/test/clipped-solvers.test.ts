/**
 * The solvers with x̂₀ clipped to [−1, 1] (--clip-denoised): the loop against the same formula
 * computed independently in float64, the equivalence with clipped DDIM, and how clipping composes
 * with dynamic thresholding.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { relativeL2 } from '../../../test/fixtures/small-networks.ts';
import { initBackend } from '../src/backend.ts';
import type { Shape4 } from '../src/rng/noise-source.ts';
import { dpmSolverOrders, sampleDpmSolverPP } from '../src/sampling/dpm-solver-pp.ts';
import { dynamicThreshold } from '../src/sampling/dynamic-threshold.ts';
import type { SolverOptions } from '../src/sampling/solver-options.ts';
import { sampleUniPC } from '../src/sampling/unipc.ts';
import { correctX0 } from '../src/sampling/x0-correction.ts';
import { betaSchedule } from '../src/schedule/beta-schedule.ts';
import { DPM_SOLVER_CLIPPED_LAMBDA, noiseScheduleVP } from '../src/solvers/noise-schedule-vp.ts';
import { solverGridPoints } from '../src/solvers/time-grid.ts';
import { RecordingNoise, TestNetwork, testProcess } from './sampling-test-network.ts';

await initBackend();

const shape: Shape4 = [2, 3, 4, 4];
const labels = Int32Array.from([1, 2]);
const NULL_LABEL = 3;
const W = 2;

async function values(t: tf.Tensor): Promise<Float32Array> {
  const data = (await t.data()) as Float32Array;
  t.dispose();
  return data;
}

/**
 * DPM-Solver++(2M) with x̂₀ clamped to [−1, 1], written out in float64 from the paper's update on the
 * TestNetwork's own formula ε = tanh(0.8·x + t_in/1000 + y/4) with classifier-free guidance
 * ε̃ = (1 + w)·ε(x, y) − w·ε(x, ∅). Shares only the schedule and the grid (pinned by the golden
 * solver_loop cases) with the code under test. Returns the sample and how many values the clip moved.
 */
function referenceClippedDpm2m(xT: Float32Array, steps: number): { x: Float64Array; clamped: number } {
  const schedule = noiseScheduleVP(betaSchedule('cosine', 1000), DPM_SOLVER_CLIPPED_LAMBDA);
  const { grid, at } = solverGridPoints(schedule, 'time_uniform', steps);
  const orders = dpmSolverOrders(2, steps);
  const perSample = xT.length / shape[0];
  let clamped = 0;
  const x0 = (x: Float64Array, k: number): Float64Array => {
    const tIn = Math.fround((grid[k] - 1 / schedule.totalN) * 1000);
    return x.map((v, i) => {
      const y = labels[Math.floor(i / perSample)];
      const eps = (label: number) => Math.tanh(0.8 * v + tIn / 1000 + label / 4);
      const guided = (1 + W) * eps(y) - W * eps(NULL_LABEL);
      const raw = (v - at[k].sigma * guided) / at[k].alpha;
      if (raw > 1 || raw < -1) clamped++;
      return Math.min(1, Math.max(-1, raw));
    });
  };
  let x = Float64Array.from(xT);
  const history = [x0(x, 0)];
  for (let k = 1; k <= steps; k++) {
    const h = at[k].lambda - at[k - 1].lambda;
    const phi1 = Math.expm1(-h);
    const [m0, m1] = history;
    const r0 = orders[k - 1] === 2 ? (at[k - 1].lambda - at[k - 2].lambda) / h : 0;
    x = x.map((v, i) => {
      const firstOrder = (at[k].sigma / at[k - 1].sigma) * v - at[k].alpha * phi1 * m0[i];
      return orders[k - 1] === 2 ? firstOrder - 0.5 * at[k].alpha * phi1 * ((m0[i] - m1[i]) / r0) : firstOrder;
    });
    if (k < steps) history.unshift(x0(x, k));
  }
  return { x, clamped };
}

const base = (over: Partial<SolverOptions> = {}): SolverOptions => ({
  engine: new TestNetwork(false),
  process: testProcess({ timestep_respacing: '' }),
  noise: new RecordingNoise(5),
  shape,
  labels,
  guidance: { type: 'classifier_free', w: W, nullLabel: NULL_LABEL },
  steps: 6,
  order: 2,
  skipType: 'time_uniform',
  clipDenoised: true,
  ...over,
});

describe('the solvers with x̂₀ clipped to the data range', () => {
  it('DPM-Solver++(2M) clipped is the paper’s update on clamp(x̂₀, −1, 1), computed independently', async () => {
    const xT = await values(new RecordingNoise(5).initial(shape));
    const reference = referenceClippedDpm2m(xT, 6);
    assert.ok(reference.clamped > 0, 'the clip never acted: the test would not see it');
    const clipped = await values(await sampleDpmSolverPP(base()));
    assert.ok(relativeL2(clipped, reference.x) < 1e-5, `relative error ${relativeL2(clipped, reference.x)}`);
    const unclipped = await values(await sampleDpmSolverPP(base({ clipDenoised: false })));
    assert.ok(relativeL2(unclipped, reference.x) > 1e-2, 'the unclipped loop should differ from the clipped reference');
  });

  it('every x̂₀ of clipped DPM-Solver++ and UniPC lies in [−1, 1], and the clip changes the sample', async () => {
    const samplers: [string, (o: SolverOptions) => Promise<tf.Tensor4D>][] = [
      ['dpm++3m', (o) => sampleDpmSolverPP({ ...o, order: 3 })],
      ['unipc bh2', (o) => sampleUniPC({ ...o, variant: 'bh2' })],
    ];
    for (const [name, sample] of samplers) {
      const extremes: number[] = [];
      const onStep = async ({ predXstart }: { predXstart: tf.Tensor4D }) => {
        const data = await predXstart.data();
        extremes.push(Math.max(...Array.from(data, Math.abs)));
      };
      const clipped = await values(await sample(base({ onStep })));
      assert.ok(Math.max(...extremes) <= 1, `${name}: |x̂₀| reached ${Math.max(...extremes)}`);
      const unclipped = await values(await sample(base({ clipDenoised: false })));
      assert.ok(relativeL2(clipped, unclipped) > 1e-2, `${name}: clipping changed nothing`);
    }
  });

  it('composes with dynamic thresholding: threshold first, then the clip, which it leaves nothing to do', () => {
    const x0 = tf.tensor4d(
      Array.from({ length: 32 }, (_, i) => (i - 16) / 4),
      [1, 2, 4, 4],
    );
    const [clippedOnly, thresholdOnly, both, neither] = tf.tidy(() => [
      correctX0(x0, { clipDenoised: true }).arraySync(),
      dynamicThreshold(x0, { ratio: 0.9, maxValue: 1 }).arraySync(),
      correctX0(x0, { clipDenoised: true, dynamicThreshold: { ratio: 0.9, maxValue: 1 } }).arraySync(),
      correctX0(x0, { clipDenoised: false }).arraySync(),
    ]);
    assert.deepEqual(
      clippedOnly,
      tf.tidy(() => tf.clipByValue(x0, -1, 1).arraySync()),
    );
    assert.deepEqual(both, thresholdOnly);
    assert.deepEqual(neither, x0.arraySync());
    x0.dispose();
  });

  it('leave no tensors behind', async () => {
    const before = tf.memory().numTensors;
    (await sampleDpmSolverPP(base({ dynamicThreshold: { ratio: 0.9, maxValue: 1 } }))).dispose();
    (await sampleUniPC({ ...base(), variant: 'bh1' })).dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
