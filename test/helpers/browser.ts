/**
 * A real browser for the app's end-to-end tests: Debian's chromium-headless-shell (or another Chromium) driven
 * by playwright-core, every request checked to stay on loopback, and a static file server on 127.0.0.1.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';

const CANDIDATES = [
  process.env.KEYSLICE_CHROMIUM,
  '/usr/bin/chromium-headless-shell',
  '/usr/lib/chromium-headless-shell/chromium-headless-shell',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
].filter((x): x is string => !!x);

/** The browser executable, or null where none is installed. */
export function chromiumPath(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** A skip reason when no browser is found, else false. */
export function browserSkip(): string | false {
  return chromiumPath() ? false : 'no Chromium found (apt-get install chromium-headless-shell, or set KEYSLICE_CHROMIUM)';
}

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath() as string, args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'] });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A page whose every request is checked: requests to anything but loopback (and data:/blob: URLs) are aborted
 * and listed in `offLoopback`; page errors and console errors are collected.
 */
export async function guardedPage(browser: Browser): Promise<{ page: Page; offLoopback: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 760, height: 540 }, acceptDownloads: true });
  const offLoopback: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || LOOPBACK.has(url.hostname)) return route.continue();
    offLoopback.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (!(url.protocol === 'data:' || url.protocol === 'blob:' || LOOPBACK.has(url.hostname))) offLoopback.push(url.href);
  });
  return { page, offLoopback, errors };
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves a folder's files on 127.0.0.1 (any free port). */
export async function staticServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '') || 'index.html';
    const file = path.join(dir, path.basename(name));
    fsp.readFile(file).then(
      (bytes) => {
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
        res.end(bytes);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
