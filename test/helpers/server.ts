/** Servers for tests: started in this process or as a real `keyslice serve` child process, on 127.0.0.1. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { makePhantom, type Phantom } from '../../src/demo/phantom.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/server.js';
import { writeVolume } from '../../src/volume/io-node.js';
import { SliceGeometry } from '../../src/volume/volume.js';
import { CLI } from './paths.js';

export interface PhantomUpload {
  phantom: Phantom;
  file: string;
  bytes: Uint8Array;
  /** The truth mask of `label` on slice `w` (slice axis 2). */
  keyMask(w: number, label?: number): Uint8Array;
}

/** A small CT phantom written as .nii.gz in `dir`. */
export async function phantomUpload(dir: string, size: [number, number, number] = [64, 64, 12]): Promise<PhantomUpload> {
  const phantom = makePhantom({ size });
  const file = path.join(dir, 'ct.nii.gz');
  await writeVolume(phantom.image, file);
  const sg = new SliceGeometry(phantom.image, 2);
  return {
    phantom,
    file,
    bytes: new Uint8Array(readFileSync(file)),
    keyMask: (w, label = 1) => sg.maskOf(phantom.truth.data, w, label) ?? new Uint8Array(sg.area),
  };
}

export function testServer(dataDir: string, options: ServeOptions = {}): Promise<RunningServer> {
  return startServer({ port: 0, data: dataDir, workers: 2, ...options });
}

export interface Api {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** One HTTP request; JSON bodies are sent as JSON, byte bodies as octet-stream. */
export async function api(url: string, method: string, token?: string, body?: unknown): Promise<Api> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let data: RequestInit['body'];
  if (body instanceof Uint8Array) {
    headers['content-type'] = 'application/octet-stream';
    data = body;
  } else if (body instanceof FormData) {
    data = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    data = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, ...(data !== undefined ? { body: data } : {}) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** `keyslice serve` as a child process; resolves with its URL once it listens. */
export function spawnServer(args: string[]): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${err}`));
    });
  });
}
