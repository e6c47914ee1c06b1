/**
 * Store failures in two kinds, so a worker retries only what may succeed later: a transient fault
 * (network, 5xx, throttling, a busy, full or read-only file system) versus a permanent one (403,
 * missing bucket, a bad key or URL, a root that is not a directory), which fails the job at once.
 */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';

  constructor(
    message: string,
    /** True when retrying the same operation later may succeed. */
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class TransientStoreError extends StoreError {
  override readonly name = 'TransientStoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, true, options);
  }
}

export class PermanentStoreError extends StoreError {
  override readonly name = 'PermanentStoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, false, options);
  }
}

export function isTransientStoreError(error: unknown): error is TransientStoreError {
  return error instanceof StoreError && error.transient;
}

/** Socket and file-system error codes worth a retry. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAGAIN',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'EIO',
  'ENOSPC',
  'ESTALE',
  // A file system remounted read-only (the kernel does so on I/O errors; so does an operator
  // during maintenance) is writable again once repaired: like a full disk, worth the backoff.
  'EROFS',
]);

/** The error code of a Node system error, or of the one that caused it (undici wraps them). */
export function systemErrorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function isTransientSystemError(error: unknown): boolean {
  const code = systemErrorCode(error);
  return code !== undefined && (TRANSIENT_CODES.has(code) || code.startsWith('UND_ERR_'));
}
