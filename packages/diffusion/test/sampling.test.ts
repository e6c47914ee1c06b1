import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.ts';
import type { Shape4 } from '../src/rng/noise-source.ts';
import { SeedNoiseSource } from '../src/rng/seed-noise.ts';
import { sampleDdim } from '../src/sampling/ddim.ts';
import { sampleDdpm } from '../src/sampling/ddpm.ts';
import { generate } from '../src/sampling/generate.ts';
import type { CondFn, Guidance } from '../src/sampling/guidance.ts';
import { guidedOutput } from '../src/sampling/guided-output.ts';
import { toUint8Nhwc } from '../src/sampling/to-uint8.ts';
import { modelTimesteps } from '../src/schedule/diffusion-process.ts';
import { RecordingNoise, TestNetwork, testProcess } from './sampling-test-network.ts';

await initBackend();

const shape: Shape4 = [2, 3, 4, 4];
const labels = Int32Array.from([1, 2]);

/** A classifier-like gradient: −x scaled by the label, so it depends on x, t's value is recorded. */
function recordingCondFn(seen: number[][]): CondFn {
  return async (x, timesteps, y) => {
    seen.push(Array.from(timesteps.dataSync()));
    return tf.tidy(() => tf.mul(tf.neg(x), tf.reshape(tf.add(tf.cast(y, 'float32'), 1), [-1, 1, 1, 1])) as tf.Tensor4D);
  };
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  const data = (await t.data()) as Float32Array;
  t.dispose();
  return data;
}

describe('sampling loops', () => {
  it('leave no tensors behind, whatever the sampler and guidance', async () => {
    type OnStep = () => void;
    const cases: { name: string; run: (onStep: OnStep) => Promise<tf.Tensor4D> }[] = [
      {
        name: 'ddpm, learned sigma, classifier-free',
        run: (onStep) =>
          sampleDdpm({
            engine: new TestNetwork(true),
            process: testProcess({ learn_sigma: true }),
            noise: new RecordingNoise(1),
            shape,
            labels,
            guidance: { type: 'classifier_free', w: 2, nullLabel: 3 },
            clipDenoised: true,
            onStep,
          }),
      },
      {
        name: 'ddpm, classifier guidance',
        run: (onStep) =>
          sampleDdpm({
            engine: new TestNetwork(false),
            process: testProcess(),
            noise: new RecordingNoise(2),
            shape,
            guidance: { type: 'classifier', condFn: recordingCondFn([]), labels },
            clipDenoised: true,
            onStep,
          }),
      },
      {
        name: 'ddim eta 0.5, learned sigma, classifier guidance',
        run: (onStep) =>
          sampleDdim({
            engine: new TestNetwork(true),
            process: testProcess({ learn_sigma: true, timestep_respacing: 'ddim10' }),
            noise: new RecordingNoise(3),
            shape,
            labels,
            guidance: { type: 'classifier', condFn: recordingCondFn([]), labels },
            clipDenoised: false,
            eta: 0.5,
            onStep,
          }),
      },
    ];
    for (const c of cases) {
      const before = tf.memory().numTensors;
      const perStep: number[] = [];
      const sample = await c.run(() => perStep.push(tf.memory().numTensors));
      sample.dispose();
      assert.equal(tf.memory().numTensors, before, c.name);
      // not only at the end: the live count is the same at every step
      assert.equal(new Set(perStep).size, 1, `${c.name}: live tensors per step ${perStep}`);
    }
  });

  it('draws x_T first and then exactly one draw per step in loop order, also at t = 0', async () => {
    for (const run of [
      (noise: RecordingNoise) => sampleDdpm({ engine: new TestNetwork(false), process: testProcess(), noise, shape, clipDenoised: true }),
      (noise: RecordingNoise) =>
        sampleDdim({ engine: new TestNetwork(false), process: testProcess(), noise, shape, clipDenoised: true, eta: 0.5 }),
    ]) {
      const noise = new RecordingNoise(5);
      (await run(noise)).dispose();
      assert.deepEqual(noise.requests, ['initial', ...Array.from({ length: 8 }, (_, i) => `step ${i}`)]);
    }
  });

  it('DDIM at eta = 0 draws only x_T, and its samples are those of any step noise times σ = 0', async () => {
    const noise = new RecordingNoise(5);
    const ddim = (n: RecordingNoise, eta: number) =>
      sampleDdim({ engine: new TestNetwork(false), process: testProcess(), noise: n, shape, clipDenoised: true, eta });
    const skipped = await ddim(noise, 0);
    assert.deepEqual(noise.requests, ['initial']);
    // η = 1e-30 draws every z, but σ·z (~1e-30) is far below float32 resolution of x: the formula with z.
    const drawn = await ddim(new RecordingNoise(5), 1e-30);
    assert.deepEqual(Array.from(skipped.dataSync()), Array.from(drawn.dataSync()));
    skipped.dispose();
    drawn.dispose();
  });

  it('calls the network with the mapped timesteps from S−1 down to 0', async () => {
    const engine = new TestNetwork(false);
    const process = testProcess({ timestep_respacing: 'ddim8', rescale_timesteps: true, steps: 4000 });
    (await sampleDdim({ engine, process, noise: new RecordingNoise(6), shape, clipDenoised: true, eta: 0 })).dispose();
    const expected = Array.from({ length: 8 }, (_, i) => modelTimesteps(process, [7 - i, 7 - i]));
    assert.deepEqual(
      engine.calls.map((c) => c.timesteps),
      expected.map((e) => Array.from(e)),
    );
    assert.equal(engine.calls[0].timesteps[0], Math.fround(3500 * Math.fround(0.25)));
  });

  it('is deterministic under DDIM with eta = 0: the step draws do not matter', async () => {
    /** DDIM from the x_T of seed 7 with the step draws of `stepSeed`. */
    const run = async (eta: number, stepSeed: number) => {
      const initial = new RecordingNoise(7);
      const steps = new RecordingNoise(stepSeed);
      return values(
        await sampleDdim({
          engine: new TestNetwork(true),
          process: testProcess({ learn_sigma: true }),
          noise: { initial: (s: Shape4) => initial.initial(s), step: (i: number, s: Shape4) => steps.step(i, s) },
          shape,
          clipDenoised: true,
          eta,
        }),
      );
    };
    assert.deepEqual(await run(0, 100), await run(0, 200));
    assert.notDeepEqual(await run(1, 100), await run(1, 200));
  });

  it('gives the same sample for the same noise whatever the sampler is called from', async () => {
    const opts = { engine: new TestNetwork(true), process: testProcess({ learn_sigma: true }), shape, labels, clipDenoised: true };
    const a = await values(await sampleDdpm({ ...opts, noise: new RecordingNoise(8) }));
    const b = await values(await sampleDdpm({ ...opts, noise: new RecordingNoise(8) }));
    assert.deepEqual(a, b);
  });

  it('passes the classifier the same mapped timesteps as the network, and a zero gradient changes nothing', async () => {
    const seen: number[][] = [];
    const engine = new TestNetwork(false);
    const process = testProcess({ timestep_respacing: '10,15,20' });
    const guided = await values(
      await sampleDdpm({
        engine,
        process,
        noise: new RecordingNoise(9),
        shape,
        clipDenoised: true,
        guidance: { type: 'classifier', condFn: recordingCondFn(seen), labels },
      }),
    );
    assert.deepEqual(
      seen,
      engine.calls.map((c) => c.timesteps),
    );
    const zeroGrad: Guidance = { type: 'classifier', labels, condFn: async (x) => tf.zerosLike(x) };
    // DDPM adds Σ·0 to the mean: exact. DDIM re-derives x̂_0 through ε (condition_score): equal up to float32 rounding.
    const unguided: Float32Array[] = [];
    for (const [sample, tolerance] of [
      [sampleDdpm, 0],
      [(o: Parameters<typeof sampleDdpm>[0]) => sampleDdim({ ...o, eta: 0.3 }), 1e-4],
    ] as const) {
      const base = { engine: new TestNetwork(false), process, shape, clipDenoised: true };
      const plain = await values(await sample({ ...base, noise: new RecordingNoise(9) }));
      const zero = await values(await sample({ ...base, noise: new RecordingNoise(9), guidance: zeroGrad }));
      zero.forEach((v, i) => {
        assert.ok(Math.abs(v - plain[i]) <= tolerance, `element ${i}: ${v} vs ${plain[i]}`);
      });
      unguided.push(plain);
    }
    assert.notDeepEqual(guided, unguided[0], 'the classifier gradient moves the DDPM sample');
  });

  it('refuses classifier-free guidance without labels, or with a label that is not below the null label', async () => {
    const base = { engine: new TestNetwork(false), process: testProcess(), noise: new RecordingNoise(1), shape, clipDenoised: true };
    await assert.rejects(sampleDdpm({ ...base, guidance: { type: 'classifier_free', w: 1, nullLabel: 3 } }), /needs labels/);
    await assert.rejects(
      sampleDdpm({ ...base, labels: Int32Array.from([0, 3]), guidance: { type: 'classifier_free', w: 1, nullLabel: 3 } }),
      /label 3 is not a class below the null label 3/,
    );
    await assert.rejects(sampleDdpm({ ...base, labels: Int32Array.from([0]) }), /labels has 1 entries; the batch has 2 samples/);
  });

  it('leaves no tensors behind when the noise source refuses the shape', async () => {
    const before = tf.memory().numTensors;
    await assert.rejects(
      sampleDdpm({
        engine: new TestNetwork(false),
        process: testProcess(),
        noise: new SeedNoiseSource([1]),
        shape,
        labels,
        guidance: { type: 'classifier', condFn: recordingCondFn([]), labels },
        clipDenoised: true,
      }),
      /asks for 2 samples but the batch has 1 seeds/,
    );
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('classifier-free guidance', () => {
  it('runs both passes as one forward of 2N and equals two separate passes combined', async () => {
    const engine = new TestNetwork(true);
    const x = tf.randomNormal(shape, 0, 1, 'float32', 11) as tf.Tensor4D;
    const timesteps = tf.tensor1d([500, 500]);
    const y = tf.tensor1d(labels, 'int32');
    const nullY = tf.tensor1d([3, 3], 'int32');
    const w = 1.5;
    const batched = await guidedOutput(engine, x, timesteps, y, { type: 'classifier_free', w, nullLabel: 3 });
    assert.deepEqual(
      engine.calls.map((c) => [c.batch, c.labels]),
      [[4, [1, 2, 3, 3]]],
    );
    const cond = await engine.forward(x, timesteps, y);
    const uncond = await engine.forward(x, timesteps, nullY);
    const separate = tf.tidy(() => {
      const [condEps, condVar] = tf.split(cond, 2, 1);
      const [uncondEps] = tf.split(uncond, 2, 1);
      return tf.concat([tf.sub(tf.mul(1 + w, condEps), tf.mul(w, uncondEps)), condVar], 1);
    });
    assert.deepEqual(await values(batched), await values(separate));
    tf.dispose([x, timesteps, y, nullY, cond, uncond]);
  });
  it('guides only the first k ε channels when asked, as DiT forward_with_cfg: the rest and the variance are the conditional pass', async () => {
    const engine = new TestNetwork(true);
    const x = tf.randomNormal(shape, 0, 1, 'float32', 12) as tf.Tensor4D;
    const timesteps = tf.tensor1d([300, 300]);
    const y = tf.tensor1d(labels, 'int32');
    const nullY = tf.tensor1d([3, 3], 'int32');
    const w = 2;
    const partial = await values(
      await guidedOutput(engine, x, timesteps, y, { type: 'classifier_free', w, nullLabel: 3, guidedChannels: 2 }),
    );
    const cond = await engine.forward(x, timesteps, y);
    const uncond = await engine.forward(x, timesteps, nullY);
    // DiT's own formula with s = 1 + w: u + s·(c − u) on channels 0…k−1, c on the others.
    const s = 1 + w;
    const expected = tf.tidy(() => {
      const c = tf.slice(cond, [0, 0, 0, 0], [-1, 2, -1, -1]);
      const u = tf.slice(uncond, [0, 0, 0, 0], [-1, 2, -1, -1]);
      return tf.concat([tf.add(u, tf.mul(s, tf.sub(c, u))), tf.slice(cond, [0, 2, 0, 0], [-1, 4, -1, -1])], 1);
    });
    const want = await values(expected);
    partial.forEach((v, i) => {
      assert.ok(Math.abs(v - want[i]) <= 1e-6, `element ${i}: ${v} vs ${want[i]}`);
    });
    const all = await values(await guidedOutput(engine, x, timesteps, y, { type: 'classifier_free', w, nullLabel: 3 }));
    const allExplicit = await values(
      await guidedOutput(engine, x, timesteps, y, { type: 'classifier_free', w, nullLabel: 3, guidedChannels: 3 }),
    );
    assert.deepEqual(allExplicit, all, 'k = C is guidance on every channel');
    // Channel 2 (unguided with k = 2) differs from the all-channel output; channels 0–1 and the variance agree.
    const plane = 16;
    for (let n = 0; n < 2; n++) {
      const base = n * 6 * plane;
      assert.deepEqual(partial.subarray(base, base + 2 * plane), all.subarray(base, base + 2 * plane));
      assert.notDeepEqual(partial.subarray(base + 2 * plane, base + 3 * plane), all.subarray(base + 2 * plane, base + 3 * plane));
      assert.deepEqual(partial.subarray(base + 3 * plane, base + 6 * plane), all.subarray(base + 3 * plane, base + 6 * plane));
    }
    await assert.rejects(
      guidedOutput(engine, x, timesteps, y, { type: 'classifier_free', w, nullLabel: 3, guidedChannels: 4 }),
      /guided channels is 4; accepted: an integer from 1 to the samples' 3 channels/,
    );
    tf.dispose([x, timesteps, y, nullY, cond, uncond]);
  });
});

describe('generate', () => {
  it('converts as image_sample.py: (x + 1)·127.5 clamped to [0, 255], truncated, NHWC', () => {
    // one 1×2×1×3 image: channel 0 then channel 1, three pixels each
    const out = toUint8Nhwc(Float32Array.from([-1, 0, 1, 0.999, -2, 7]), [1, 2, 1, 3]);
    assert.deepEqual(Array.from(out), [0, 254, 127, 0, 255, 255]);
  });

  it('returns uint8 NHWC images of the float samples it can also return', async () => {
    const options = {
      engine: new TestNetwork(false),
      process: testProcess(),
      sampler: { kind: 'ddim', eta: 0, clipDenoised: true },
      shape,
    } as const;
    const result = await generate({ ...options, noise: new RecordingNoise(12), keepFloat: true });
    assert.deepEqual(result.imageShape, [2, 4, 4, 3]);
    assert.ok(result.samples);
    assert.deepEqual(result.images, toUint8Nhwc(result.samples, shape));
    const without = await generate({ ...options, noise: new RecordingNoise(12) });
    assert.equal(without.samples, undefined);
    assert.deepEqual(without.images, result.images);
  });

  it('rejects a negative DDIM eta, naming the accepted range', async () => {
    await assert.rejects(
      generate({
        engine: new TestNetwork(false),
        process: testProcess(),
        sampler: { kind: 'ddim', eta: -1, clipDenoised: true },
        noise: new RecordingNoise(1),
        shape,
      }),
      /DDIM eta is -1; accepted: a number ≥ 0/,
    );
  });
});
