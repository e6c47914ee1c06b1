/**
 * A store in an S3-compatible bucket under a key prefix. Small objects go up in one PUT, large ones
 * and streams through lib-storage's multipart Upload; both become visible only when complete, which
 * is what makes puts atomic. The SDK retries throttling and 5xx itself; what still fails is
 * classified transient or permanent for the worker.
 */

import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, PutOptions, StoreBody } from './object-store.ts';
import { isTransientSystemError, PermanentStoreError, type StoreError, TransientStoreError } from './store-error.ts';
import { assertKey, assertPrefix } from './store-key.ts';

export interface S3StoreOptions {
  /** Byte bodies up to this size go up in one PUT; larger ones and streams are multipart (default 16 MiB). */
  multipartThreshold?: number;
  /** Multipart part size, ≥ 5 MiB (default 8 MiB); at most 4 parts are buffered at a time. */
  partSize?: number;
}

const MiB = 1024 * 1024;

export class S3Store implements ObjectStore {
  readonly url: string;
  private readonly multipartThreshold: number;
  private readonly partSize: number;

  /** prefix: '' or key segments without leading or trailing '/'. */
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
    options: S3StoreOptions = {},
  ) {
    this.url = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.multipartThreshold = options.multipartThreshold ?? 16 * MiB;
    this.partSize = Math.max(5 * MiB, options.partSize ?? 8 * MiB);
  }

  urlOf(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  async put(key: string, body: StoreBody, options: PutOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      if (bytes instanceof Uint8Array && bytes.byteLength <= this.multipartThreshold) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: bytes,
            ContentLength: bytes.byteLength,
            ContentType: options.contentType,
          }),
        );
        return;
      }
      const stream = bytes instanceof Uint8Array || bytes instanceof Readable ? bytes : Readable.from(bytes);
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: stream, ContentType: options.contentType },
        partSize: this.partSize,
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      throw this.fault('put', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const Key = this.objectKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!response.Body) return new Uint8Array(0);
      return await response.Body.transformToByteArray();
    } catch (error) {
      if (isNotFound(error, 'NoSuchKey')) return undefined;
      throw this.fault('get', key, error);
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (error) {
      // HEAD responses have no body, so a missing bucket is also a bare 404: check the bucket on list/put.
      if (isNotFound(error, 'NotFound') || isNotFound(error, 'NoSuchKey')) return false;
      throw this.fault('head', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const Prefix = this.prefix ? `${this.prefix}/${assertPrefix(prefix)}` : assertPrefix(prefix);
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken }));
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key.slice(strip));
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    } catch (error) {
      throw this.fault('list', prefix, error);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (error) {
      if (isNotFound(error, 'NoSuchKey')) return;
      throw this.fault('delete', key, error);
    }
  }

  /**
   * An interrupted PUT stores nothing, and an interrupted multipart upload leaves parts that are
   * not objects (never listed or read); a bucket lifecycle rule, AbortIncompleteMultipartUpload,
   * is what frees their space. So there is nothing to sweep here.
   */
  async sweepTemporary(prefix: string, _olderThanMs: number): Promise<string[]> {
    assertPrefix(prefix);
    return [];
  }

  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return this.prefix ? `${this.prefix}/${assertKey(key)}` : assertKey(key);
  }

  private fault(operation: string, key: string, error: unknown): StoreError {
    if (error instanceof TransientStoreError || error instanceof PermanentStoreError) return error;
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (error as Error).name ?? 'Error';
    const reason = `Could not ${operation} ${this.url}/${key}: ${name}${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message}`;
    return isTransientS3Error(error)
      ? new TransientStoreError(reason, { cause: error })
      : new PermanentStoreError(reason, { cause: error });
  }
}

const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/** Network faults, 5xx, 408, 429 and throttling are worth a retry; other 4xx (403, NoSuchBucket…) are not. */
export function isTransientS3Error(error: unknown): boolean {
  if (isTransientSystemError(error)) return true;
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 408 || status === 429)) return true;
  return (e.name !== undefined && THROTTLING.has(e.name)) || e.$retryable !== undefined;
}

function isNotFound(error: unknown, name: string): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === name || (name === 'NotFound' && e.$metadata?.httpStatusCode === 404);
}
