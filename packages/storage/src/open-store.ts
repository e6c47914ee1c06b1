/**
 * A store from its root URL (docs/design.md#storage-layout):
 *   file://./runs          a directory, relative to the working directory (the default store)
 *   file:///data/runs      an absolute directory
 *   s3://bucket/prefix     an S3-compatible bucket, keys below prefix
 * S3 settings come from options, else from the environment: DIFFQ_S3_ENDPOINT (e.g.
 * http://127.0.0.1:9000 for MinIO), AWS_REGION (default us-east-1), DIFFQ_S3_FORCE_PATH_STYLE
 * ("true"/"1"; default on when an endpoint is set). Credentials follow the standard AWS chain.
 * The AWS SDK is imported when an s3:// store is first used, so file:// runs never load it.
 */
import { resolve } from 'node:path';
import { DeferredStore } from './deferred-store.ts';
import { FileStore, type FileStoreOptions } from './file-store.ts';
import type { ObjectStore } from './object-store.ts';
import type { S3ConnectionOptions } from './s3-client.ts';
import { PermanentStoreError } from './store-error.ts';
import { assertKey } from './store-key.ts';

export type { S3ConnectionOptions } from './s3-client.ts';
export type { S3StoreOptions } from './s3-store.ts';

export const DEFAULT_STORE_URL = 'file://./runs';

export interface OpenStoreOptions {
  file?: FileStoreOptions;
  s3?: S3ConnectionOptions;
  /** Where relative file:// roots are resolved (default: process.cwd()). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const ACCEPTED = 'use file://<dir> (file://./runs is relative to the working directory) or s3://<bucket>[/<prefix>]';

export function openStore(url: string = DEFAULT_STORE_URL, options: OpenStoreOptions = {}): ObjectStore {
  if (url.startsWith('file://')) {
    const path = decodeURIComponent(url.slice('file://'.length));
    if (path === '') throw new PermanentStoreError(`Invalid store URL ${JSON.stringify(url)}: no directory given; ${ACCEPTED}.`);
    return new FileStore(resolve(options.cwd ?? process.cwd(), path), options.file);
  }
  if (url.startsWith('s3://')) {
    const [bucket, ...rest] = url.slice('s3://'.length).split('/');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new PermanentStoreError(
        `Invalid store URL ${JSON.stringify(url)}: bucket ${JSON.stringify(bucket)} must be 3 to 63 characters of a-z, 0-9, '.' and '-'.`,
      );
    }
    const prefix = rest.filter((segment) => segment !== '').join('/');
    if (prefix !== '') assertKey(prefix);
    const root = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    const env = options.env ?? process.env;
    return new DeferredStore(
      root,
      (key) => `s3://${bucket}/${prefix ? `${prefix}/` : ''}${assertKey(key)}`,
      async () => {
        const [{ S3Store }, { createS3Client }] = await Promise.all([import('./s3-store.ts'), import('./s3-client.ts')]);
        return new S3Store(createS3Client(options.s3 ?? {}, env), bucket, prefix, options.s3);
      },
    );
  }
  throw new PermanentStoreError(`Unsupported store URL ${JSON.stringify(url)}: ${ACCEPTED}.`);
}
