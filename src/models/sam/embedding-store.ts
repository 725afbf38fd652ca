/**
 * Image embeddings kept for reuse across runs: keyed by the model and the exact encoder input (a SHA-256 of
 * both), so the same slice, crop and window of the same volume is encoded once whatever the prompts or key
 * slices. `MemoryEmbeddingStore` runs everywhere; the Node loader adds a folder on disk
 * (`embedding-store-node.ts`). Platform-neutral: hashing uses Web Crypto (Node 20 and browsers).
 */
import type { SamEmbedding } from './model.js';

export interface EmbeddingStore {
  get(key: string): Promise<SamEmbedding | undefined>;
  set(key: string, embedding: SamEmbedding): Promise<void>;
}

/** Hex SHA-256 of the model's identity and of the encoder input's bytes (hashed in place, not copied). */
export async function embeddingKey(modelId: string, input: Float32Array): Promise<string> {
  const hex = async (bytes: Uint8Array): Promise<string> =>
    Array.from(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)), (b) => b.toString(16).padStart(2, '0')).join('');
  const inputHash = await hex(new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
  return hex(new TextEncoder().encode(`${modelId}\n${inputHash}`));
}

/** Default size of the in-memory embedding store: 256 MiB (64 SAM embeddings of 64 x 64). */
export const DEFAULT_MEMORY_CACHE_BYTES = 256 * 1024 * 1024;

/** The most recently used embeddings in memory, up to `maxBytes` (default {@link DEFAULT_MEMORY_CACHE_BYTES}). */
export class MemoryEmbeddingStore implements EmbeddingStore {
  private readonly entries = new Map<string, SamEmbedding>();
  private bytes = 0;

  constructor(private readonly maxBytes = DEFAULT_MEMORY_CACHE_BYTES) {}

  async get(key: string): Promise<SamEmbedding | undefined> {
    const e = this.entries.get(key);
    if (e) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  async set(key: string, embedding: SamEmbedding): Promise<void> {
    const size = embedding.data.byteLength;
    if (size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.data.byteLength;
      this.entries.delete(key);
    }
    this.entries.set(key, embedding);
    this.bytes += size;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.data.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Looks in each store in turn; a hit in a later store is copied into the earlier ones; `set` writes to all. */
export class LayeredEmbeddingStore implements EmbeddingStore {
  constructor(private readonly stores: readonly EmbeddingStore[]) {}

  async get(key: string): Promise<SamEmbedding | undefined> {
    for (let i = 0; i < this.stores.length; i++) {
      const e = await this.stores[i].get(key);
      if (e) {
        for (let j = 0; j < i; j++) await this.stores[j].set(key, e);
        return e;
      }
    }
    return undefined;
  }

  async set(key: string, embedding: SamEmbedding): Promise<void> {
    for (const s of this.stores) await s.set(key, embedding);
  }
}
