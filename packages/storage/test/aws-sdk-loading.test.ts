import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const scratch = mkdtempSync(join(tmpdir(), 'diffq-aws-sdk-loading-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// A resolve hook that makes any import of the AWS SDK fail loudly in the child process.
const hooks = join(scratch, 'forbid-aws-sdk.mjs');
writeFileSync(
  hooks,
  `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@aws-sdk/')) throw new Error('the AWS SDK was loaded: ' + specifier);
  return next(specifier, context);
}
`,
);
const register = join(scratch, 'register.mjs');
writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

/** Runs `script` (ESM, top-level await) in a child process where importing @aws-sdk/* throws. */
function withoutAwsSdk(script: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--import', register, '--input-type=module', '-e', script], {
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
    assert.match(child.stderr, /the AWS SDK was loaded: @aws-sdk\/client-s3/);
  });
});
