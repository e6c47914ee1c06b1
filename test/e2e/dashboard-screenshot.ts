/**
 * Makes docs/dashboard.png and docs/dashboard-run.png: the dashboard in headless Chromium while two
 * workers sample the shipped MNIST model (one finished run, one in progress). Not a test; run it
 * after changing the pages (it takes a few minutes on two cores):
 *   node --import tsx test/e2e/dashboard-screenshot.ts [docs-dir]
 */
import { join } from 'node:path';
import { launchChromium } from './chromium.ts';
import { FleetEnv } from './fleet-processes.ts';
import { REPO, waitFor } from './harness.ts';

const docs = process.argv[2] ?? join(REPO, 'docs');
const fleet = new FleetEnv('screenshot');
await fleet.setUp();
fleet.model = join(REPO, 'models', 'mnist');
const sampling = ['--sampler', 'ddim', '--steps', '20', '--guidance-scale', '3', '--shard-size', '25'];
try {
  await fleet.launch('run-mnist-warmup', ['--seeds', '0-49', ...sampling]);
  await fleet.launch('run-mnist-1k', ['--seeds', '1000-1999', ...sampling]);
  for (const id of ['cpu-worker-a', 'cpu-worker-b']) fleet.worker(['--batch-size', '25', '--worker-id', id]);
  const { url } = await fleet.dashboard(['--interval', '1s']);
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1360, height: 900 });
    await page.goto(`${url}/`);
    const card = (run: string) => page.locator(`[data-run="${run}"]`);
    await card('run-mnist-1k').waitFor();
    const done = async (run: string) => Number(await card(run).getAttribute('data-samples-done'));
    await waitFor(
      'the first run to finish and the second to be under way',
      async () => {
        const [warmup, main] = [await done('run-mnist-warmup'), await done('run-mnist-1k')];
        process.stderr.write(`\rwarm-up ${warmup}/50, main ${main}/1000 `);
        return warmup === 50 && main >= 100;
      },
      1_800_000,
      2000,
    );
    await page.waitForTimeout(2500);
    await page.screenshot({ path: join(docs, 'dashboard.png'), clip: { x: 0, y: 0, width: 1360, height: 520 } });
    await page.goto(`${url}/runs/run-mnist-1k`);
    await page.locator('#throughput').waitFor();
    await page.waitForTimeout(2500);
    await page.screenshot({ path: join(docs, 'dashboard-run.png'), fullPage: true });
    process.stderr.write(`\nwrote ${join(docs, 'dashboard.png')} and dashboard-run.png\n`);
  } finally {
    await browser.close();
  }
} finally {
  await fleet.cleanup();
}
