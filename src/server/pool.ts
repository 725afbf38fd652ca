/**
 * A pool of session workers (`worker_threads`): each session is pinned to one worker (the least loaded when it
 * opens). A worker that dies fails its requests in flight with `WORKER_CRASHED`, is replaced, and the pool
 * reports the sessions it held so that they can be restored from their journals.
 */
import { Worker } from 'node:worker_threads';
import { HttpError, fromWireError } from './errors.js';
import type { WorkerData, WorkerReply } from './protocol.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onLine?: (line: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  sessions: Set<string>;
}

export interface PoolOptions {
  size: number;
  data: WorkerData;
  /** Called with the sessions a dead worker held, after its replacement started. */
  onCrash?: (sessions: string[]) => void;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly pinned = new Map<string, number>();
  private nextId = 1;
  private closed = false;
  /**
   * Stop flags of propagations in flight, shared with their worker: a worker busy computing reads the flag
   * between engine calls, where a message would wait until the propagation ended.
   */
  private readonly stops = new Map<number, Int32Array>();
  crashes = 0;

  constructor(private readonly options: PoolOptions) {
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn(i));
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(index: number): Slot {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.options.data });
    const slot: Slot = { worker, pending: new Map(), sessions: this.slots[index]?.sessions ?? new Set() };
    worker.on('message', (m: WorkerReply) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      if ('line' in m) {
        p.onLine?.(m.line);
        return;
      }
      slot.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(fromWireError(m.error));
    });
    worker.on('error', (err) => console.error(`session worker ${index}:`, err));
    worker.on('exit', (code) => this.onExit(index, slot, code));
    return slot;
  }

  private onExit(index: number, slot: Slot, code: number): void {
    if (this.slots[index] !== slot) return;
    for (const p of slot.pending.values()) {
      p.reject(new HttpError(500, 'WORKER_CRASHED', 'the worker running this session stopped; this request failed and the session is restored from its journal'));
    }
    slot.pending.clear();
    if (this.closed) return;
    this.crashes++;
    console.error(`session worker ${index} exited (code ${code}); starting a new one`);
    const held = [...slot.sessions];
    this.slots[index] = this.spawn(index);
    this.options.onCrash?.(held);
  }

  /** Pins a session to the worker holding the fewest sessions. */
  assign(sid: string): void {
    if (this.pinned.has(sid)) return;
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) if (this.slots[i].sessions.size < this.slots[best].sessions.size) best = i;
    this.pinned.set(sid, best);
    this.slots[best].sessions.add(sid);
  }

  release(sid: string): void {
    const i = this.pinned.get(sid);
    if (i === undefined) return;
    this.slots[i].sessions.delete(sid);
    this.pinned.delete(sid);
  }

  /** Sends a request for a session to its worker; `onLine` receives stream lines. Returns its id and reply. */
  request(sid: string, msg: Record<string, unknown>, onLine?: (line: unknown) => void): { id: number; reply: Promise<unknown> } {
    const i = this.pinned.get(sid);
    if (i === undefined) throw new HttpError(500, 'INTERNAL', 'session has no worker');
    const slot = this.slots[i];
    const id = this.nextId++;
    const reply = new Promise<unknown>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, onLine });
    });
    let stop: Int32Array | undefined;
    if (msg.op === 'propagate') {
      stop = new Int32Array(new SharedArrayBuffer(4));
      this.stops.set(id, stop);
      void reply.catch(() => undefined).finally(() => this.stops.delete(id));
    }
    slot.worker.postMessage({ ...msg, id, sid, ...(stop ? { stop: stop.buffer } : {}) });
    return { id, reply };
  }

  cancel(sid: string, target: number): void {
    const stop = this.stops.get(target);
    if (stop) Atomics.store(stop, 0, 1);
    const i = this.pinned.get(sid);
    if (i !== undefined) this.slots[i].worker.postMessage({ id: 0, sid, op: 'cancel', target });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
