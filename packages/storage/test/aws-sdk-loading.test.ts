import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FORBIDDEN, forbidImports } from '../../../test/fixtures/forbid-imports.ts';

const scratch = mkdtempSync(join(tmpdir(), 'diffq-aws-sdk-loading-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `script` (ESM, top-level await) in a child process where importing @aws-sdk/* throws. */
function withoutAwsSdk(script: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', ...forbidImports(scratch, ['@aws-sdk/']), '--input-type=module', '-e', script], {
    cwd: import.meta.dirname,
    encoding: 'utf8',
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' },
  });
}

describe('loading the AWS SDK', () => {
  it('never happens for a file:// store, nor for an s3:// store opened but not used', () => {
    const child = withoutAwsSdk(`
      import { openStore } from '@diffq/storage';
      const file = openStore(${JSON.stringify(`file://${join(scratch, 'runs')}`)});
      await file.put('r/manifest.json', '{}');
      if (!(await file.exists('r/manifest.json'))) throw new Error('the file store lost its object');
      const s3 = openStore('s3://bucket/runs');
      console.log(s3.urlOf('r/manifest.json'));
      s3.close();
    `);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 's3://bucket/runs/r/manifest.json');
  });

  it('happens on the first operation of an s3:// store', () => {
    const child = withoutAwsSdk(`
      import { openStore } from '@diffq/storage';
      await openStore('s3://bucket/runs').exists('r/manifest.json');
    `);
    assert.notEqual(child.status, 0);
    assert.match(child.stderr, new RegExp(`${FORBIDDEN}: @aws-sdk/client-s3`));
  });
});
