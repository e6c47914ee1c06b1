import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { Redis } from 'ioredis';
import { freePort } from '../fixtures/free-port.ts';
import { runDiffq, useTestEnv, waitFor } from './harness.ts';

/** A CA and a server certificate for 127.0.0.1, made with openssl. */
function certificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=diffq-test-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

describe('a Redis that wants a password, over plain TCP and over TLS (rediss://)', () => {
  const env = useTestEnv('tls');
  let server: ChildProcess;
  let plainPort: number;
  let tlsPort: number;
  let ca: string;

  before(async () => {
    // Its own redis-server on loopback, with a password and TLS.
    const tls = certificates(env.dir);
    ca = tls.ca;
    [plainPort, tlsPort] = [await freePort(), await freePort()];
    server = spawn(
      'redis-server',
      [
        '--port',
        String(plainPort),
        '--bind',
        '127.0.0.1',
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        tls.cert,
        '--tls-key-file',
        tls.key,
        '--tls-ca-cert-file',
        tls.ca,
        '--tls-auth-clients',
        'no',
        '--requirepass',
        's3cret',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    env.onCleanup(() => server.kill('SIGTERM'));
    await waitFor(
      'redis-server to listen',
      async () => {
        const probe = new Redis({
          port: plainPort,
          password: 's3cret',
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => {});
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      20_000,
    );
  });

  it('refuses a wrong password with the URL redacted', async () => {
    const result = await runDiffq(['runs', '--redis', `redis://:wrong@127.0.0.1:${plainPort}/0`]);
    assert.equal(result.code, 1);
    assert.match(result.err, new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${plainPort}/0`));
    assert.doesNotMatch(result.err, /wrong/);
  });

  it('launches and samples a run through rediss:// with the CA given by flag, env and config file', { timeout: 180_000 }, async () => {
    const url = `rediss://:s3cret@127.0.0.1:${tlsPort}/3`;
    await env.launch({
      runId: 'over-tls',
      seeds: '0-49',
      shardSize: 25,
      steps: 2,
      global: ['--redis', url, '--redis-tls-ca', ca, '--prefix', 'tls'],
    });
    await env.sampleInProcess({ redis: { url, tlsCaFile: ca }, prefix: 'tls', batchSize: 25 });
    assert.ok(await env.store().exists(keys.report('over-tls')));

    Object.assign(process.env, { DIFFQ_REDIS_URL: url, DIFFQ_REDIS_TLS_CA: ca, DIFFQ_PREFIX: 'tls' });
    try {
      const status = await runDiffq(['status', 'over-tls', '--json']);
      assert.equal(status.code, 0, status.err);
      assert.equal(JSON.parse(status.out).phase, 'complete');
    } finally {
      for (const name of ['DIFFQ_REDIS_URL', 'DIFFQ_REDIS_TLS_CA', 'DIFFQ_PREFIX']) delete process.env[name];
    }

    const config = join(env.dir, 'diffq.config.json');
    writeFileSync(config, JSON.stringify({ redis: url, 'redis-tls-ca': ca, prefix: 'tls' }));
    const runs = await runDiffq(['runs', '--config', config, '--json']);
    assert.equal(runs.code, 0, runs.err);
    assert.deepEqual(
      JSON.parse(runs.out).map((r: { runId: string }) => r.runId),
      ['over-tls'],
    );

    writeFileSync(config, JSON.stringify({ redis: url, 'redis-tsl-ca': ca }));
    const typo = await runDiffq(['runs', '--config', config]);
    assert.equal(typo.code, 2);
    assert.match(typo.err, /unknown key "redis-tsl-ca"/);
  });
});
