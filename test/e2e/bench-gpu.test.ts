import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from './harness.ts';

/** Whether onnxruntime-node's CUDA provider library is installed here (then the failure cannot be shown). */
function cudaInstalled(): boolean {
  const ort = dirname(createRequire(join(REPO, 'package.json')).resolve('onnxruntime-node'));
  return existsSync(join(ort, '..', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so'));
}

describe('npm run bench -- gpu on a machine without CUDA', () => {
  it('exits non-zero saying the CUDA provider did not load, and prints no figure', {
    skip: cudaInstalled() && 'the CUDA provider is installed here',
  }, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'run.ts'), 'gpu'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /bench gpu failed: gpu: the CUDA execution provider did not load \(.+\); this bench measures GPUs only and does not fall back to the CPU/,
    );
    assert.doesNotMatch(run.stdout, /samples|per second/);
  });
});
