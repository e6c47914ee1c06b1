/**
 * An ObjectStore whose implementation is loaded on its first operation. The S3 store sits behind
 * one: the AWS SDK takes the better part of a second to load, which a command on a file:// store
 * (or one that never reaches the store) should not pay.
 */
import type { ObjectStore, PutOptions, StoreBody } from './object-store.ts';
import { PermanentStoreError } from './store-error.ts';

export class DeferredStore implements ObjectStore {
  private loaded?: Promise<ObjectStore>;
  private closed = false;

  /** url and urlOf are answered without loading; load() runs once, on the first operation. */
  constructor(
    readonly url: string,
    private readonly keyUrl: (key: string) => string,
    private readonly load: () => Promise<ObjectStore>,
  ) {}

  urlOf(key: string): string {
    return this.keyUrl(key);
  }

  async put(key: string, body: StoreBody, options?: PutOptions): Promise<void> {
    return (await this.store()).put(key, body, options);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.store()).get(key);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.store()).exists(key);
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.store()).list(prefix);
  }

  async delete(key: string): Promise<void> {
    return (await this.store()).delete(key);
  }

  async sweepTemporary(prefix: string, olderThanMs: number): Promise<string[]> {
    return (await this.store()).sweepTemporary(prefix, olderThanMs);
  }

  close(): void {
    this.closed = true;
    this.loaded?.then(
      (store) => store.close(),
      () => {},
    );
  }

  private store(): Promise<ObjectStore> {
    if (this.closed) return Promise.reject(new PermanentStoreError(`${this.url}: the store was used after close()`));
    this.loaded ??= this.load();
    return this.loaded;
  }
}
