import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createWorkerMetrics } from '@diffq/worker';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { createExporter } from '../src/exporter.ts';
import { Producer } from '../src/producer.ts';

const INFRA = join(import.meta.dirname, '..', '..', '..', 'infra');

/** Metric names a file refers to, histogram series folded into their metric. */
function referencedMetrics(file: string): Set<string> {
  const text = readFileSync(join(INFRA, file), 'utf8');
  return new Set([...text.matchAll(/\bdiffq_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
}

describe('dashboards and autoscalers', () => {
  it('refer only to metrics the worker and the exporter export', async () => {
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
    for (const file of ['grafana/dashboards/diffq.json', 'k8s/keda-scaledobject.yaml', 'k8s/hpa-external.yaml']) {
      const unknown = [...referencedMetrics(file)].filter((name) => !exported.has(name));
      assert.deepEqual(unknown, [], `${file} refers to metrics nobody exports`);
    }
    await producer.close();
  });
});
