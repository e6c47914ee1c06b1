/**
 * The cross-port attack in a real browser (Debian's chromium): the operator is signed in to
 * `diffq dashboard` on 127.0.0.1; a page served from another port of 127.0.0.1 (another origin,
 * but the same site, so the SameSite=Strict session cookie goes along) auto-submits a form to
 * /api/runs/<id>/cancel. The dashboard refuses it and the run is not cancelled, while the same
 * request from the dashboard's own page is accepted. The board page asks no outside host for anything.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cancelledKey } from '@diffq/queue';
import { Redis } from 'ioredis';
import { CHROMIUM, launchChromium } from './chromium.ts';
import { FleetEnv } from './fleet-processes.ts';

const RUN = 'run-csrf';
const TOKEN = 'csrf-test-token-0123456789abcdef';
const PREFIX = 'e2e-csrf';

describe('a page on another port of 127.0.0.1 against a signed-in dashboard', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`,
}, () => {
  const fleet = new FleetEnv(PREFIX);
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let url: string;
  let attacker: Server;
  let attackerUrl: string;
  let redis: Redis;

  before(async () => {
    await fleet.setUp();
    await fleet.launch(RUN, ['--seeds', '0-7', '--shard-size', '4', '--steps', '2']);
    process.env.DIFFQ_DASHBOARD_TOKEN = TOKEN;
    try {
      ({ url } = await fleet.dashboard(['--interval', '500ms']));
    } finally {
      delete process.env.DIFFQ_DASHBOARD_TOKEN;
    }
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<!doctype html><form id="f" method="POST" action="${url}/api/runs/${RUN}/cancel"></form><script>document.getElementById('f').submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    redis = new Redis(fleet.redis.url);
    browser = await launchChromium();
  });
  after(async () => {
    try {
      await browser?.close();
      redis?.disconnect();
      await new Promise((resolve) => attacker?.close(resolve));
    } finally {
      await fleet.cleanup();
    }
  });

  it('refuses the auto-submitted form (403) and the run stays; the dashboard page itself may cancel', { timeout: 60_000 }, async () => {
    const page = await browser.context.newPage();
    const outside: string[] = [];
    page.on('request', (request) => {
      const host = new URL(request.url()).hostname;
      if (host !== '127.0.0.1') outside.push(request.url());
    });
    await page.goto(`${url}/login`);
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`${url}/`), page.click('button[type="submit"], input[type="submit"]')]);
    const cookies = await browser.context.cookies(url);
    assert.ok(
      cookies.some((c) => c.name === 'diffq_dashboard_session'),
      'signed in',
    );

    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${url}/api/runs/${RUN}/cancel`),
      page.goto(attackerUrl),
    ]);
    assert.equal(response.status(), 403, await response.text());
    assert.match(await response.text(), /comes from another origin/);
    assert.equal(await redis.exists(cancelledKey(PREFIX, RUN)), 0, 'the run was not cancelled');

    await page.goto(`${url}/queues`);
    await page.waitForLoadState('networkidle');
    assert.deepEqual(outside, [], 'no request left 127.0.0.1');

    await page.goto(`${url}/`);
    const own = await page.evaluate(async (cancelUrl) => (await fetch(cancelUrl, { method: 'POST' })).status, `/api/runs/${RUN}/cancel`);
    assert.equal(own, 200, 'the same request from the dashboard page is accepted');
    assert.equal(await redis.exists(cancelledKey(PREFIX, RUN)), 1);
    await page.close();
  });
});
