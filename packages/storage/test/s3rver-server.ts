/**
 * A real s3rver in its own process, for the S3 tests. Run by s3rver-fixture.ts as
 *   node --openssl-legacy-provider --import tsx s3rver-server.ts <directory> <bucket>…
 * and prints {"port": n} once listening; it exits when its stdin closes (the test process ended).
 *
 * Two s3rver 3.7 defects are worked around here, so the tests see S3's own semantics:
 * - ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 only allows with the
 *   legacy provider (hence the flag; without it every listing past 1000 keys is a 500).
 * - PutObject acknowledges before the bytes reach its file and overwrites the object in place, so
 *   a GET may see an empty or half-written object; S3 never does. Puts below write a temporary
 *   file and rename it, and GETs read one whole file, as S3's atomic puts guarantee.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import S3rver from 's3rver';
import S3Object from 's3rver/lib/models/object.js';
import FilesystemStore, { type StoredObject } from 's3rver/lib/stores/filesystem.js';

const [directory, ...buckets] = process.argv.slice(2);

const originalGetObject = FilesystemStore.prototype.getObject;

FilesystemStore.prototype.putObject = async function putObject(this: FilesystemStore, object: StoredObject) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  const content = Buffer.isBuffer(object.content) ? object.content : await buffer(object.content);
  const md5 = createHash('md5').update(content).digest('hex');
  // s3rver lists only files ending in "._S3rver_object", so the temporary name is never listed.
  const temp = `${objectPath}.${randomBytes(6).toString('hex')}.tmp`;
  await mkdir(dirname(objectPath), { recursive: true });
  await writeFile(temp, content);
  await rename(temp, objectPath);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: content.length, md5 };
};

FilesystemStore.prototype.getObject = async function getObject(
  this: FilesystemStore,
  bucket: string,
  key: string,
  options?: { start?: number; end?: number },
) {
  if (options && (options.start !== undefined || options.end !== undefined)) return originalGetObject.call(this, bucket, key, options);
  let content: Buffer;
  let metadata: Record<string, string | number>;
  try {
    content = await readFile(this.getResourcePath(bucket, key, 'object'));
    metadata = await this.getMetadata(bucket, key);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return new S3Object(bucket, key, Readable.from([content]), { ...metadata, 'content-length': content.length });
};

const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.close();
  process.exit(0);
});
