import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { freshBuild } from '../bin/fresh-build.js';

describe('the CLI bundle is run only while it is fresh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffq-fresh-build-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const dist = pathToFileURL(`${dir}/`);
  const source = join(dir, 'source.ts');
  writeFileSync(source, 'export {};\n');
  const builtAt = Date.now();
  const writeInputs = (inputs: string[]) => writeFileSync(join(dir, 'inputs.json'), JSON.stringify({ builtAt, inputs }));
  const setMtime = (ms: number) => utimesSync(source, new Date(ms), new Date(ms));

  it('takes the bundle when no source changed since it was built', () => {
    writeInputs([source]);
    setMtime(builtAt - 60_000);
    assert.equal(freshBuild(dist), new URL('cli.js', dist).href);
  });

  it('takes the sources once one of them is newer than the bundle', () => {
    writeInputs([source]);
    setMtime(builtAt + 1000);
    assert.equal(freshBuild(dist), undefined);
  });

  it('takes the sources when a source the bundle was built from is gone, or there is no bundle', () => {
    writeInputs([source, join(dir, 'deleted.ts')]);
    setMtime(builtAt - 60_000);
    assert.equal(freshBuild(dist), undefined);
    assert.equal(freshBuild(pathToFileURL(join(dir, 'nothing/'))), undefined);
  });
});
