/**
 * The PyTorch twins of bench/python (adm_unet.py, dit_reference.py, sd_decoder.py), which the device
 * check and the latent benches time against diffq, are the networks diffq runs: every vendored case of
 * a network kind passes through them (bench/python/golden_twin.py, one python process) within the
 * case's tolerance, and the UNet twin reads model.json exactly as diffq's parser does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseUNetConfig, readSafetensors, type TensorToWrite, unetParameterShapes, writeSafetensors } from '@diffq/networks';
import { PYTHON, skipUnlessPython } from '../fixtures/reference-python.ts';

const CASES = join(import.meta.dirname, 'cases');
const TWINS = join(import.meta.dirname, '..', '..', 'bench', 'python');

/**
 * Case kinds that need no PyTorch twin, and why. Any other kind is sent to golden_twin.py, which
 * fails a kind it has no twin for: a newly vendored network kind is noticed here.
 */
const NO_TWIN: Record<string, string> = {
  schedule: 'diffusion arithmetic, no network',
  q_sample_and_posterior: 'diffusion arithmetic, no network',
  p_mean_variance: 'diffusion arithmetic on a stored model output',
  sample_loop: 'a sampling loop; its network is the UNet that unet_forward pins',
  training_loss: 'a loss on a stored model output',
  solver_loop: 'a solver loop on stored model outputs',
  latent_loop: 'a sampling loop; its networks are those dit_forward and vae_decode pin',
  frechet: 'statistics, no network',
  inception_score: 'statistics, no network',
  philox_noise: "diffq's noise generator, no network",
  classifier_forward: 'the noisy classifier, which no bench times against PyTorch',
  inception_features: "a feature network checked against pytorch-fid's own code",
  dinov2_features: "a feature network checked against DINOv2's own code",
};
const TWINNED = ['unet_forward', 'dit_forward', 'vae_decode'];

interface TwinResult {
  case: string;
  kind: string;
  pass: boolean;
  /** Which attention branch the twins took: fused (scaled_dot_product_attention) or explicit. */
  attention: string;
  error?: string;
  outputs?: Record<string, { pass: boolean; rel_l2?: number; max_abs_diff?: number; mismatch_fraction?: number }>;
}

/** golden_twin.py on `caseDirs`; `script` twins_fused_attention.py forces the fused-attention branch. */
function runTwins(caseDirs: string[], script = join(TWINS, 'golden_twin.py')) {
  const run = spawnSync(PYTHON, [script, ...caseDirs], { encoding: 'utf8' });
  const lines = run.stdout.trim().split('\n').filter(Boolean);
  return { status: run.status, results: lines.map((l) => JSON.parse(l) as TwinResult), stdout: run.stdout, stderr: run.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'diffq-twins-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a vendored case with one output tensor rewritten by `edit`. */
function tamperedCase(name: string, output: string, edit: (data: Float32Array | BigInt64Array) => void): string {
  const target = join(dir, name);
  cpSync(join(CASES, name), target, { recursive: true });
  const file = join(target, 'tensors.safetensors');
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)));
  const rewritten: Record<string, TensorToWrite> = {};
  for (const [key, t] of tensors) {
    const data = (t.data as Float32Array | Float64Array | BigInt64Array).slice();
    if (key === output) edit(data as Float32Array | BigInt64Array);
    rewritten[key] = { shape: t.shape, data };
  }
  writeFileSync(file, writeSafetensors(rewritten));
  return target;
}

/** Every vendored case of a kind not in NO_TWIN. */
const networkCases = readdirSync(CASES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => ({ dir: join(CASES, e.name), kind: JSON.parse(readFileSync(join(CASES, e.name, 'case.json'), 'utf8')).kind as string }))
  .filter((c) => !(c.kind in NO_TWIN));

/** Every one of `dirs` (covering each twinned kind) passed the twins. */
function assertAllPass(dirs: string[], { status, results, stderr }: ReturnType<typeof runTwins>): void {
  for (const kind of TWINNED)
    assert.ok(
      networkCases.some((c) => c.kind === kind && dirs.includes(c.dir)),
      `no vendored ${kind} case to check its twin on`,
    );
  assert.equal(results.length, dirs.length, `golden_twin.py answered ${results.length} of ${dirs.length} cases: ${stderr}`);
  for (const r of results) assert.ok(r.pass, `${r.case} (${r.kind}): ${r.error ?? JSON.stringify(r.outputs)}`);
  assert.equal(status, 0, stderr);
}

describe('the PyTorch twins', { skip: skipUnlessPython(['torch']) }, () => {
  it('reproduce every vendored network case within its tolerance, and every case kind has a twin or a reason', () => {
    const dirs = networkCases.map((c) => c.dir);
    assertAllPass(dirs, runTwins(dirs));
  });

  it('reproduce them through the fused-attention branch that torch >= 2.0 takes', () => {
    const dirs = networkCases.filter((c) => TWINNED.includes(c.kind)).map((c) => c.dir);
    const run = runTwins(dirs, join(import.meta.dirname, 'twins_fused_attention.py'));
    assert.ok(
      run.results.every((r) => r.attention === 'fused'),
      run.stdout,
    );
    assertAllPass(dirs, run);
  });

  it('fail a case whose reference output moved by 1 %, and uint8 levels off by 2', () => {
    const unet = tamperedCase('unet_b_mult21_16px_updown_newattn_noss_1ch', 'output', (d) => {
      for (let i = 0; i < d.length; i++) (d as Float32Array)[i] *= 1.01;
    });
    const vae = tamperedCase('vae_decode_ldm_ch32_mult12_rb1_n2_8px', 'uint8', (d) => {
      const levels = d as BigInt64Array;
      levels[0] = levels[0] < 128n ? levels[0] + 2n : levels[0] - 2n;
    });
    const { status, results } = runTwins([unet, vae]);
    assert.notEqual(status, 0);
    assert.equal(results[0].outputs?.output.pass, false);
    assert.ok(Math.abs((results[0].outputs?.output.rel_l2 ?? 0) - 0.01 / 1.01) < 1e-4, JSON.stringify(results[0]));
    assert.equal(results[1].outputs?.images.pass, true);
    assert.deepEqual([results[1].outputs?.uint8.pass, results[1].outputs?.uint8.max_abs_diff], [false, 2]);
    const alone = spawnSync(PYTHON, [join(TWINS, 'adm_unet.py'), '--case', unet], { encoding: 'utf8' });
    assert.equal(alone.status, 1, alone.stderr);
    assert.equal(JSON.parse(alone.stdout).rel_l2, results[0].outputs?.output.rel_l2);
  });

  it('say which kind has no twin rather than pass it', () => {
    const { status, results } = runTwins([join(CASES, 'classifier_a_attnpool')]);
    assert.notEqual(status, 0);
    assert.equal(results[0].pass, false);
    assert.match(results[0].error ?? '', /no PyTorch twin for kind classifier_forward/);
  });

  it('read model.json as diffq does: the same accepted flags, resolved config and state_dict shapes', () => {
    const base = { image_size: 32, num_channels: 32, num_res_blocks: 1 };
    const argsList: Record<string, unknown>[] = [
      { image_size: 32, num_channels: 64, num_res_blocks: 2 },
      {
        image_size: 512,
        num_channels: 64,
        num_res_blocks: 1,
        attention_resolutions: '32',
        num_head_channels: 32,
        class_cond: true,
        learn_sigma: true,
        use_scale_shift_norm: true,
        resblock_updown: true,
        use_fp16: true,
        use_checkpoint: false,
      },
      {
        image_size: 64,
        num_channels: 32,
        num_res_blocks: 2,
        channel_mult: [1, 2],
        attention_resolutions: '64,32',
        num_heads: 2,
        num_heads_upsample: 4,
        use_new_attention_order: true,
        in_channels: 1,
        class_cond: true,
        num_classes: 5,
        dropout: 0.1,
        derived: { model_channels: 32 },
      },
      { image_size: 8, num_channels: 32, num_res_blocks: 3, channel_mult: ' 1, 1 ', attention_resolutions: '' },
      { ...base, unknown_flag: 1 },
      { ...base, num_classes: 10 },
      { ...base, attention_resolutions: '3' },
      { ...base, channel_mult: '1,x' },
      { ...base, num_channels: 48 },
      { ...base, num_head_channels: 0 },
      { ...base, num_head_channels: 64 },
      { ...base, image_size: 48 },
      { ...base, image_size: 36, channel_mult: '1,1,1,1', attention_resolutions: '' },
      { ...base, num_res_blocks: 0 },
      { ...base, class_cond: 'yes' },
      { ...base, image_size: 32.5 },
      { image_size: 32, num_res_blocks: 1 },
    ];
    const run = spawnSync(PYTHON, [join(TWINS, 'adm_unet.py'), '--shapes'], { input: JSON.stringify(argsList), encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const python = JSON.parse(run.stdout) as { config?: Record<string, unknown>; shapes?: Record<string, number[]>; error?: string }[];
    const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    argsList.forEach((args, i) => {
      let diffq: { config: Record<string, unknown>; shapes: Record<string, number[]> } | { error: string };
      try {
        const config = parseUNetConfig(args);
        diffq = {
          config: Object.fromEntries(Object.entries(config).map(([k, v]) => [snake(k), v])),
          shapes: Object.fromEntries(unetParameterShapes(config)),
        };
      } catch (e) {
        diffq = { error: (e as Error).message };
      }
      const what = `model ${JSON.stringify(args)}`;
      if ('error' in diffq) {
        assert.ok(python[i].error, `${what}: diffq refuses it (${diffq.error}) but adm_unet.py accepts it`);
      } else {
        assert.equal(python[i].error, undefined, `${what}: diffq accepts it but adm_unet.py says ${python[i].error}`);
        assert.deepEqual(python[i].config, diffq.config, what);
        assert.deepEqual(python[i].shapes, diffq.shapes, what);
      }
    });
    assert.ok(python.filter((p) => p.error).length >= 10 && python.filter((p) => p.config).length === 4);
  });
});
