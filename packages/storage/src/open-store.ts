/**
 * A store from its root URL (DESIGN.md §3):
 *   file://./runs          a directory, relative to the working directory (the default store)
 *   file:///data/runs      an absolute directory
 *   s3://bucket/prefix     an S3-compatible bucket, keys below prefix
 * S3 settings come from options, else from the environment: DIFFQ_S3_ENDPOINT (e.g.
 * http://127.0.0.1:9000 for MinIO), AWS_REGION (default us-east-1), DIFFQ_S3_FORCE_PATH_STYLE
 * ("true"/"1"; default on when an endpoint is set). Credentials follow the standard AWS chain.
 */

import { resolve } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { FileStore, type FileStoreOptions } from './file-store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3Store, type S3StoreOptions } from './s3-store.ts';
import { PermanentStoreError } from './store-error.ts';
import { assertKey } from './store-key.ts';

export const DEFAULT_STORE_URL = 'file://./runs';

export interface S3ConnectionOptions extends S3StoreOptions {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Overrides the AWS credential chain (tests, explicit keys). */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per request including the first, with the SDK's backoff (default 3). */
  maxAttempts?: number;
}

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
    return new S3Store(createS3Client(options.s3 ?? {}, options.env ?? process.env), bucket, prefix, options.s3);
  }
  throw new PermanentStoreError(`Unsupported store URL ${JSON.stringify(url)}: ${ACCEPTED}.`);
}

function createS3Client(options: S3ConnectionOptions, env: NodeJS.ProcessEnv): S3Client {
  const endpoint = options.endpoint ?? (env.DIFFQ_S3_ENDPOINT || undefined);
  const pathStyleEnv = env.DIFFQ_S3_FORCE_PATH_STYLE;
  const forcePathStyle = options.forcePathStyle ?? (pathStyleEnv ? /^(1|true|yes)$/i.test(pathStyleEnv) : endpoint !== undefined);
  return new S3Client({
    endpoint,
    region: options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1'),
    forcePathStyle,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts ?? 3,
    // S3-compatible servers (MinIO, s3rver, Ceph) often reject the newer default CRC trailers;
    // checksums are then only sent where the API requires them.
    ...(endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  });
}
