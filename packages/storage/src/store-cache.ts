/**
 * One ObjectStore per store URL for a long-lived process (the producer's commands, a worker's jobs):
 * an S3 store holds a client with its connection pool, so it is opened once and closed once.
 */
import type { ObjectStore } from './object-store.ts';
import { openStore } from './open-store.ts';

export class StoreCache {
  private readonly stores = new Map<string, ObjectStore>();

  /** The store of `url`, opened on first use. */
  get(url: string): ObjectStore {
    let store = this.stores.get(url);
    if (!store) {
      store = openStore(url);
      this.stores.set(url, store);
    }
    return store;
  }

  /** Closes every store opened so far; a later get() opens a new one. */
  close(): void {
    for (const store of this.stores.values()) store.close();
    this.stores.clear();
  }
}
