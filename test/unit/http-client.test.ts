/**
 * The bounded HTTP/1.1 client web seeds use: the response head and body framing parsed within
 * their bounds (a hostile server cannot make us buffer or scan without end), and one connection
 * over real loopback sockets against raw servers that misbehave in every way the client has to
 * survive: kept alive and reused, paused so that the server's window closes, bodies larger than
 * asked for, bytes outside a response, heads and bodies that never come, connections cut short.
 * Connecting goes over the kernel's Network, Happy Eyeballs across the families allowed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bodyDecoder } from '../../src/http-client/body-framing.js';
import { openConnection } from '../../src/http-client/connect.js';
import { HttpConnection } from '../../src/http-client/connection.js';
import { HttpClientError } from '../../src/http-client/client-error.js';
import { headEnd, MAX_HEAD_BYTES, parseHead } from '../../src/http-client/response-head.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';

const head = (text: string) => parseHead(Buffer.from(text));

/** Decode `chunks` with the decoder the head asks for; returns the body and the bytes after it. */
function decodeAll(headText: string, chunks: string[]): { body: string; rest: string; done: boolean } {
  const d = bodyDecoder(head(headText));
  let body = '';
  let rest = '';
  for (const c of chunks) {
    const buf = Buffer.from(c, 'latin1');
    const used = d.feed(buf, (b) => (body += b.toString('latin1')));
    rest += buf.subarray(used).toString('latin1');
  }
  return { body, rest, done: d.done };
}

describe('response head', () => {
  it('finds the end of a head with CRLF or bare LF line ends, and parses status and fields', () => {
    const text = 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nX-A: 1\r\nx-a: 2\r\n\r\nBODY';
    const buf = Buffer.from(text);
    const end = headEnd(buf);
    expect(buf.subarray(end).toString()).toBe('BODY');
    const h = parseHead(buf.subarray(0, end));
    expect(h.status).toBe(206);
    expect(h.reason).toBe('Partial Content');
    expect(h.minorVersion).toBe(1);
    expect(h.headers.get('content-range')).toEqual(['bytes 0-9/100']);
    expect(h.headers.get('x-a')).toEqual(['1', '2']);
    expect(headEnd(Buffer.from('HTTP/1.0 200 OK\nA: b\n\nrest'))).toBe('HTTP/1.0 200 OK\nA: b\n\n'.length);
  });

  it('scans a head that arrives a byte at a time once, from where it left off', () => {
    const text = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    let scanned = 0;
    let end = -1;
    for (let n = 1; n <= text.length && end < 0; n++) {
      end = headEnd(text.subarray(0, n), scanned);
      scanned = n;
    }
    expect(end).toBe(text.length);
  });

  it('refuses a head larger than its bound, too many fields, folded or nameless lines, and a bad status line', () => {
    expect(() => headEnd(Buffer.alloc(MAX_HEAD_BYTES + 1, 0x61))).toThrow(/larger than/);
    const many = `HTTP/1.1 200 OK\r\n${'A: b\r\n'.repeat(101)}\r\n`;
    expect(() => head(many)).toThrow(/more than 100 header fields/);
    expect(() => head('HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n')).toThrow(/malformed header/);
    expect(() => head('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')).toThrow(/malformed header/);
    expect(() => head('HTTP/2 200\r\n\r\n')).toThrow(/not an HTTP\/1.x status line/);
    expect(() => head('ICY 200 OK\r\n\r\n')).toThrow(HttpClientError);
  });
});

describe('body framing', () => {
  it('ends a Content-Length body at its length, leaving what follows', () => {
    expect(decodeAll('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', ['hel', 'loEXTRA'])).toEqual({ body: 'hello', rest: 'EXTRA', done: true });
    expect(decodeAll('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n', ['abc']).body).toBe('abc');
    expect(() => bodyDecoder(head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'))).toThrow(/bad Content-Length/);
    expect(() => bodyDecoder(head('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'))).toThrow(/bad Content-Length/);
    expect(() => bodyDecoder(head('HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n'))).toThrow(/bad Content-Length/);
  });

  it('decodes chunked bodies split anywhere, with extensions and trailers', () => {
    const wire = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT';
    const h = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(decodeAll(h, [wire])).toEqual({ body: 'hello world', rest: 'NEXT', done: true });
    expect(decodeAll(h, [...wire])).toEqual({ body: 'hello world', rest: 'NEXT', done: true });
  });

  it('refuses chunked bodies that lie or run past their bounds, and framings that are a smuggling sign', () => {
    const h = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(() => decodeAll(h, ['3\r\nhello\r\n'])).toThrow(/longer than its declared size/);
    expect(() => decodeAll(h, ['zz\r\n'])).toThrow(/bad chunk size/);
    expect(() => decodeAll(h, [`${'0'.repeat(2000)}`])).toThrow(/longer than 1024 bytes/);
    expect(() => decodeAll(h, ['0\r\n', ...Array.from({ length: 20 }, () => `X: ${'y'.repeat(500)}\r\n`)])).toThrow(/trailer is longer/);
    expect(() => bodyDecoder(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'))).toThrow(/both Transfer-Encoding and Content-Length/);
    expect(() => bodyDecoder(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'))).toThrow(/unsupported Transfer-Encoding/);
  });

  it('runs a body without a length until the connection closes, and none for 204 and 304', () => {
    const d = bodyDecoder(head('HTTP/1.0 200 OK\r\n\r\n'));
    expect(d.framed).toBe(false);
    expect(d.closed()).toBe(true);
    expect(bodyDecoder(head('HTTP/1.1 204 No Content\r\n\r\n')).done).toBe(true);
    expect(bodyDecoder(head('HTTP/1.1 304 Not Modified\r\n\r\n')).done).toBe(true);
  });
});

// ---- one connection against raw servers ------------------------------------------------------

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A raw TCP server on 127.0.0.1 (and ::1 with `v6`) whose every request (the head, as text) goes to `onRequest`. */
async function rawServer(onRequest: (s: Socket, request: string, n: number) => void, host = '127.0.0.1'): Promise<number> {
  let n = 0;
  const server = createServer((s) => {
    sockets.push(s);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const req = buf.slice(0, end);
        buf = buf.slice(end + 4);
        onRequest(s, req, n++);
      }
    });
    s.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as { port: number }).port;
}

const network = new KernelNetwork();
const TIMEOUTS = { connectTimeoutMs: 5000, headTimeoutMs: 2000, stallTimeoutMs: 1000, families: { 4: true, 6: true } };

async function connection(port: number, host = '127.0.0.1', families = { 4: true, 6: true }): Promise<HttpConnection> {
  return openConnection(network, { tls: false, hostname: host, port }, { ...TIMEOUTS, families });
}

async function get(c: HttpConnection, max = 1 << 20): Promise<{ status: number; body: string }> {
  const h = await c.request({ target: '/f', host: 'test' });
  let body = '';
  await c.readBody(max, (b) => (body += b.toString('latin1')));
  return { status: h.status, body };
}

describe('an HTTP connection', () => {
  it('sends a well-formed GET, and reuses a kept-alive connection for the next one', async () => {
    const seen: string[] = [];
    let connections = 0;
    const port = await rawServer((s, req) => {
      seen.push(req);
      s.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\nabc');
    });
    servers[0]!.on('connection', () => connections++);
    const c = await connection(port);
    expect(await get(c)).toEqual({ status: 206, body: 'abc' });
    expect(c.reusable).toBe(true);
    expect(await get(c)).toEqual({ status: 206, body: 'abc' });
    expect(connections).toBe(1);
    expect(seen[0]).toMatch(/^GET \/f HTTP\/1\.1\r\nHost: test\r\nUser-Agent: sixswarm\r\nAccept: \*\/\*\r\nAccept-Encoding: identity$/);
    c.close();
  });

  it('does not reuse a connection the server said it closes, or an HTTP/1.0 one', async () => {
    const port = await rawServer((s, _req, n) => {
      s.write(n === 0 ? 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx' : 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\ny');
    });
    const a = await connection(port);
    expect((await get(a)).body).toBe('x');
    expect(a.reusable).toBe(false);
    const b = await connection(port);
    expect((await get(b)).body).toBe('y');
    expect(b.reusable).toBe(false);
  });

  it('takes a body framed by the close that arrived whole, closed and all, before it was asked for', async () => {
    const port = await rawServer((s) => s.end('HTTP/1.0 200 OK\r\n\r\nthe whole body'));
    const c = await connection(port);
    const h = await c.request({ target: '/f', host: 'x' });
    await new Promise((r) => setTimeout(r, 100)); // the server's FIN is in
    let body = '';
    await c.readBody(100, (b) => (body += b.toString()));
    expect([h.status, body]).toEqual([200, 'the whole body']);
    expect(c.reusable).toBe(false);
  });

  it('refuses a header that would carry a second request', async () => {
    const port = await rawServer(() => {});
    const c = await connection(port);
    await expect(c.request({ target: '/f', host: 'x', headers: { Range: 'bytes=0-1\r\nX-Evil: 1' } })).rejects.toThrow(/control characters/);
    await expect(c.request({ target: '/f HTTP/1.1\r\n', host: 'x' })).rejects.toThrow(/control characters/);
    c.close();
  });

  it('refuses a declared body larger than asked before reading it, and one that runs past it as it arrives', async () => {
    const port = await rawServer((s, _req, n) => {
      if (n === 0) s.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 1000000000\r\n\r\n');
      else s.write(`HTTP/1.1 206 Partial Content\r\n\r\n${'z'.repeat(100_000)}`);
    });
    const a = await connection(port);
    await expect(get(a, 1000)).rejects.toMatchObject({ kind: 'too-large', message: /1000000000 bytes, more than the 1000 asked for/ });
    expect(a.closed).toBe(true);
    const got: number[] = [];
    const c = await connection(port);
    const h = await c.request({ target: '/f', host: 'x' });
    expect(h.status).toBe(206);
    await expect(c.readBody(5000, (b) => got.push(b.length))).rejects.toMatchObject({ kind: 'too-large', message: /sent more than the 5000 bytes/ });
    expect(got.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(5000);
  });

  it('closes on bytes outside any response, on a head that never ends, and on a cut body', async () => {
    const port = await rawServer((s, _req, n) => {
      if (n === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK');
      else if (n === 1) s.write(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20_000)}`);
      else s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    });
    const a = await connection(port);
    expect((await get(a)).body).toBe('ok');
    // The junk after the body makes it unusable: a response to a request never sent.
    expect(a.reusable).toBe(false);
    const b = await connection(port);
    await expect(b.request({ target: '/f', host: 'x' })).rejects.toThrow(/larger than 16384 bytes/);
    const c = await connection(port);
    await expect(get(c)).rejects.toMatchObject({ kind: 'closed', message: /closed the connection after 3 of 10 body bytes/ });
  });

  it('times out a head that does not come and a body that stops', async () => {
    const port = await rawServer((s, _req, n) => {
      if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    });
    const a = await connection(port);
    const t0 = Date.now();
    await expect(a.request({ target: '/f', host: 'x' })).rejects.toMatchObject({ kind: 'timeout', message: /no response .* within 2 s/ });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    const b = await connection(port);
    await expect(get(b)).rejects.toMatchObject({ kind: 'timeout', message: /sent nothing for 1 s/ });
  });

  it('paused, stops reading: the server cannot push more than the sockets hold into our memory', async () => {
    const size = 64 * 1024 * 1024;
    let server!: Socket;
    const port = await rawServer((s) => {
      server = s;
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      const chunk = Buffer.alloc(1 << 20, 0x61);
      const pump = () => {
        while (s.writable && s.write(chunk)) { /* until the kernel's buffers are full */ }
      };
      s.on('drain', pump);
      pump();
    });
    const c = await connection(port);
    await c.request({ target: '/f', host: 'x' });
    let got = 0;
    c.pause();
    const body = c.readBody(size, (b) => {
      got += b.length;
    });
    await new Promise((r) => setTimeout(r, 1500)); // longer than the stall timeout: paused time does not count
    // Only what was in flight before the pause took effect can arrive: nothing like the body's 64 MiB.
    expect(got).toBeLessThan(8 * 1024 * 1024);
    expect(server.writableLength).toBeGreaterThan(0);
    c.resume();
    await body;
    expect(got).toBe(size);
  });

  // A name with addresses of both families is raced in test/netns/web-seed-names.test.ts (this host's localhost has no ::1).
  it('connects over each family, and never over a family turned off', async () => {
    const port6 = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n6'), '::1');
    const v6 = await connection(port6, '::1');
    expect(v6.remote).toEqual({ host: '::1', port: port6, family: 6 });
    expect((await get(v6)).body).toBe('6');
    await expect(connection(port6, '::1', { 4: true, 6: false })).rejects.toMatchObject({ kind: 'connect', message: /no address of an enabled family/ });
    const port4 = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n4'));
    const v4 = await connection(port4, 'localhost', { 4: true, 6: false });
    expect(v4.remote).toEqual({ host: '127.0.0.1', port: port4, family: 4 });
    expect((await get(v4)).body).toBe('4');
    await expect(connection(port4, '127.0.0.1', { 4: false, 6: true })).rejects.toMatchObject({ kind: 'connect' });
  });

  it('fails a TLS handshake with a server that does not speak TLS, within the deadline', async () => {
    const port = await rawServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    // The raw server answers the ClientHello's bytes as if they were a request.
    servers[0]!.removeAllListeners('connection');
    servers[0]!.on('connection', (s: Socket) => {
      sockets.push(s);
      s.on('error', () => {});
      s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    await expect(openConnection(network, { tls: true, hostname: '127.0.0.1', port }, TIMEOUTS)).rejects.toMatchObject({ kind: 'tls' });
  });
});
