/**
 * What the apps need of object storage. Keys are relative to the store's root (docs/design.md#storage-layout) and
 * checked by assertKey. Every method throws TransientStoreError or PermanentStoreError on failure.
 */
import type { Readable } from 'node:stream';

/** Bytes, UTF-8 text, or a stream of chunks (read once, to the end). */
export type StoreBody = Uint8Array | string | Readable | AsyncIterable<Uint8Array>;

export interface PutOptions {
  /** e.g. "application/json", "image/png"; S3 stores it, the file system ignores it. */
  contentType?: string;
}

export interface ObjectStore {
  /** The root, as a URL to pass to another process: file:///abs/dir or s3://bucket/prefix. */
  readonly url: string;
  /**
   * Writes the whole object atomically: readers see the old object or the new one, never a part.
   * Rewriting a key with the same bytes is a no-op in effect (idempotent).
   */
  put(key: string, body: StoreBody, options?: PutOptions): Promise<void>;
  /** The object's bytes, or undefined when there is no such key (missing is not an error). */
  get(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Every key starting with prefix ('' for all), sorted; temporary files never appear. */
  list(prefix: string): Promise<string[]>;
  /** Removes the object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Removes what writes interrupted by a crash left under prefix (a killed worker's temporary
   * files) and last touched more than olderThanMs ago; returns where each one was. A store whose
   * interrupted writes leave nothing visible returns [].
   */
  sweepTemporary(prefix: string, olderThanMs: number): Promise<string[]>;
  /** Where a key lives, for logs and error messages. */
  urlOf(key: string): string;
  /** Releases connections (S3); the store must not be used afterwards. */
  close(): void;
}
