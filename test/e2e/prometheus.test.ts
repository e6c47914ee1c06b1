/**
 * infra/'s monitoring, evaluated by the real programs (Debian's prometheus and promtool): the
 * shipped config and rules pass promtool; a Prometheus of its own (loopback port, temp data dir,
 * 1 s scrapes) scrapes a live worker and `diffq dashboard`; every recording rule, every Grafana
 * panel expression and the KEDA/HPA queries return data; and stopping the run's worker while shards
 * wait drives DiffqRunStalled and DiffqNoLiveWorker to fire, and killing the exporter DiffqExporterAbsent. The alerts are evaluated with every
 * duration divided by 30 (10m becomes 20s); the shipped file keeps its minutes.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../fixtures/free-port.ts';
import { FleetEnv } from './fleet-processes.ts';
import { REPO, waitFor } from './harness.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const INFRA = join(REPO, 'infra');
const RULES = join(INFRA, 'prometheus', 'rules');
const TIME_COMPRESSION = 30;

/** The rules with every range, offset and `for:` duration divided by `factor` (10m → 20s at 30). */
export function compressDurations(yaml: string, factor: number): string {
  const unit = { s: 1, m: 60, h: 3600 } as const;
  return yaml.replace(/(\[|offset |for: )(\d+)([smh])\b/g, (_, before: string, n: string, u: keyof typeof unit) => {
    return `${before}${Math.max(1, Math.round((Number(n) * unit[u]) / factor))}s`;
  });
}

/** Every PromQL expression of the Grafana dashboard's panels. */
function grafanaExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(join(INFRA, 'grafana', 'dashboards', 'diffq.json'), 'utf8')) as {
    panels: { targets?: { expr?: string }[] }[];
  };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr).filter((e): e is string => Boolean(e)));
}

/** KEDA's query, and the HPA's prometheus-adapter query for the same queue. */
function autoscalerQueries(queue: string): string[] {
  const keda = /query:\s*(.+)$/m.exec(readFileSync(join(INFRA, 'k8s', 'keda-scaledobject.yaml'), 'utf8'))?.[1];
  const hpa = /metricsQuery:\s*'(.+)'$/m.exec(readFileSync(join(INFRA, 'k8s', 'hpa-external.yaml'), 'utf8'))?.[1];
  assert.ok(keda && hpa, 'the KEDA and HPA files hold their queries');
  return [keda.trim(), hpa.replace('<<.LabelMatchers>>', `queue="${queue}"`)];
}

describe('monitoring checked by the real Prometheus', {
  skip: existsSync(PROMETHEUS) ? false : `${PROMETHEUS} is not installed (apt-get install prometheus; .ci/run does)`,
}, () => {
  const fleet = new FleetEnv('e2e-prometheus');
  let prometheus: ChildProcess | undefined;
  let api: string;
  let dir: string;

  const query = async (expr: string): Promise<unknown[]> => {
    const response = await fetch(`${api}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await response.json()) as { status: string; error?: string; data: { result: unknown[] } };
    assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    return body.data.result;
  };
  const firing = async (): Promise<string[]> => {
    const body = (await (await fetch(`${api}/api/v1/alerts`)).json()) as {
      data: { alerts: { labels: { alertname: string }; state: string }[] };
    };
    return body.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname);
  };

  before(async () => {
    await fleet.setUp();
    dir = join(fleet.dir, 'prometheus');
    mkdirSync(join(dir, 'rules'), { recursive: true });
  });
  after(async () => {
    prometheus?.kill('SIGTERM');
    await fleet.cleanup();
  });

  it('accepts the shipped config and rules (promtool)', () => {
    const check = (...args: string[]) => execFileSync(PROMTOOL, ['check', ...args], { encoding: 'utf8' });
    assert.match(check('config', join(INFRA, 'prometheus', 'prometheus.yml')), /SUCCESS: 2 rule files found/);
    const files = readdirSync(RULES).map((f) => join(RULES, f));
    const rules = check('rules', ...files);
    assert.match(rules, /recording\.yml\n\s+SUCCESS: 6 rules found/);
    assert.match(rules, /alerts\.yml\n\s+SUCCESS: 6 rules found/);
  });

  it('fires the shipped alerts after their real durations, and not before (promtool test rules)', () => {
    const out = execFileSync(PROMTOOL, ['test', 'rules', join(REPO, 'test', 'e2e', 'prometheus-alerts.promtool.yml')], {
      encoding: 'utf8',
    });
    assert.match(out, /SUCCESS/);
  });

  it('answers every recording rule, Grafana panel and autoscaler query, and fires when a run stalls', { timeout: 150_000 }, async () => {
    // The run's queue is sample.default, the queue infra/k8s scales on. It must outlast the wait for
    // every expression (up to 40 s) with shards still waiting, or the stall alerts have nothing to
    // fire on: on idle cores the worker samples 800 seeds in well under that.
    await fleet.launch('run-prom', ['--model-id', 'default', '--seeds', '0-7999', '--shard-size', '4', '--steps', '20']);
    const [workerPort, promPort] = [await freePort(), await freePort()];
    const worker = fleet.worker([
      '--model-id',
      'default',
      '--batch-size',
      '4',
      '--metrics-port',
      String(workerPort),
      '--worker-id',
      'prom-worker',
    ]);
    const { url, process: dashboard } = await fleet.dashboard(['--interval', '1s']);

    for (const file of readdirSync(RULES))
      writeFileSync(join(dir, 'rules', file), compressDurations(readFileSync(join(RULES, file), 'utf8'), TIME_COMPRESSION));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ["rules/*.yml"]
scrape_configs:
  - job_name: diffq-worker
    static_configs: [{ targets: ["127.0.0.1:${workerPort}"] }]
  - job_name: diffq-exporter
    static_configs: [{ targets: ["${new URL(url).host}"] }]
`,
    );
    execFileSync(PROMTOOL, ['check', 'config', config], { stdio: 'pipe' });
    api = `http://127.0.0.1:${promPort}`;
    let log = '';
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    await waitFor('prometheus to be ready', async () => (await fetch(`${api}/-/ready`).catch(() => undefined))?.ok === true, 30_000);
    await waitFor('both targets up', async () => (await query('up == 1')).length === 2, 60_000, 500);
    await waitFor('the worker to store samples', async () => (await query('sum(diffq_samples_total) > 8')).length > 0, 60_000, 500);

    const expressions = [
      ...[...readFileSync(join(RULES, 'recording.yml'), 'utf8').matchAll(/record:\s*(\S+)/g)].map((m) => m[1]),
      ...grafanaExpressions(),
      ...autoscalerQueries('sample.default'),
    ];
    const empty = new Set(expressions);
    await waitFor(
      'every expression to return data',
      async () => {
        for (const expr of empty) if ((await query(expr)).length > 0) empty.delete(expr);
        return empty.size === 0;
      },
      40_000,
      1000,
    ).catch(() => assert.fail(`no data for: ${[...empty].join('\n  ')}\nprometheus: ${log}`));

    assert.deepEqual(await firing(), [], 'nothing fires while the run samples');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log());
    await waitFor(
      'DiffqRunStalled and DiffqNoLiveWorker to fire',
      async () => {
        const names = await firing();
        return names.includes('DiffqRunStalled') && names.includes('DiffqNoLiveWorker');
      },
      60_000,
      1000,
    );
    const stalled = (await query('ALERTS{alertname="DiffqRunStalled",alertstate="firing"}')) as { metric: Record<string, string> }[];
    assert.deepEqual(
      stalled.map((s) => [s.metric.run, s.metric.model]),
      [['run-prom', 'default']],
    );

    assert.ok(!(await firing()).includes('DiffqExporterAbsent'), 'the exporter is there');
    dashboard.child.kill('SIGKILL');
    await waitFor(
      'DiffqExporterAbsent to fire once the exporter is gone',
      async () => (await firing()).includes('DiffqExporterAbsent'),
      60_000,
      1000,
    );
  });

  it('compresses durations for the test only', () => {
    assert.equal(
      compressDurations('changes(x[10m]) and x offset 10m\nfor: 1m\nrate(y[5m])', 30),
      'changes(x[20s]) and x offset 20s\nfor: 2s\nrate(y[10s])',
    );
    assert.match(
      readFileSync(join(RULES, 'alerts.yml'), 'utf8'),
      /changes\(diffq_run_samples_done\[10m\]\) == 0/,
      'the shipped alert waits 10 minutes',
    );
  });
});
