import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { createWorkerMetrics } from '@diffq/worker';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { createExporter } from '../src/exporter.ts';
import { Producer } from '../src/producer.ts';

const INFRA = join(import.meta.dirname, '..', '..', '..', 'infra');

/** Every file under infra/ that can name a metric: Prometheus, Grafana, Kubernetes. */
function infraFiles(dir = INFRA): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return infraFiles(path);
    return /\.(ya?ml|json)$/.test(entry.name) ? [relative(INFRA, path)] : [];
  });
}

/** PromQL-style names in a file: exported metrics (histogram series folded into their metric) and recorded level:metric:operation names. */
function namesIn(file: string): { metrics: Set<string>; recorded: Set<string> } {
  const text = readFileSync(join(INFRA, file), 'utf8');
  const names = [...text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((n) => n.includes('diffq_'));
  return {
    metrics: new Set(names.filter((n) => !n.includes(':')).map((n) => n.replace(/_(bucket|sum|count)$/, ''))),
    recorded: new Set(names.filter((n) => n.includes(':'))),
  };
}

/** The names the rules files record (`record: <name>`). */
function recordingRules(): Set<string> {
  const rules = infraFiles().filter((f) => f.startsWith(join('prometheus', 'rules')));
  return new Set(rules.flatMap((f) => [...readFileSync(join(INFRA, f), 'utf8').matchAll(/^\s*-?\s*record:\s*(\S+)/gm)].map((m) => m[1])));
}

describe('dashboards, rules and autoscalers', () => {
  it('refer only to metrics the worker and the exporter export, and to series the rules record', async () => {
    const producer = new Producer({ redis: { url: testRedisUrl(6) }, prefix: 'unused', store: 'file://./runs' });
    const exported = new Set([
      ...createWorkerMetrics({ tensorCount: () => 0 })
        .registry.getMetricsAsArray()
        .map((m) => m.name),
      ...createExporter(producer)
        .registry.getMetricsAsArray()
        .map((m) => m.name),
      // prometheus-adapter's name for the pending-shards sum (hpa-external.yaml)
      'diffq_queue_shards_pending',
    ]);
    const recorded = recordingRules();
    const files = infraFiles();
    for (const required of ['grafana/dashboards/diffq.json', 'k8s/keda-scaledobject.yaml', 'prometheus/rules/alerts.yml']) {
      assert.ok(files.includes(required), `${required} is missing from infra/`);
    }
    assert.ok(recorded.size >= 5, `the recording rules record ${[...recorded].join(', ')}`);
    for (const file of files) {
      const { metrics, recorded: used } = namesIn(file);
      const unknown = [...metrics].filter((name) => !exported.has(name));
      assert.deepEqual(unknown, [], `${file} refers to metrics nobody exports`);
      const unrecorded = [...used].filter((name) => !recorded.has(name));
      assert.deepEqual(unrecorded, [], `${file} refers to series no recording rule records`);
    }
    await producer.close();
  });

  it('catches a name nobody exports or records', () => {
    const { metrics, recorded } = namesIn('prometheus/rules/recording.yml');
    // The scan must see through both kinds of name, or the test above would pass on anything.
    assert.ok(metrics.has('diffq_samples') === false && metrics.has('diffq_samples_total'));
    assert.ok(recorded.has('model:diffq_samples:rate1m'));
    assert.ok(metrics.has('diffq_queue_wait_seconds'), 'histogram series fold into their metric');
  });
});
