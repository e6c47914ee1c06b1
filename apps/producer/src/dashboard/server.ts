/**
 * `diffq dashboard`: one HTTP server for people and Prometheus. `/` the fleet and `/runs/<id>` a
 * run (live through server-sent events), `/api/…` their data as JSON, `/queues` bull-board,
 * `/metrics` the exporter's series and `/healthz`. It binds to 127.0.0.1 unless told otherwise;
 * every request that would change state needs the token (ActionGuard), and every text it sends
 * passes through `scrub`, so no Redis password or S3 credential leaves it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FINALIZE_QUEUE_NAME, isRunId, sampleQueueName } from '@diffq/contract';
import { createAdaptorServer } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { cancelRun } from '../cancel.ts';
import { createExporter } from '../exporter.ts';
import type { Producer } from '../producer.ts';
import { locateRun } from '../run-state.ts';
import { ActionGuard } from './action-guard.ts';
import { type FleetSnapshot, FleetView } from './fleet-view.ts';
import { loginPage, overviewPage, type PageContext, runPage } from './pages.ts';
import { createQueueBoard, QUEUES_PATH } from './queue-board.ts';
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
}

export interface Dashboard {
  port: number;
  host: string;
  url: string;
  close(): Promise<void>;
}

/** Methods that only read; anything else changes state and needs the token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TEXT_TYPES = /^(text\/(html|plain)|application\/json)/;

/**
 * The latest fleet snapshot, shared by every open page: one pass over Redis and the stores per
 * interval however many pages are open, none while nobody looks.
 */
class SnapshotFeed {
  private latest: { at: number; snapshot: FleetSnapshot } | undefined;
  private pending: Promise<FleetSnapshot> | undefined;
  private readonly listeners = new Set<(s: FleetSnapshot) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly view: FleetView,
    private readonly intervalMs: number,
    private readonly onSnapshot: (s: FleetSnapshot) => void,
  ) {}

  /** A snapshot at most intervalMs old. */
  get(): Promise<FleetSnapshot> {
    if (this.latest && Date.now() - this.latest.at < this.intervalMs) return Promise.resolve(this.latest.snapshot);
    this.pending ??= this.view
      .snapshot()
      .then((snapshot) => {
        this.latest = { at: Date.now(), snapshot };
        this.onSnapshot(snapshot);
        return snapshot;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  subscribe(listener: (s: FleetSnapshot) => void): () => void {
    this.listeners.add(listener);
    if (!this.timer) this.tick();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    this.timer = setTimeout(async () => {
      try {
        const snapshot = await this.get();
        for (const listener of this.listeners) listener(snapshot);
      } catch {
        // Redis or a store is down: the pages keep their last numbers and say they are reconnecting.
      }
      if (this.listeners.size > 0) this.tick();
    }, this.intervalMs);
  }

  close(): void {
    clearTimeout(this.timer);
    this.listeners.clear();
  }
}

export function dashboardApp(producer: Producer, options: Omit<DashboardOptions, 'port' | 'host'> = {}): { app: Hono; close(): void } {
  const intervalMs = options.intervalMs ?? 2000;
  const guard = new ActionGuard(options.token);
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
  const feed = new SnapshotFeed(view, intervalMs, (s) => void showQueues(s.runs.map((r) => r.queue)).catch(() => {}));
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
    const text = await c.res.text();
    const headers = new Headers(c.res.headers);
    headers.delete('content-length');
    c.res = new Response(clean(text), { status: c.res.status, headers });
  });

  app.use('*', async (c, next) => {
    if (SAFE_METHODS.has(c.req.method) || c.req.path === '/login') return next();
    if (!guard.enabled)
      return c.json({ error: 'read-only dashboard: start diffq dashboard with --token (or DIFFQ_DASHBOARD_TOKEN) to enable actions' }, 403);
    if (!guard.allows({ authorization: c.req.header('authorization'), cookie: c.req.header('cookie') }))
      return c.json(
        { error: 'this request changes state: send the dashboard token (Authorization: Bearer <token>, or sign in at /login)' },
        401,
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
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const token = typeof form.token === 'string' ? form.token : '';
    if (!guard.enabled || !guard.isToken(token)) return c.html(loginPage(ctx, 'Wrong token.'), 401);
    c.header('set-cookie', guard.sessionCookie());
    return c.redirect('/', 303);
  });

  app.get('/api/fleet', async (c) => c.json(await feed.get()));

  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
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
    return streamSSE(c, async (stream) => {
      while (!stream.aborted && !stream.closed) {
        try {
          await stream.writeSSE({ data: clean(JSON.stringify(await view.detail(runId))) });
        } catch (error) {
          await stream.writeSSE({ event: 'problem', data: clean((error as Error).message) }).catch(() => {});
        }
        await stream.sleep(intervalMs);
      }
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
    return c.json(await cancelRun(producer, await locateRun(producer, runId)));
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

  return { app, close: () => feed.close() };
}

export async function startDashboard(producer: Producer, options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  const { app, close } = dashboardApp(producer, options);
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
