/**
 * `diffq dashboard`'s start-up: the token from DIFFQ_DASHBOARD_TOKEN or --token-file (a --token on
 * the command line works but is warned about: ps shows it), and a warning when it is bound beyond
 * loopback without a token.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type PrivateRedis, startPrivateRedis } from '../src/private-redis.ts';

const DIFFQ_BIN = join(import.meta.dirname, '..', 'bin', 'diffq.js');
const TOKEN = 'cli-test-token-0123456789abcdef';

/** Starts the dashboard, waits for its first line about where it listens (or its exit), stops it; its stderr and exit code. */
async function startUp(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ err: string; code: number | null }> {
  const child = spawn(process.execPath, [DIFFQ_BIN, 'dashboard', '--port', '0', ...args], {
    env: { ...process.env, DIFFQ_DASHBOARD_TOKEN: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    if (/diffq dashboard: http:/.test(err)) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { err, code };
}

describe('diffq dashboard start-up', () => {
  let redis: PrivateRedis;
  let dir: string;
  let flags: string[];
  before(async () => {
    redis = await startPrivateRedis();
    dir = mkdtempSync(join(tmpdir(), 'diffq-dashboard-cli-'));
    flags = ['--redis', redis.url, '--prefix', 'cli', '--store', `file://${join(dir, 'runs')}`];
  });
  after(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('warns when bound beyond loopback without a token, not on loopback', async () => {
    const wide = await startUp([...flags, '--host', '0.0.0.0']);
    assert.match(wide.err, /warning: bound to 0\.0\.0\.0 without a token: whoever reaches this port reads every run/);
    const local = await startUp(flags);
    assert.doesNotMatch(local.err, /warning/);
    assert.match(local.err, /read-only: give DIFFQ_DASHBOARD_TOKEN or --token-file/);
  });

  it('takes the token from a file or the environment silently, and warns about --token', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    for (const [args, env] of [
      [['--token-file', file], {}],
      [[], { DIFFQ_DASHBOARD_TOKEN: TOKEN }],
    ] as const) {
      const quiet = await startUp([...flags, '--host', '0.0.0.0', ...args], env);
      assert.match(quiet.err, /actions need the token/, quiet.err);
      assert.doesNotMatch(quiet.err, /warning/, quiet.err);
    }
    const visible = await startUp([...flags, '--token', TOKEN]);
    assert.match(
      visible.err,
      /warning: a token given as --token is visible to every user of this machine \(ps\); prefer DIFFQ_DASHBOARD_TOKEN or --token-file/,
    );
    assert.ok(!visible.err.includes(TOKEN), 'the warning does not repeat the token');
    const both = await startUp([...flags, '--token', TOKEN, '--token-file', file]);
    assert.equal(both.code, 2);
    assert.match(both.err, /--token and --token-file exclude each other/);
  });
});
