/**
 * `diffq dashboard`: one HTTP server for people and Prometheus. `/` the fleet and `/runs/<id>` a
 * run (live through server-sent events, one shared poll per followed run, at most maxEventStreams
 * streams), `/api/…` their data as JSON, `/queues` bull-board, `/metrics` the exporter's series
 * and `/healthz`. It binds to 127.0.0.1 unless told otherwise and answers only for the names it
 * was bound to (RequestOrigin: no DNS rebinding); every request that would change state must come
 * from the dashboard's own origin and carry the token (ActionGuard), sign-ins are rate-limited
 * (LoginLimiter), and every text it sends passes through `scrub`, so no Redis password or S3
 * credential leaves it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FINALIZE_QUEUE_NAME, isRunId, sampleQueueName } from '@diffq/contract';
import { createAdaptorServer } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { cancelRun } from '../cancel.ts';
import { createExporter } from '../exporter.ts';
import type { Producer } from '../producer.ts';
import { locateRun, RunNotFound } from '../run-state.ts';
import { ActionGuard } from './action-guard.ts';
import { type FleetSnapshot, FleetView, type RunDetail } from './fleet-view.ts';
import { LiveFeed } from './live-feed.ts';
import { LoginLimiter } from './login-limiter.ts';
import { loginPage, overviewPage, type PageContext, runPage } from './pages.ts';
import { createQueueBoard, QUEUES_PATH, withoutOutsideFonts } from './queue-board.ts';
import { RequestOrigin } from './request-origin.ts';
import { redactUrl, scrub, secretsOf } from './secrets.ts';

export const DEFAULT_DASHBOARD_PORT = 3000;
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

export interface DashboardOptions {
  port: number;
  host?: string;
  /** Enables actions (bull-board's retry/clean/delete, cancelling a run) for whoever presents it. */
  token?: string;
  /** ms between two updates of the live pages (default 2000). */
  intervalMs?: number;
  /** Where the secrets to keep out of every response are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Host names served besides those bound to: a reverse proxy's public name (--allowed-host). */
  allowedHosts?: string[];
  /** Event streams open at once, all pages together (default DEFAULT_MAX_EVENT_STREAMS). */
  maxEventStreams?: number;
}

/** Each open page holds one stream; 64 is many people, and bounds what a script can hold open. */
export const DEFAULT_MAX_EVENT_STREAMS = 64;

export interface Dashboard {
  port: number;
  host: string;
  url: string;
  close(): Promise<void>;
}

/** Methods that only read; anything else changes state and needs the token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TEXT_TYPES = /^(text\/(html|plain)|application\/json)/;

export function dashboardApp(producer: Producer, options: Omit<DashboardOptions, 'port'> = {}): { app: Hono; close(): void } {
  const intervalMs = options.intervalMs ?? 2000;
  const guard = new ActionGuard(options.token);
  const origin = new RequestOrigin(options.host ?? DEFAULT_DASHBOARD_HOST, options.allowedHosts);
  const logins = new LoginLimiter();
  const maxStreams = options.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
  let openStreams = 0;
  const secrets = secretsOf(producer.settings.redis.url, options.env ?? process.env, options.token ? [options.token] : []);
  const clean = (text: string) => scrub(text, secrets);
  const ctx: PageContext = { redis: redactUrl(producer.settings.redis.url), prefix: producer.prefix, actions: guard.enabled };
  const view = new FleetView(producer);
  const exporter = createExporter(producer);
  const board = createQueueBoard({ readOnly: !guard.enabled });

  const showQueues = async (names: Iterable<string>) => {
    const unique = [...new Set([...names, FINALIZE_QUEUE_NAME])].sort();
    board.show(await Promise.all(unique.map((name) => producer.queue(name))));
  };
  const feed = new LiveFeed<FleetSnapshot>(
    () => view.snapshot(),
    intervalMs,
    (s) => void showQueues(s.runs.map((r) => r.queue)).catch(() => {}),
  );
  // One feed per followed run, dropped with its last follower.
  const runFeeds = new Map<string, LiveFeed<RunDetail>>();
  const followRun = (runId: string, send: (d: RunDetail) => void, problem: (e: Error) => void): (() => void) => {
    let runFeed = runFeeds.get(runId);
    if (!runFeed) {
      runFeed = new LiveFeed(() => view.detail(runId), intervalMs);
      runFeeds.set(runId, runFeed);
    }
    const unsubscribe = runFeed.subscribe(send, problem);
    const followed = runFeed;
    return () => {
      unsubscribe();
      if (followed.size === 0 && runFeeds.get(runId) === followed) runFeeds.delete(runId);
    };
  };
  let queuesShownAt = 0;

  const app = new Hono();
  const runParam = (c: Context): string | undefined => {
    const runId = c.req.param('run');
    return runId && isRunId(runId) ? runId : undefined;
  };

  // Second wall against leaks: whatever text a handler produced, the secrets are replaced on the way out.
  app.use('*', async (c, next) => {
    await next();
    const type = c.res.headers.get('content-type') ?? '';
    if (!TEXT_TYPES.test(type)) return;
    let text = await c.res.text();
    if (c.req.path.startsWith(QUEUES_PATH) && type.startsWith('text/html')) text = withoutOutsideFonts(text);
    const headers = new Headers(c.res.headers);
    headers.delete('content-length');
    c.res = new Response(clean(text), { status: c.res.status, headers });
  });

  app.use('*', async (c, next) => {
    if (!origin.hostAllowed(c.req.header('host')))
      return c.json(
        {
          error: `Host "${c.req.header('host') ?? ''}" is not a name this dashboard serves (${origin.served.join(', ')}); behind a reverse proxy, start it with --allowed-host <name>`,
        },
        403,
      );
    if (SAFE_METHODS.has(c.req.method)) return next();
    const from = origin.classify({
      host: c.req.header('host'),
      origin: c.req.header('origin'),
      secFetchSite: c.req.header('sec-fetch-site'),
    });
    if (from === 'cross-origin')
      return c.json({ error: 'this request changes state and comes from another origin (Origin / Sec-Fetch-Site); refused' }, 403);
    if (c.req.path === '/login') return next();
    if (!guard.enabled)
      return c.json({ error: 'read-only dashboard: start diffq dashboard with --token (or DIFFQ_DASHBOARD_TOKEN) to enable actions' }, 403);
    const authorization = c.req.header('authorization');
    if (!guard.allows({ authorization, cookie: c.req.header('cookie') }))
      return c.json(
        { error: 'this request changes state: send the dashboard token (Authorization: Bearer <token>, or sign in at /login)' },
        401,
      );
    // A session cookie rides along with any request the browser sends; only the dashboard's own
    // pages may use it. A bearer token cannot be added by another page, so scripts need no Origin.
    if (from === 'unknown' && !guard.allows({ authorization }))
      return c.json(
        {
          error:
            'a request signed in by the session cookie must come from the dashboard (Origin or Sec-Fetch-Site: same-origin); scripts send Authorization: Bearer <token>',
        },
        403,
      );
    return next();
  });

  app.get('/healthz', async (c) => {
    try {
      await (await producer.redis()).ping();
      return c.json({ ok: true, redis: 'ready' });
    } catch (error) {
      return c.json({ ok: false, redis: (error as Error).message }, 503);
    }
  });

  app.get('/metrics', async (c) => {
    await exporter.refresh();
    return c.body(await exporter.registry.metrics(), 200, { 'content-type': exporter.registry.contentType });
  });

  app.get('/', (c) => c.html(overviewPage(ctx)));
  app.get('/runs/:run', (c) => {
    const runId = runParam(c);
    return runId ? c.html(runPage(ctx, runId)) : c.text('not a run id', 404);
  });

  app.get('/login', (c) =>
    c.html(loginPage(ctx, guard.enabled ? undefined : 'This dashboard is read-only: it was started without a token.')),
  );
  app.post('/login', async (c) => {
    const address = clientAddress(c);
    const wait = logins.retryAfter(address);
    if (wait > 0) {
      c.header('retry-after', String(wait));
      return c.html(loginPage(ctx, `Too many wrong tokens: try again in ${wait} s.`), 429);
    }
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const token = typeof form.token === 'string' ? form.token : '';
    if (!guard.enabled || !guard.isToken(token)) {
      logins.recordFailure(address);
      return c.html(loginPage(ctx, 'Wrong token.'), 401);
    }
    c.header('set-cookie', guard.sessionCookie());
    return c.redirect('/', 303);
  });

  app.get('/api/fleet', async (c) => c.json(await feed.get()));

  /** An event stream, counted against maxStreams; 503 when that many are open. */
  const eventStream = (c: Context, body: (stream: SSEStreamingApi) => Promise<void>) => {
    if (openStreams >= maxStreams) {
      c.header('retry-after', '10');
      return c.json(
        { error: `${maxStreams} live pages are open, the most this dashboard serves at once; close one, or reload later` },
        503,
      );
    }
    openStreams++;
    return streamSSE(c, async (stream) => {
      try {
        await body(stream);
      } finally {
        openStreams--;
      }
    });
  };

  app.get('/api/events', (c) =>
    eventStream(c, async (stream) => {
      const send = (s: FleetSnapshot) => stream.writeSSE({ data: clean(JSON.stringify(s)) }).catch(() => {});
      await send(await feed.get());
      const unsubscribe = feed.subscribe((s) => void send(s));
      stream.onAbort(unsubscribe);
      while (!stream.aborted && !stream.closed) await stream.sleep(intervalMs);
      unsubscribe();
    }),
  );

  app.get('/api/runs/:run', async (c) => {
    const runId = runParam(c);
    if (!runId) return c.json({ error: 'not a run id' }, 404);
    return c.json(await view.detail(runId));
  });

  app.get('/api/runs/:run/events', (c) => {
    const runId = runParam(c);
    if (!runId) return c.json({ error: 'not a run id' }, 404);
    return eventStream(c, async (stream) => {
      const send = (d: RunDetail) => stream.writeSSE({ data: clean(JSON.stringify(d)) }).catch(() => {});
      const problem = (error: Error) => stream.writeSSE({ event: 'problem', data: clean(error.message) }).catch(() => {});
      await view.detail(runId).then(send, problem);
      const unfollow = followRun(
        runId,
        (d) => void send(d),
        (e) => void problem(e),
      );
      stream.onAbort(unfollow);
      while (!stream.aborted && !stream.closed) await stream.sleep(intervalMs);
      unfollow();
    });
  });

  app.get('/api/runs/:run/contact-sheet.png', async (c) => {
    const runId = runParam(c);
    const png = runId ? await view.contactSheet(runId) : undefined;
    if (!png) return c.text('no samples stored yet', 404);
    return c.body(png as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'image/png', 'cache-control': 'max-age=3600' });
  });

  app.post('/api/runs/:run/cancel', async (c) => {
    const runId = runParam(c);
    if (!runId) return c.json({ error: 'not a run id' }, 404);
    try {
      return c.json(await cancelRun(producer, await locateRun(producer, runId)));
    } catch (error) {
      if (error instanceof RunNotFound) return c.json({ error: error.message }, 404);
      throw error;
    }
  });

  // bull-board: its queue list follows the runs (refreshed at most once per interval).
  app.use(`${QUEUES_PATH}/*`, async (_c, next) => {
    if (Date.now() - queuesShownAt > intervalMs) {
      queuesShownAt = Date.now();
      const entries = await producer.runEntries();
      await showQueues(entries.map((e) => sampleQueueName(e.modelId)));
    }
    return next();
  });
  app.get(`${QUEUES_PATH}/`, (c) => c.redirect(QUEUES_PATH, 302));
  app.route(QUEUES_PATH, board.app);

  app.onError((error, c) => c.json({ error: clean(error.message) }, 500));
  app.notFound((c) => c.text('diffq dashboard: try /, /queues, /metrics or /healthz', 404));

  return {
    app,
    close: () => {
      feed.close();
      for (const f of runFeeds.values()) f.close();
    },
  };
}

export async function startDashboard(producer: Producer, options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  const { app, close } = dashboardApp(producer, { ...options, host });
  const server = createAdaptorServer({ fetch: app.fetch, createServer }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    host,
    url: `http://${shown}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The peer's address (behind a reverse proxy: the proxy's, so its clients share one limit). */
function clientAddress(c: Context): string {
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown';
}
