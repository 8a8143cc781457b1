/**
 * Files of one folder served read-only (a web page and its scripts): a request path maps to a
 * regular file inside the folder and nothing else. `..`, encoded slashes, NUL, dot files and any
 * path whose real location (symlinks resolved) is outside the folder get 404, as do folders
 * (but `dir/` serves `dir/index.html`).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, relative, isAbsolute } from 'node:path';
import { HttpError } from './http-error.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

const notFound = () => new HttpError(404, 'no such file');

export class StaticFiles {
  private realRoot?: Promise<string>;

  constructor(readonly root: string) {}

  /** Send the file `path` names (the part of the URL path below where the folder is served). */
  async serve(path: string, res: ServerResponse, headers: Record<string, string> = {}, head = false): Promise<void> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      throw notFound();
    }
    const parts = decoded.split('/').filter((p) => p !== '');
    if (decoded.includes('\0') || decoded.includes('\\') || parts.some((p) => p === '..' || p.startsWith('.'))) throw notFound();
    if (decoded === '' || decoded.endsWith('/')) parts.push('index.html');
    this.realRoot ??= realpath(this.root);
    const root = await this.realRoot.catch(() => {
      this.realRoot = undefined;
      throw notFound();
    });
    const real = await realpath(join(root, ...parts)).catch(() => undefined);
    const r = real && relative(root, real);
    if (!real || r === undefined || r.startsWith('..') || isAbsolute(r)) throw notFound();
    const st = await stat(real).catch(() => undefined);
    if (!st?.isFile()) throw notFound();
    res.writeHead(200, {
      'Content-Type': TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(st.size),
      'Cache-Control': 'no-cache',
      ...headers,
    });
    if (head) {
      res.end();
      return;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(real);
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      stream.pipe(res).on('finish', resolve).on('close', resolve);
    });
  }
}
