/**
 * GET /metrics (Prometheus text format) and GET /healthz (200 while healthy, 503 otherwise, with a
 * JSON body saying why) on one port. Used by the worker and by `diffq exporter`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface MetricsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export interface ServeOptions {
  host?: string;
  /** Runs before every /metrics response, e.g. to read Redis into gauges. */
  beforeScrape?: () => Promise<void>;
}

export async function serveMetrics(
  port: number,
  registry: Registry,
  health: () => Health | Promise<Health>,
  options: ServeOptions = {},
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = async () => {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
      } else if (path === '/metrics') {
        await options.beforeScrape?.();
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      } else if (path === '/healthz') {
        const h = await health();
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h)}\n`);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('diffq: try /metrics or /healthz\n');
      }
    };
    reply().catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${error.message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
