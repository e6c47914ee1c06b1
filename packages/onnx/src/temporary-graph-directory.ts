/**
 * Directories for graphs that must be files but have no cache to live in: DiT-XL/2's graph with its
 * 2.7 GB of external data, built for a read-only model directory or by a caller that gave no path.
 * onnxruntime has read (or mapped) the file by the time a session exists, but nothing tells this
 * module when that is, so the directories go when the process exits: a worker that restarts daily
 * must not leave a copy of its model in /tmp each time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

/** A fresh directory under the system's temporary directory, removed when the process exits. */
export function temporaryGraphDirectory(prefix: string): string {
  if (made.size === 0) process.once('exit', removeAll);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}
