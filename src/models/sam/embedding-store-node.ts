/**
 * Embeddings on disk (Node): one file per key in a folder, `<key>.emb`: the bytes "KSEMB1\n", four int32 dims
 * (little-endian), then the float32 data. Written to a temporary file and renamed, so a reader never sees half a
 * file; a file that does not read back whole is ignored (and encoded again).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../../util/errors.js';
import type { EmbeddingStore } from './embedding-store.js';
import type { SamEmbedding } from './model.js';

const MAGIC = 'KSEMB1\n';
const HEADER = MAGIC.length + 16;

export class DiskEmbeddingStore implements EmbeddingStore {
  constructor(readonly dir: string) {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
      throw new KeysliceError('OUTPUT_CONFLICT', 'the embedding cache must be a folder, and this is a file', dir);
    }
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new KeysliceError('WRITE_FAILED', `cannot create the embedding cache folder: ${(e as Error).message}`, dir, { cause: e });
    }
  }

  private file(key: string): string {
    if (!/^[0-9a-f]{16,128}$/.test(key)) throw new Error(`not an embedding key: ${key}`);
    return path.join(this.dir, `${key}.emb`);
  }

  async get(key: string): Promise<SamEmbedding | undefined> {
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(this.file(key));
    } catch {
      return undefined;
    }
    if (buf.length < HEADER || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
    const dims = [0, 1, 2, 3].map((i) => buf.readInt32LE(MAGIC.length + 4 * i)) as [number, number, number, number];
    const n = dims.reduce((a, b) => a * b, 1);
    if (!(n > 0) || buf.length !== HEADER + 4 * n) return undefined;
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(buf.subarray(HEADER));
    return { data, dims };
  }

  async set(key: string, embedding: SamEmbedding): Promise<void> {
    const target = this.file(key);
    const head = Buffer.alloc(HEADER);
    head.write(MAGIC, 0, 'latin1');
    embedding.dims.forEach((d, i) => head.writeInt32LE(d, MAGIC.length + 4 * i));
    const body = Buffer.from(embedding.data.buffer, embedding.data.byteOffset, embedding.data.byteLength);
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await fs.promises.writeFile(tmp, Buffer.concat([head, body]));
      await fs.promises.rename(tmp, target);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw new KeysliceError('WRITE_FAILED', `cannot write to the embedding cache: ${(e as Error).message}`, this.dir, { cause: e });
    }
  }
}
