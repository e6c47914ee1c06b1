/** Where diffq keeps what it can rebuild: downloaded models and file digests. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** $DIFFQ_CACHE_DIR, else $XDG_CACHE_HOME/diffq, else ~/.cache/diffq. */
export function cacheDir(): string {
  return process.env.DIFFQ_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'diffq');
}
