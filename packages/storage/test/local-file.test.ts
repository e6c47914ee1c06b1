import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readFileUri, readLocalFile, readStatsUri } from '@diffq/storage';

describe('files named on a command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffq-local-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a regular file, by path or file:// URI', async () => {
    writeFileSync(join(dir, 'a.bin'), 'abc');
    assert.equal(Buffer.from((await readLocalFile(join(dir, 'a.bin'))) ?? []).toString(), 'abc');
    assert.equal(Buffer.from((await readFileUri(`file://${join(dir, 'a.bin')}`)) ?? []).toString(), 'abc');
    assert.equal(await readLocalFile(join(dir, 'missing.npz')), undefined);
  });

  it('says "is a directory" for a directory', async () => {
    await assert.rejects(readStatsUri(dir), { message: `${dir} is a directory; accepted: a regular file` });
  });

  it('refuses /dev/zero instead of reading it without end', async () => {
    await assert.rejects(readStatsUri('/dev/zero'), { message: '/dev/zero is a character device; accepted: a regular file' });
  });

  it('refuses a FIFO without waiting for a writer', async () => {
    const fifo = join(dir, 'pipe.npz');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(readFileUri(fifo), { message: `${fifo} is a FIFO; accepted: a regular file` });
  });

  it('refuses a file over the size cap, naming it', async () => {
    writeFileSync(join(dir, 'big.npz'), Buffer.alloc(2000));
    await assert.rejects(readLocalFile(join(dir, 'big.npz'), 1000), {
      message: `${join(dir, 'big.npz')} is 2000 bytes; accepted: at most 1000`,
    });
  });
});
