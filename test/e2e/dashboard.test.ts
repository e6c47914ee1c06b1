/**
 * `diffq dashboard` in a real browser (Debian's chromium driven by playwright-core) while a worker
 * samples a run: the run's progress rises on the page without a reload, the worker appears with
 * its engine and speed, the run page shows who sampled it, and bull-board at /queues shows the run's
 * jobs. Also: a worker killed with SIGKILL leaves `diffq workers` within its heartbeat's TTL.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { shardJobId } from '@diffq/contract';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './chromium.ts';
import { FleetEnv } from './fleet-processes.ts';
import { runDiffq, waitFor } from './harness.ts';

const RUN = 'run-browser';
const SEEDS = 96;

async function samplesDone(page: Page): Promise<number> {
  const value = await page.locator(`[data-run="${RUN}"]`).first().getAttribute('data-samples-done', { timeout: 20_000 });
  return Number(value);
}

describe('the dashboard in a browser, while a run samples', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`,
}, () => {
  const fleet = new FleetEnv('e2e-dashboard');
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let url: string;

  before(async () => {
    await fleet.setUp();
    await fleet.launch(RUN, ['--seeds', `0-${SEEDS - 1}`, '--shard-size', '4', '--steps', '40']);
    ({ url } = await fleet.dashboard(['--interval', '500ms']));
    browser = await launchChromium();
  });
  after(async () => {
    try {
      await browser?.close();
    } finally {
      await fleet.cleanup();
    }
  });

  it('shows the progress rising live, the worker, who sampled the run, and its jobs in /queues', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${url}/`);
    assert.equal(await samplesDone(page), 0, 'nothing sampled before a worker starts');

    const worker = fleet.worker(['--batch-size', '4', '--worker-id', 'browser-worker', '--exit-when-idle']);
    const seen = [0];
    let workerRow = false;
    await waitFor(
      'the page to show the whole run sampled',
      async () => {
        const done = await samplesDone(page);
        if (done !== seen[seen.length - 1]) seen.push(done);
        workerRow ||= (await page.locator('#workers [data-worker="browser-worker"]').count()) > 0;
        return done === SEEDS;
      },
      100_000,
      150,
    );
    assert.ok(
      seen.some((n) => n > 0 && n < SEEDS),
      `the page showed intermediate progress, not only the end (saw ${seen.join(' → ')}) ${worker.log()}`,
    );
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
      'progress only rises',
    );
    assert.ok(workerRow, 'the worker appeared in the workers table while it sampled');
    const shot = await page.screenshot({ fullPage: true });
    assert.ok(shot.byteLength > 10_000, 'a screenshot of the page');
    if (process.env.DIFFQ_DASHBOARD_SCREENSHOT) writeFileSync(process.env.DIFFQ_DASHBOARD_SCREENSHOT, shot);

    await page.goto(`${url}/runs/${RUN}`);
    await page.locator('#throughput [data-worker="browser-worker"]').waitFor({ timeout: 20_000 });
    // worker, engine, shards, samples, samples/s, …
    const cells = await page.locator('#throughput [data-worker="browser-worker"] td').allTextContents();
    assert.deepEqual(
      [cells[0], cells[2], cells[3]],
      ['browser-worker', String(SEEDS / 4), String(SEEDS)],
      'the worker sampled every shard of the run',
    );
    assert.ok(Number(cells[4]) > 0, `its samples/s: ${cells[4]}`);
    const sheet = page.locator('img.sheet.big');
    await sheet.waitFor({ timeout: 20_000 });
    await waitFor(
      'the contact sheet to load',
      async () => (await sheet.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0,
      20_000,
    );

    const queue = ((await page.locator('.model').first().textContent()) ?? '').match(/queue (sample\.[a-z0-9-]+)/)?.[1];
    assert.ok(queue, 'the run page names its queue');
    await page.goto(`${url}/queues/queue/${encodeURIComponent(queue)}?status=completed`);
    // Completed jobs, newest first: some shard of the run heads the list.
    await page.getByText(shardJobId(RUN, 0).replace(/0$/, ''), { exact: false }).first().waitFor({ timeout: 30_000 });
    await page.close();
    assert.equal(await worker.exited, 0, worker.log());
  });

  it('drops a worker killed with SIGKILL from `diffq workers` within its heartbeat TTL', async () => {
    const worker = fleet.worker(['--batch-size', '4', '--worker-id', 'doomed-worker']);
    const listed = async () => {
      const result = await runDiffq(['workers', '--json', ...fleet.flags]);
      return (JSON.parse(result.out) as { workers: { id: string; ttlSeconds: number }[] }).workers.find((w) => w.id === 'doomed-worker');
    };
    await waitFor('the worker to register', async () => (await listed()) !== undefined, 60_000);
    const ttl = (await listed())?.ttlSeconds ?? 0;
    worker.child.kill('SIGKILL');
    await worker.exited;
    const killedAt = Date.now();
    assert.ok(await listed(), 'a killed worker cannot remove itself: only the TTL does');
    await waitFor('the dead worker to leave the list', async () => (await listed()) === undefined, (ttl + 3) * 1000);
    const gone = (Date.now() - killedAt) / 1000;
    assert.ok(gone <= ttl + 1, `gone ${gone.toFixed(1)} s after SIGKILL (TTL ${ttl} s)`);
  });
});
