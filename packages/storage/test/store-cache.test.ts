import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StoreCache } from '@diffq/storage';

describe('StoreCache', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'diffq-store-cache-'));
  after(() => rm(scratch, { recursive: true, force: true }));

  it('opens one store per URL and reuses it until closed', async () => {
    const cache = new StoreCache();
    const a = cache.get(`file://${join(scratch, 'a')}`);
    assert.equal(cache.get(`file://${join(scratch, 'a')}`), a, 'the same URL gives the same store');
    const b = cache.get(`file://${join(scratch, 'b')}`);
    assert.notEqual(b, a);
    await a.put('x/manifest.json', new TextEncoder().encode('{}'));
    assert.equal(await cache.get(`file://${join(scratch, 'a')}`).exists('x/manifest.json'), true);
    cache.close();
    assert.notEqual(cache.get(`file://${join(scratch, 'a')}`), a, 'after close a URL opens a new store');
    cache.close();
  });
});
