/**
 * A store in a local (or network-mounted) directory. A put writes a temporary file next to its
 * target and renames it over the target, which is atomic on POSIX file systems. Temporary names
 * start with '.', which no key may, so list never shows them, and then with TEMP_FILE_MARK, so
 * the leftovers of a killed writer can be told apart from anything else and swept.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ObjectStore, PutOptions, StoreBody } from './object-store.ts';
import { isTransientSystemError, PermanentStoreError, StoreError, systemErrorCode, TransientStoreError } from './store-error.ts';
import { assertKey, assertPrefix } from './store-key.ts';

/** Temporary files are `.diffq-tmp-<pid>-<12 hex>-<target name>`, next to their target. */
export const TEMP_FILE_MARK = '.diffq-tmp-';
const TEMP_FILE = /^\.diffq-tmp-\d+-[0-9a-f]{12}-/;

/** Whether a file name is one of FileStore's temporary files. */
export function isTempFileName(name: string): boolean {
  return TEMP_FILE.test(name);
}

export interface FileStoreOptions {
  /** fsync each file and its directory before a put returns: survives power loss, costs latency. */
  fsync?: boolean;
}

export class FileStore implements ObjectStore {
  readonly url: string;

  /** root: an absolute directory; created on the first put. */
  constructor(
    readonly root: string,
    private readonly options: FileStoreOptions = {},
  ) {
    this.url = pathToFileURL(root).href;
  }

  urlOf(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }

  async put(key: string, body: StoreBody, _options?: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    const dir = dirname(target);
    const temp = join(dir, `${TEMP_FILE_MARK}${process.pid}-${randomBytes(6).toString('hex')}-${key.split('/').at(-1)}`);
    try {
      await makeDirectory(dir);
      const file = await open(temp, 'wx');
      try {
        if (typeof body === 'string' || body instanceof Uint8Array) {
          await file.writeFile(body);
        } else {
          for await (const chunk of body) await file.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        }
        if (this.options.fsync) await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
      if (this.options.fsync) await syncDirectory(dir);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw this.fault('put', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const path = this.pathOf(key);
    try {
      return await readFile(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.fault('get', key, error);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw this.fault('stat', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const found: string[] = [];
    await this.walk(prefix, 'list', (key, entry) => {
      if (!entry.name.startsWith('.')) found.push(key);
    });
    return found.sort();
  }

  /** Deletes the temporary files under prefix last modified more than olderThanMs ago. */
  async sweepTemporary(prefix: string, olderThanMs: number): Promise<string[]> {
    const temps: string[] = [];
    await this.walk(prefix, 'sweep', (key, entry) => {
      if (isTempFileName(entry.name)) temps.push(key);
    });
    const cutoff = Date.now() - olderThanMs;
    const swept: string[] = [];
    for (const key of temps.sort()) {
      const path = join(this.root, ...key.split('/'));
      try {
        // A live writer touches its file with every chunk; only an abandoned one grows old.
        if ((await stat(path)).mtimeMs > cutoff) continue;
        await unlink(path);
        swept.push(pathToFileURL(path).href);
      } catch (error) {
        if (!isMissing(error)) throw this.fault('sweep', key, error);
      }
    }
    return swept;
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if (isMissing(error)) return;
      throw this.fault('delete', key, error);
    }
  }

  close(): void {}

  /**
   * Calls visit for every file whose path below the root starts with prefix, hidden ones included;
   * hidden directories are not entered. Only the deepest directory the prefix names is walked.
   */
  private async walk(prefix: string, operation: string, visit: (key: string, entry: Dirent) => void): Promise<void> {
    assertPrefix(prefix);
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const descend = async (relative: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(join(this.root, ...relative.split('/').filter(Boolean)), { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw this.fault(operation, prefix, error);
      }
      for (const entry of entries) {
        const key = `${relative}${entry.name}`;
        if (entry.isDirectory()) {
          if (!entry.name.startsWith('.') && (key.startsWith(prefix) || prefix.startsWith(`${key}/`))) await descend(`${key}/`);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          visit(key, entry);
        }
      }
    };
    await descend(base);
  }

  private pathOf(key: string): string {
    return join(this.root, ...assertKey(key).split('/'));
  }

  private fault(operation: string, key: string, error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const reason = `Could not ${operation} ${this.root}${sep}${key}: ${(error as Error).message}`;
    return isTransientSystemError(error)
      ? new TransientStoreError(reason, { cause: error })
      : new PermanentStoreError(reason, { cause: error });
  }
}

/** ENOENT, or a path through a file (ENOTDIR), or a key naming a directory (EISDIR): no such object. */
function isMissing(error: unknown): boolean {
  const code = systemErrorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * mkdir -p that reports the real reason: Node's recursive mkdir answers ENOENT where a level cannot
 * be created on a read-only file system, which would read as a permanent fault instead of EROFS.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    if (systemErrorCode(error) !== 'ENOENT') throw error;
    const missing: string[] = [];
    for (let d = dir; d !== dirname(d) && !(await stat(d).catch(() => undefined)); d = dirname(d)) missing.unshift(d);
    for (const d of missing) await mkdir(d);
    throw error;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
