import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

const REPO = resolve(import.meta.dirname, '..', '..');

/** npm in the repository, as a user runs it; its own update and audit chatter off. */
function npm(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('npm', args, {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', ...env },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const pending = npm(['approve-scripts', '--allow-scripts-pending']);
const noPolicy =
  pending.code === 0
    ? false
    : `this npm (${npm(['--version']).out.trim()}) has no allowScripts policy; docs/deployment.md says to set ONNXRUNTIME_NODE_INSTALL=skip with it`;

describe('installing with npm', () => {
  it('prints no warning about the project configuration', () => {
    const r = npm(['config', 'list']);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /Unknown project config|warn/i);
  });

  it("leaves no dependency's install script unreviewed in package.json allowScripts", { skip: noPolicy }, () => {
    assert.match(pending.out, /No packages with unreviewed install scripts/);
  });

  it("never runs onnxruntime-node's download script: a value its script would reject passes through npm", { skip: noPolicy }, () => {
    // script/install throws "Invalid installation: bogus" when it runs; allowScripts denies it.
    const r = npm(['rebuild', 'onnxruntime-node'], { ONNXRUNTIME_NODE_INSTALL: 'bogus' });
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(`${r.out}${r.err}`, /Invalid installation/);
  });
});
