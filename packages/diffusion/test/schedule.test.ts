import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { betaSchedule, cosineAlphaBar, linearBetas } from '../src/schedule/beta-schedule.ts';
import { parseDiffusionConfig } from '../src/schedule/diffusion-config.ts';
import { createProcess, modelTimesteps } from '../src/schedule/diffusion-process.ts';
import { roundHalfToEven, spaceTimesteps } from '../src/schedule/respacing.ts';

describe('timestep respacing', () => {
  it('keeps every step for an empty string', () => {
    assert.deepEqual(spaceTimesteps(7, ''), [0, 1, 2, 3, 4, 5, 6]);
  });

  it('rounds accumulated strides half to even, as Python round does ("25" of 1000 keeps 166 and 832)', () => {
    const kept = spaceTimesteps(1000, '25');
    assert.equal(kept.length, 25);
    assert.ok(kept.includes(166) && kept.includes(832), `kept ${kept}`);
    assert.ok(!kept.includes(167) && !kept.includes(833));
    assert.equal(kept[0], 0);
    assert.equal(kept.at(-1), 999);
  });

  it('rounds exact halves to the even neighbour', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 832.5, 2.4999, 2.5001].map(roundHalfToEven), [0, 2, 2, 832, 2, 3]);
  });

  it('cuts the steps into sections, the first ones a step longer, each spanning its own section', () => {
    const kept = spaceTimesteps(10, '2,3,1');
    // sections of 4, 3 and 3 steps: [0..3] takes 0 and 3, [4..6] takes 4, 5, 6, [7..9] takes 7
    assert.deepEqual(kept, [0, 3, 4, 5, 6, 7]);
  });

  it('keeps 0, k, 2k, … for ddimN and never the last step unless the stride lands on it', () => {
    const kept = spaceTimesteps(1000, 'ddim50');
    assert.equal(kept.length, 50);
    assert.equal(kept[1], 20);
    assert.equal(kept.at(-1), 980);
  });

  it('picks the smallest stride giving exactly N steps for ddimN', () => {
    assert.deepEqual(spaceTimesteps(10, 'ddim4'), [0, 3, 6, 9]);
  });

  it('rejects strings that are neither of the accepted forms, naming the value and the forms', () => {
    for (const bad of ['abc', '10,,20', '-5', '2.5', 'ddim', 'ddimx', '10 20']) {
      assert.throws(
        () => spaceTimesteps(1000, bad),
        (e: Error) => e.message.includes(`"${bad}"`) && e.message.includes('ddimN') && e.message.includes('"a,b,c"'),
        bad,
      );
    }
  });

  it('rejects a section asked for more steps than it has', () => {
    assert.throws(() => spaceTimesteps(10, '6,1'), /section 1 of 2 has 5 of the 10 steps and cannot take 6/);
  });

  it('rejects a section asked for zero steps', () => {
    assert.throws(() => spaceTimesteps(100, '0'), /cannot take 0/);
  });

  it('explains when no integer stride gives ddimN', () => {
    assert.throws(() => spaceTimesteps(1000, 'ddim3000'), /no integer stride k ≥ 1 keeps exactly 3000 of 1000 steps/);
    assert.throws(() => spaceTimesteps(10, 'ddim7'), /exactly 7 of 10/);
  });
});

describe('beta schedules', () => {
  it('spans s·1e-4 to s·0.02 with s = 1000/steps for the linear schedule', () => {
    const b = linearBetas(500);
    assert.equal(b[0], 2 * 0.0001);
    assert.equal(b[499], 2 * 0.02);
    assert.ok(Math.abs(b[1] - b[0] - (b[499] - b[498])) < 1e-15);
  });

  it('caps cosine betas at 0.999 and follows ᾱ(u) = cos²((u+0.008)/1.008·π/2)', () => {
    const b = betaSchedule('cosine', 1000);
    assert.equal(b[999], 0.999);
    let alphaBar = 1;
    for (let i = 0; i < 500; i++) alphaBar *= 1 - b[i];
    assert.ok(Math.abs(alphaBar - cosineAlphaBar(0.5) / cosineAlphaBar(0)) < 1e-12);
  });

  it('refuses a linear schedule too short to keep every beta below 1', () => {
    assert.throws(() => betaSchedule('linear', 10), /linear schedule needs steps > 20/);
  });
});

describe('the spaced process', () => {
  const config = (over: Record<string, unknown>) => parseDiffusionConfig({ steps: 1000, noise_schedule: 'cosine', ...over });

  it('keeps the base process ᾱ at the kept timesteps', () => {
    const base = createProcess(config({}));
    const spaced = createProcess(config({ timestep_respacing: '10,15,20' }));
    assert.equal(spaced.numTimesteps, 45);
    spaced.timestepMap.forEach((orig, t) => {
      assert.ok(Math.abs(spaced.alphasCumprod[t] - base.alphasCumprod[orig]) < 1e-12, `t=${t}`);
    });
  });

  it('equals the base process when nothing is respaced', () => {
    const p = createProcess(config({}));
    // β' = 1 − ᾱ_t/ᾱ_{t−1} recovers β up to float64 rounding, as in the reference.
    p.betas.forEach((b, t) => {
      assert.ok(Math.abs(b - p.baseBetas[t]) <= 1e-12 * p.baseBetas[t], `t=${t}`);
    });
    assert.deepEqual(
      Array.from(p.timestepMap),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('clips the posterior log-variance at t = 0 to that of t = 1', () => {
    const p = createProcess(config({ timestep_respacing: '50' }));
    assert.equal(p.posteriorVariance[0], 0);
    assert.equal(p.posteriorLogVarianceClipped[0], Math.log(p.posteriorVariance[1]));
  });

  it('gives the network the original timestep, rescaled to 0…1000 in float32 when asked', () => {
    const plain = createProcess(parseDiffusionConfig({ steps: 4000, timestep_respacing: 'ddim4' }));
    assert.deepEqual(Array.from(modelTimesteps(plain, [0, 1, 3])), [0, 1000, 3000]);
    const rescaled = createProcess(parseDiffusionConfig({ steps: 3000, timestep_respacing: 'ddim3', rescale_timesteps: true }));
    assert.deepEqual(Array.from(modelTimesteps(rescaled, [1, 2])), [
      Math.fround(1000 * Math.fround(1 / 3)),
      Math.fround(2000 * Math.fround(1 / 3)),
    ]);
  });

  it('names the timestep and its range when t is outside the process', () => {
    const p = createProcess(config({ timestep_respacing: '20' }));
    assert.throws(() => modelTimesteps(p, [3, 20]), /t\[1\] is 20; accepted: an integer in \[0, 19\]/);
  });

  it('refuses a respacing that keeps a single step', () => {
    assert.throws(() => createProcess(config({ timestep_respacing: '1' })), /keeps 1 step; a process needs at least 2/);
  });
});
