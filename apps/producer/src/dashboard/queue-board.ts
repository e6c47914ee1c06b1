/**
 * bull-board's queue view at /queues: the sample.<model> queues of the recent runs and the
 * finalize queue. Read-only (bull-board's readOnlyMode: no retry, clean or delete buttons, and its
 * API refuses them) unless the dashboard was given a token; the ActionGuard checks that token on
 * every request that changes state whichever mode the board is in.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import type { Hono } from 'hono';

export const QUEUES_PATH = '/queues';

export interface QueueBoard {
  /** The board's pages, assets and API, to mount at QUEUES_PATH. */
  app: Hono;
  /** Shows exactly these queues (a new run may bring a new model's queue). */
  show(queues: readonly Queue[]): void;
}

export function createQueueBoard(options: { readOnly: boolean }): QueueBoard {
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(QUEUES_PATH);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: { uiConfig: { boardTitle: options.readOnly ? 'diffq queues (read-only)' : 'diffq queues' } },
  });
  let shown = '';
  return {
    app: serverAdapter.registerPlugin() as unknown as Hono,
    show(queues) {
      const names = queues
        .map((q) => q.name)
        .sort()
        .join('\n');
      if (names === shown) return;
      shown = names;
      board.replaceQueues(queues.map((q) => new BullMQAdapter(q, { readOnlyMode: options.readOnly })));
    },
  };
}

/**
 * bull-board's page asks fonts.googleapis.com for IBM Plex: a request to a third party from every
 * visit, and a page that waits on a host an offline cluster cannot reach. Without the link it uses
 * the system fonts its stylesheet falls back to.
 */
export function withoutOutsideFonts(html: string): string {
  return html.replace(/<link\b[^>]*\bhref="https:\/\/fonts\.(googleapis|gstatic)\.com[^>]*>\s*/g, '');
}
