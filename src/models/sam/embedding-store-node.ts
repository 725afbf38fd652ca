/**
 * Embeddings on disk (Node): one file per key in a folder, `<key>.emb`: the bytes "KSEMB1\n", four int32 dims
 * (little-endian), then the float32 data. Written to a temporary file and renamed, so a reader never sees half a
 * file; a file that does not read back whole is ignored (and encoded again). The folder is kept under a size
 * limit by removing the least recently used `.emb` files (a read touches its file); nothing else in the folder is
 * touched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../../util/errors.js';
import type { EmbeddingStore } from './embedding-store.js';
import type { SamEmbedding } from './model.js';

const MAGIC = 'KSEMB1\n';
const HEADER = MAGIC.length + 16;

/** Default size limit of an embedding cache folder: 2 GiB (about 500 SAM embeddings of 64 x 64). */
export const DEFAULT_DISK_CACHE_BYTES = 2 * 1024 ** 3;

export class DiskEmbeddingStore implements EmbeddingStore {
  /** Bytes of `.emb` files in the folder, from a scan when first needed, then kept up to date. */
  private total: number | null = null;

  constructor(
    readonly dir: string,
    readonly maxBytes = DEFAULT_DISK_CACHE_BYTES,
  ) {
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
    const file = this.file(key);
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(file);
    } catch {
      return undefined;
    }
    if (buf.length < HEADER || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
    const dims = [0, 1, 2, 3].map((i) => buf.readInt32LE(MAGIC.length + 4 * i)) as [number, number, number, number];
    const n = dims.reduce((a, b) => a * b, 1);
    if (!(n > 0) || buf.length !== HEADER + 4 * n) return undefined;
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(buf.subarray(HEADER));
    const now = new Date();
    await fs.promises.utimes(file, now, now).catch(() => {});
    return { data, dims };
  }

  /** The `.emb` files with their sizes and last use, oldest first. */
  private async entries(): Promise<{ file: string; size: number; used: number }[]> {
    const out: { file: string; size: number; used: number }[] = [];
    for (const name of await fs.promises.readdir(this.dir)) {
      if (!name.endsWith('.emb')) continue;
      const file = path.join(this.dir, name);
      const st = await fs.promises.stat(file).catch(() => null);
      if (st?.isFile()) out.push({ file, size: st.size, used: st.mtimeMs });
    }
    return out.sort((a, b) => a.used - b.used);
  }

  /** Removes the least recently used files until the folder is within its limit. */
  private async prune(): Promise<void> {
    if (this.total !== null && this.total <= this.maxBytes) return;
    const list = await this.entries();
    this.total = list.reduce((s, e) => s + e.size, 0);
    for (const e of list) {
      if (this.total <= this.maxBytes) break;
      await fs.promises.rm(e.file, { force: true });
      this.total -= e.size;
    }
  }

  async set(key: string, embedding: SamEmbedding): Promise<void> {
    const target = this.file(key);
    const head = Buffer.alloc(HEADER);
    head.write(MAGIC, 0, 'latin1');
    embedding.dims.forEach((d, i) => head.writeInt32LE(d, MAGIC.length + 4 * i));
    const body = Buffer.from(embedding.data.buffer, embedding.data.byteOffset, embedding.data.byteLength);
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      const existed = await fs.promises.stat(target).then((st) => st.size, () => 0);
      await fs.promises.writeFile(tmp, Buffer.concat([head, body]));
      await fs.promises.rename(tmp, target);
      if (this.total !== null) this.total += HEADER + body.length - existed;
      await this.prune();
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw new KeysliceError('WRITE_FAILED', `cannot write to the embedding cache: ${(e as Error).message}`, this.dir, { cause: e });
    }
  }
}
