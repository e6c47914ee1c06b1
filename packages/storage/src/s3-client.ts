/**
 * The S3 client of an s3:// store. Settings come from options, else from the environment:
 * DIFFQ_S3_ENDPOINT (e.g. http://127.0.0.1:9000 for MinIO), AWS_REGION (default us-east-1),
 * DIFFQ_S3_FORCE_PATH_STYLE ("true"/"1"; default on when an endpoint is set). Credentials follow
 * the standard AWS chain. Loaded only when an s3:// store is first used (see open-store.ts).
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3StoreOptions } from './s3-store.ts';

export interface S3ConnectionOptions extends S3StoreOptions {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Overrides the AWS credential chain (tests, explicit keys). */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per request including the first, with the SDK's backoff (default 3). */
  maxAttempts?: number;
}

export function createS3Client(options: S3ConnectionOptions, env: NodeJS.ProcessEnv): S3Client {
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
