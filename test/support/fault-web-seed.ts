/**
 * Web seeds with one known fault each, for the web seed tests: a small HTTP server on 127.0.0.1
 * and ::1 (one port) serving a torrent's files from memory, BEP 19 Range requests or a BEP 17
 * script's piece requests, written by hand on raw sockets so that it can break HTTP the ways a
 * real server might: bytes corrupted, a file missing, a trickle, a redirect loop, a connection
 * cut mid-body, far more bytes than asked, busy replies with a wait. Without a fault it serves
 * correctly: the baseline. Every request is recorded (time, path, range, status).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Metainfo } from '../../src/metainfo/types.js';

export type WebSeedFault =
  | { kind: 'none' }
  /** Every response body has one byte flipped. */
  | { kind: 'corrupt' }
  /** This file (its path under the server, like "tree/b.bin") answers 404. */
  | { kind: 'missing'; path: string }
  /** Bodies trickle: `bytes` every `everyMs`. */
  | { kind: 'slow'; bytes: number; everyMs: number }
  /** Every request is redirected to the other of two URLs, and back. */
  | { kind: 'redirect-loop' }
  /** Half the body, then the connection is cut. */
  | { kind: 'close-mid-body' }
  /** The right bytes with a right Content-Range but no length, then more, without end, until we hang up. */
  | { kind: 'too-much' }
  /** The first `times` requests are answered 503 with Retry-After (or, BEP 17, the seconds in the body). */
  | { kind: 'busy'; seconds: number; times: number; inBody?: boolean }
  /** Every file is moved: 302 to the same path on `to` (a base URL). */
  | { kind: 'moved'; to: string };

export interface Recorded {
  at: number;
  client: string;
  path: string;
  range?: [number, number];
  status: number;
}

export interface FaultWebSeed {
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** The server's files: `files` maps a path ("tree/b.bin") to its bytes; BEP 17 serves the torrent's pieces from them. */
export async function faultWebSeed(fault: WebSeedFault, files: Map<string, Buffer>, meta?: Metainfo): Promise<FaultWebSeed> {
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let busyLeft = fault.kind === 'busy' ? fault.times : 0;
  const payload = meta ? Buffer.concat(meta.files.map((f) => (f.pad ? Buffer.alloc(f.length) : files.get(f.path.join('/'))!))) : undefined;

  const onRequest = (s: Socket, head: string) => {
    const [line = '', ...fields] = head.split('\r\n');
    const target = line.split(' ')[1] ?? '/';
    const url = new URL(target, 'http://x');
    const path = decodeURIComponent(url.pathname.slice(1));
    const rangeField = fields.find((f) => /^range:/i.test(f));
    const m = rangeField ? /bytes=(\d+)-(\d+)/.exec(rangeField) : null;
    const record = (status: number, range?: [number, number]) => requests.push({ at: Date.now(), client: s.remoteAddress ?? '', path: url.pathname + url.search, status, ...(range ? { range } : {}) });
    const send = (status: string, headers: string[], body?: Buffer) => {
      s.write(`HTTP/1.1 ${status}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
      if (body) s.write(body);
    };
    if (fault.kind === 'busy' && busyLeft > 0) {
      busyLeft--;
      record(503);
      if (fault.inBody) return send('503 Service Unavailable', [`Content-Length: ${String(fault.seconds).length}`], Buffer.from(String(fault.seconds)));
      return send('503 Service Unavailable', [`Retry-After: ${fault.seconds}`, 'Content-Length: 4'], Buffer.from('busy'));
    }
    if (fault.kind === 'redirect-loop') {
      record(302);
      const next = url.searchParams.get('hop') === '1' ? url.pathname : `${url.pathname}?hop=1`;
      return send('302 Found', [`Location: ${next}`, 'Content-Length: 0']);
    }
    if (fault.kind === 'moved') {
      record(302);
      return send('302 Found', [`Location: ${new URL(url.pathname.slice(1), fault.to).href}`, 'Content-Length: 0']);
    }
    // The bytes asked for: a BEP 17 piece request, or a BEP 19 range of a file.
    let body: Buffer | undefined;
    let status = '206 Partial Content';
    const headers: string[] = [];
    let range: [number, number] | undefined;
    if (url.searchParams.has('info_hash') && meta && payload) {
      const piece = Number(url.searchParams.get('piece'));
      const ranges = url.searchParams.get('ranges');
      const start = piece * meta.pieceLength;
      const [a, b] = ranges ? ranges.split('-').map(Number) as [number, number] : [0, Math.min(meta.pieceLength, meta.totalLength - start) - 1];
      body = payload.subarray(start + a, start + b + 1);
      status = '200 OK';
      range = [a, b];
    } else {
      const file = files.get(path);
      if (!file || (fault.kind === 'missing' && path === fault.path)) {
        record(404);
        return send('404 Not Found', ['Content-Length: 9'], Buffer.from('not found'));
      }
      range = m ? [Number(m[1]), Number(m[2])] : [0, file.length - 1];
      body = file.subarray(range[0], range[1] + 1);
      if (m) headers.push(`Content-Range: bytes ${range[0]}-${range[1]}/${file.length}`);
      else status = '200 OK';
    }
    record(Number(status.slice(0, 3)), range);
    switch (fault.kind) {
      case 'corrupt': {
        const bad = Buffer.from(body);
        bad[bad.length >> 1]! ^= 0xff;
        return send(status, [...headers, `Content-Length: ${bad.length}`], bad);
      }
      case 'close-mid-body':
        send(status, [...headers, `Content-Length: ${body.length}`], body.subarray(0, body.length >> 1));
        return void s.end();
      case 'too-much': {
        send(status, [...headers, 'Connection: close'], body);
        const more = Buffer.alloc(64 * 1024, 0x5a);
        const flood = () => {
          while (!s.destroyed && s.write(more)) { /* until the socket pushes back */ }
        };
        s.on('drain', flood);
        return flood();
      }
      case 'slow': {
        send(status, [...headers, `Content-Length: ${body.length}`]);
        let at = 0;
        const drip = setInterval(() => {
          if (s.destroyed || at >= body!.length) {
            clearInterval(drip);
            timers.delete(drip);
            return;
          }
          s.write(body!.subarray(at, at + fault.bytes));
          at += fault.bytes;
        }, fault.everyMs);
        timers.add(drip);
        return;
      }
      default:
        return send(status, [...headers, `Content-Length: ${body.length}`], body);
    }
  };

  const servers: Server[] = [];
  const listen = (host: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
        let buf = '';
        s.on('data', (d) => {
          buf += d.toString('latin1');
          for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
            const head = buf.slice(0, end);
            buf = buf.slice(end + 4);
            onRequest(s, head);
          }
        });
      });
      servers.push(server);
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen('::1', 0);
  await listen('127.0.0.1', port);
  return {
    port,
    requests,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
