/**
 * The session journal: one append-only file per session under `<data>/sessions/`, one JSON record per line,
 * each written and fsync'd before the request it records is answered. The first record names the image (its
 * content hash) and the session's options; the others are the edits in order. Replaying the records on the
 * same image gives the same labels and the same undo history.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { EditRecord } from './protocol.js';
import type { ImageKind } from './upload.js';

export interface OpenRecord {
  t: 'open';
  /** SHA-256 of the uploaded bytes, and their kind. */
  image: string;
  kind: ImageKind;
  engine: string;
  axis?: 0 | 1 | 2;
  /** SHA-256 of the token the session is tied to ('' for none). */
  token: string;
  /** 'native' (own token) or 'monai' (the bearer token that created it). */
  api: 'native' | 'monai';
  created: number;
  name?: string;
}

export type JournalRecord = OpenRecord | ({ t: 'edit' } & EditRecord) | { t: 'expired'; at: number };

export interface JournalEntry {
  id: string;
  records: JournalRecord[];
}

const ID = /^[0-9a-f]{32}$/;

export class Journal {
  private readonly dir: string;
  private readonly files = new Map<string, fsp.FileHandle>();

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'sessions');
  }

  private file(id: string): string {
    if (!ID.test(id)) throw new Error('bad session id');
    return path.join(this.dir, `${id}.ndjson`);
  }

  async append(id: string, record: JournalRecord): Promise<void> {
    let fh = this.files.get(id);
    if (!fh) {
      fh = await fsp.open(this.file(id), 'a');
      this.files.set(id, fh);
    }
    await fh.write(`${JSON.stringify(record)}\n`);
    await fh.datasync();
  }

  /** Closes a session's file, keeping it (an expired session stays as a record that it expired). */
  async release(id: string): Promise<void> {
    const fh = this.files.get(id);
    this.files.delete(id);
    await fh?.close();
  }

  async remove(id: string): Promise<void> {
    await this.release(id);
    await fsp.rm(this.file(id), { force: true });
  }

  /** Every journal: records in order; a torn last line (a crash mid-write) is dropped. */
  async readAll(): Promise<JournalEntry[]> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    const out: JournalEntry[] = [];
    for (const n of names) {
      const id = n.replace(/\.ndjson$/, '');
      if (!n.endsWith('.ndjson') || !ID.test(id)) continue;
      const text = await fsp.readFile(path.join(this.dir, n), 'utf8');
      const records: JournalRecord[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          records.push(JSON.parse(line) as JournalRecord);
        } catch {
          break;
        }
      }
      if (records[0]?.t === 'open') out.push({ id, records });
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.keys()].map((id) => this.release(id)));
  }
}
