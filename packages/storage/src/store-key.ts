/**
 * Keys are checked again inside every store, whoever built them: '/'-separated segments of
 * letters, digits, '_', '-' and '.', none starting with '.' — so no '..', no hidden or temporary
 * file name, no absolute path and no empty segment can reach the file system or a bucket.
 */
import { PermanentStoreError } from './store-error.ts';

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const MAX_KEY_LENGTH = 900;
const RULE = "'/'-separated segments of A-Z, a-z, 0-9, '_', '-' and '.', none empty or starting with '.'";

/** Returns key unchanged, or throws PermanentStoreError naming it. */
export function assertKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !key.split('/').every((s) => SEGMENT.test(s))) {
    throw new PermanentStoreError(`Invalid store key ${JSON.stringify(key)}: a key must be 1 to ${MAX_KEY_LENGTH} characters of ${RULE}.`);
  }
  return key;
}

/** A list prefix: '' (everything), a key, a key followed by '/', or a key cut mid-segment. */
export function assertPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (typeof prefix !== 'string' || body.length === 0 || body.length > MAX_KEY_LENGTH || !body.split('/').every((s) => SEGMENT.test(s))) {
    throw new PermanentStoreError(
      `Invalid store prefix ${JSON.stringify(prefix)}: a prefix must be empty or ${RULE}, optionally ending in '/'.`,
    );
  }
  return prefix;
}
