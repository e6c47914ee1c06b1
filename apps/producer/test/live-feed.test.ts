import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveFeed } from '../src/dashboard/live-feed.ts';

describe('a live feed shared by the pages that follow it', () => {
  it('loads once per interval however many pages follow, and not at all once they leave', async () => {
    let loads = 0;
    const feed = new LiveFeed(async () => ++loads, 100);
    const seen: number[][] = [[], [], [], [], []];
    const leave = seen.map((values) => feed.subscribe((v) => values.push(v)));
    await sleep(550);
    for (const stop of leave) stop();
    const loadsWhileFollowed = loads;
    assert.ok(loadsWhileFollowed >= 1 && loadsWhileFollowed <= 6, `${loadsWhileFollowed} loads in 550 ms at 100 ms for 5 followers`);
    for (const values of seen) assert.deepEqual(values, seen[0], 'every follower got the same values');
    await sleep(300);
    assert.equal(loads, loadsWhileFollowed, 'no load without followers');
  });

  it('shares one load between concurrent requests, and tells followers about a failed one', async () => {
    let calls = 0;
    let fail = false;
    const feed = new LiveFeed(async () => {
      calls++;
      await sleep(20);
      if (fail) throw new Error('Redis is away');
      return calls;
    }, 50);
    const [a, b, c] = await Promise.all([feed.get(), feed.get(), feed.get()]);
    assert.deepEqual([a, b, c, calls], [1, 1, 1, 1]);
    fail = true;
    const problems: string[] = [];
    const stop = feed.subscribe(
      () => {},
      (e) => problems.push(e.message),
    );
    await sleep(200);
    stop();
    assert.ok(problems.length >= 1 && problems.every((p) => p === 'Redis is away'), problems.join());
  });
});
