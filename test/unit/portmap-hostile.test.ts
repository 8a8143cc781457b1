/**
 * Hostile and broken gateways, faked on loopback (real UDP and HTTP sockets): truncated replies,
 * wrong versions, opcodes and nonces, replies from another address, lifetimes of 0 and 2^32-1,
 * external port 0, floods, endless or huge descriptions, slow-loris HTTP. Each must end in a
 * clear error (or a clamped grant), quickly, without memory growing with the attacker's input.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { PortMapError } from '../../src/portmap/errors.js';
import { NatPmpBackend } from '../../src/portmap/natpmp/backend.js';
import { PcpBackend } from '../../src/portmap/pcp/backend.js';
import { addressField } from '../../src/portmap/pcp/codec.js';
import { DESCRIPTION_LIMITS, fetchDescription } from '../../src/portmap/upnp/description.js';
import { httpRequest, parseHttpUrl } from '../../src/portmap/upnp/http.js';
import { soapCall } from '../../src/portmap/upnp/soap.js';

const FAST = [40, 40, 40];
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A UDP "gateway" on 127.0.0.1 that answers each request with what `reply` returns (nothing for undefined). */
async function fakeUdp(reply: (req: Buffer, from: RemoteInfo, s: Socket) => Buffer | Buffer[] | undefined): Promise<{ port: number; requests: Buffer[] }> {
  const s = createSocket('udp4');
  const requests: Buffer[] = [];
  s.on('message', (m, r) => {
    requests.push(m);
    const out = reply(m, r, s);
    for (const b of out === undefined ? [] : Array.isArray(out) ? out : [out]) s.send(b, r.port, r.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  closers.push(() => s.close());
  return { port: s.address().port, requests };
}

function pcpBackend(port: number, scheduleMs: readonly number[] = FAST): PcpBackend {
  const b = new PcpBackend({ family: 4, gateway: '127.0.0.1', target: '127.0.0.1', localAddress: '127.0.0.1', port, scheduleMs });
  closers.push(() => b.close());
  return b;
}

/** A PCP MAP reply to `req`, with overrides. */
function pcpMap(req: Buffer, o: { version?: number; opcode?: number; result?: number; lifetime?: number; epoch?: number; port?: number; addr?: string; nonce?: Buffer } = {}): Buffer {
  const b = Buffer.alloc(60);
  b[0] = o.version ?? 2;
  b[1] = 0x80 | (o.opcode ?? 1);
  b[3] = o.result ?? 0;
  b.writeUInt32BE(o.lifetime ?? 600, 4);
  b.writeUInt32BE(o.epoch ?? 1000, 8);
  (o.nonce ?? req.subarray(24, 36)).copy(b, 24);
  b[36] = req[36]!;
  req.copy(b, 40, 40, 42);
  b.writeUInt16BE(o.port ?? req.readUInt16BE(42), 42);
  addressField(o.addr ?? '198.51.100.2').copy(b, 44);
  return b;
}

const MAP = { transport: 'tcp', internalPort: 6881, suggestedExternalPort: 6881, lifetimeSeconds: 600 } as const;

async function rejection(p: Promise<unknown>): Promise<PortMapError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PortMapError);
  return e as PortMapError;
}

describe('a hostile PCP gateway', () => {
  test('an honest reply is a grant; 2^32-1 s is clamped to a day', async () => {
    const gw = await fakeUdp((req) => pcpMap(req, { lifetime: 0xffffffff }));
    const g = await pcpBackend(gw.port).map(MAP);
    expect(g).toMatchObject({ protocol: 'pcp', external: { address: '198.51.100.2', port: 6881 }, lifetimeSeconds: 86_400 });
  });

  test('truncated replies: a clear error after the schedule', async () => {
    const gw = await fakeUdp((req) => pcpMap(req).subarray(0, 20));
    const e = await rejection(pcpBackend(gw.port).map(MAP));
    expect(e.kind).toBe('bad-reply');
    expect(e.message).toMatch(/only sent replies we cannot use \(last: a PCP response has at least 24 bytes, this one 20\)/);
    expect(gw.requests).toHaveLength(FAST.length);
  });

  test('wrong nonce, wrong opcode: ignored, and the error says so', async () => {
    const nonce = await fakeUdp((req) => pcpMap(req, { nonce: Buffer.alloc(12, 7) }));
    expect((await rejection(pcpBackend(nonce.port).map(MAP))).message).toMatch(/a MAP reply with another nonce/);
    const opcode = await fakeUdp((req) => pcpMap(req, { opcode: 2 }));
    expect((await rejection(pcpBackend(opcode.port).map(MAP))).message).toMatch(/a reply to opcode 2 instead of MAP/);
  });

  test('a reply from another address never reaches the request (connected socket)', async () => {
    const other = createSocket('udp4');
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.2', resolve));
    closers.push(() => other.close());
    const gw = await fakeUdp((req, from) => {
      other.send(pcpMap(req), from.port, from.address);
      return undefined;
    });
    const e = await rejection(pcpBackend(gw.port).map(MAP));
    expect(e.kind).toBe('no-answer');
  });

  test('SUCCESS with lifetime 0, external port 0, or an impossible external address is no grant', async () => {
    for (const [o, why] of [
      [{ lifetime: 0 }, /lifetime of 0 s/],
      [{ port: 0 }, /external port 0/],
      [{ addr: '0.0.0.0' }, /external address 0\.0\.0\.0/],
      [{ addr: '224.0.0.1' }, /external address 224\.0\.0\.1/],
      [{ addr: '2001:db8::1' }, /external address 2001:db8::1/],
    ] as const) {
      const gw = await fakeUdp((req) => pcpMap(req, o));
      const e = await rejection(pcpBackend(gw.port).map(MAP));
      expect(e.kind).toBe('bad-reply');
      expect(e.message).toMatch(why);
    }
  });

  test('an error code is a refusal with its meaning, and its lifetime as the retry hint', async () => {
    const gw = await fakeUdp((req) => pcpMap(req, { result: 8, lifetime: 30 }).subarray(0, 24));
    const e = await rejection(pcpBackend(gw.port).map(MAP));
    expect(e).toMatchObject({ kind: 'refused', code: 8, retryAfterMs: 30_000 });
    expect(e.message).toMatch(/NO_RESOURCES: the gateway is out of mappings or ports right now \(PCP result 8\)/);
  });

  test('another version: a NAT-PMP server says "unsupported version" and PCP gives up at once', async () => {
    const gw = await fakeUdp((req) => Buffer.from([0, 0x80 | req[1]!, 0, 1, 0, 0, 0, 9]));
    const t0 = performance.now();
    const e = await rejection(pcpBackend(gw.port, [1000, 1000, 1000]).probe());
    expect(performance.now() - t0).toBeLessThan(900);
    expect(e).toMatchObject({ kind: 'refused', code: 1 });
    expect(e.message).toMatch(/speaks NAT-PMP, not PCP/);
    const v3 = await fakeUdp((req) => pcpMap(req, { version: 3, result: 1 }));
    expect((await rejection(pcpBackend(v3.port).map(MAP))).message).toMatch(/PCP version 3, not 2/);
  });

  test('an epoch that goes back is noticed (the gateway lost its mappings)', async () => {
    let epoch = 1000;
    const gw = await fakeUdp((req) => pcpMap(req, { epoch }));
    const b = pcpBackend(gw.port);
    const lost: string[] = [];
    b.onStateLost = (why) => lost.push(why);
    await b.map(MAP);
    epoch = 3;
    await b.map(MAP);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/epoch .* 3 s: it restarted/);
  });

  test('a flood of garbage around the real reply: the grant still comes, nothing piles up', async () => {
    // 100 per request: what fits the socket buffer (more would only make the kernel drop the real reply too).
    const junk = Array.from({ length: 100 }, (_, i) => Buffer.alloc(1 + ((i * 37) % 300), i));
    const gw = await fakeUdp((req) => [...junk, pcpMap(req)]);
    const heap0 = process.memoryUsage().heapUsed;
    const g = await pcpBackend(gw.port).map(MAP);
    expect(g.external.port).toBe(6881);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(16 << 20);
  });

  test('delete uses lifetime 0 and the same nonce', async () => {
    const gw = await fakeUdp((req) => pcpMap(req, { lifetime: req.readUInt32BE(4) || 0 }));
    const b = pcpBackend(gw.port);
    const g = await b.map(MAP);
    // A SUCCESS with lifetime 0 is exactly what a delete expects.
    await b.unmap(g);
    const [create, del] = [gw.requests[0]!, gw.requests.at(-1)!];
    expect(del.readUInt32BE(4)).toBe(0);
    expect(del.subarray(24, 36)).toEqual(create.subarray(24, 36));
  });
});

describe('a hostile NAT-PMP gateway', () => {
  function natpmpBackend(port: number): NatPmpBackend {
    const b = new NatPmpBackend({ gateway: '127.0.0.1', localAddress: '127.0.0.1', port, scheduleMs: FAST });
    closers.push(() => b.close());
    return b;
  }
  const address = (a = [198, 51, 100, 2], result = 0) => Buffer.from([0, 128, 0, result, 0, 0, 0, 5, ...a]);
  const mapping = (req: Buffer, o: { result?: number; port?: number; lifetime?: number } = {}) => {
    const b = Buffer.alloc(16);
    b[1] = 128 + req[1]!;
    b.writeUInt16BE(o.result ?? 0, 2);
    b.writeUInt32BE(5, 4);
    req.copy(b, 8, 4, 6);
    b.writeUInt16BE(o.port ?? req.readUInt16BE(6), 10);
    b.writeUInt32BE(o.lifetime ?? req.readUInt32BE(8), 12);
    return b;
  };

  test('honest: address and a TCP mapping; 2^32-1 s clamped', async () => {
    const gw = await fakeUdp((req) => (req[1] === 0 ? address() : mapping(req, { lifetime: 0xffffffff })));
    const g = await natpmpBackend(gw.port).map(MAP);
    expect(g).toMatchObject({ protocol: 'natpmp', external: { address: '198.51.100.2', port: 6881 }, lifetimeSeconds: 86_400 });
  });

  test('no external address (0.0.0.0, or result 3) is a refusal saying so', async () => {
    const zero = await fakeUdp(() => address([0, 0, 0, 0]));
    expect((await rejection(natpmpBackend(zero.port).probe())).message).toMatch(/no usable external address \(it reported 0\.0\.0\.0\)/);
    const three = await fakeUdp(() => address([0, 0, 0, 0], 3));
    const e = await rejection(natpmpBackend(three.port).probe());
    expect(e).toMatchObject({ kind: 'refused', code: 3 });
    expect(e.message).toMatch(/Network Failure/);
  });

  test('truncated, wrong version, port 0, lifetime 0', async () => {
    const trunc = await fakeUdp(() => Buffer.from([0, 128, 0]));
    expect((await rejection(natpmpBackend(trunc.port).probe())).message).toMatch(/3-byte datagram/);
    const version = await fakeUdp(() => Buffer.from([2, 128, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4]));
    expect((await rejection(natpmpBackend(version.port).probe())).message).toMatch(/version 2 \(expected 0\)/);
    const port0 = await fakeUdp((req) => (req[1] === 0 ? address() : mapping(req, { port: 0 })));
    expect((await rejection(natpmpBackend(port0.port).map(MAP))).message).toMatch(/external port 0/);
    const life0 = await fakeUdp((req) => (req[1] === 0 ? address() : mapping(req, { lifetime: 0 })));
    expect((await rejection(natpmpBackend(life0.port).map(MAP))).message).toMatch(/lifetime of 0 s/);
    const refused = await fakeUdp((req) => (req[1] === 0 ? address() : mapping(req, { result: 2 })));
    expect((await rejection(natpmpBackend(refused.port).map(MAP))).message).toMatch(/Not Authorized\/Refused.*\(NAT-PMP result 2\)/);
  });
});

describe('a hostile UPnP gateway (HTTP)', () => {
  async function http(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; written: () => number }> {
    let written = 0;
    const server = createServer((req, res) => {
      const w = res.write.bind(res);
      res.write = ((chunk: string | Buffer, ...rest: never[]) => {
        written += chunk.length;
        return w(chunk, ...rest);
      }) as typeof res.write;
      handler(req, res);
    });
    server.on('connection', (s) => s.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    return { server, port: (server.address() as { port: number }).port, written: () => written };
  }

  test('an endless description: cut at the size limit, memory bounded', async () => {
    const chunk = Buffer.alloc(64 * 1024, '<a>');
    const srv = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', pump);
      };
      pump();
    });
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const e = await rejection(fetchDescription(parseHttpUrl(`http://127.0.0.1:${srv.port}/rootDesc.xml`), {}));
    expect(e.message).toMatch(/exceeds the 131072-byte limit/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(16 << 20);
  });

  test('a declared size over the limit is refused before reading', async () => {
    const srv = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(10 ** 10) });
      res.write('<root>');
    });
    expect((await rejection(fetchDescription(parseHttpUrl(`http://127.0.0.1:${srv.port}/`), {}))).message).toMatch(/reply of 10000000000 bytes exceeds the 131072-byte limit/);
  });

  test('huge headers are refused', async () => {
    const srv = await http((_req, res) => {
      res.writeHead(200, { 'x-junk': 'a'.repeat(20_000) });
      res.end('<root/>');
    });
    expect((await rejection(fetchDescription(parseHttpUrl(`http://127.0.0.1:${srv.port}/`), {}))).message).toMatch(/headers exceed 8192 bytes/);
  });

  test('slow-loris: a reply dripping one byte at a time ends at the deadline', async () => {
    const srv = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(t));
    });
    const t0 = performance.now();
    const e = await rejection(httpRequest({ url: parseHttpUrl(`http://127.0.0.1:${srv.port}/`), method: 'GET', timeoutMs: 1500, maxBytes: DESCRIPTION_LIMITS.maxBytes }));
    expect(e.message).toMatch(/no complete reply within 1.5 s/);
    expect(performance.now() - t0).toBeGreaterThan(1400);
    expect(performance.now() - t0).toBeLessThan(4000);
  });

  test('a deeply nested description is refused by the XML limits', async () => {
    const srv = await http((_req, res) => res.end('<a>'.repeat(20_000)));
    expect((await rejection(fetchDescription(parseHttpUrl(`http://127.0.0.1:${srv.port}/`), {}))).message).toMatch(/nested deeper than 32 elements/);
  });

  test('a SOAP fault: the UPnP error code and its meaning', async () => {
    const srv = await http((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/xml' });
      res.end('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>');
    });
    const e = await rejection(soapCall({ controlUrl: parseHttpUrl(`http://127.0.0.1:${srv.port}/ctl`), serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1', action: 'AddPortMapping', args: [] }));
    expect(e).toMatchObject({ kind: 'refused', code: 718 });
    expect(e.message).toMatch(/ConflictInMappingEntry: the external port is mapped to another host \(UPnP error 718\)/);
  });

  test('a SOAP reply without the response element, or garbage, is a bad reply', async () => {
    const srv = await http((req, res) => res.end(req.url === '/a' ? '<Envelope><Body><Other/></Body></Envelope>' : 'not xml <<<'));
    const call = (path: string) => soapCall({ controlUrl: parseHttpUrl(`http://127.0.0.1:${srv.port}${path}`), serviceType: 's', action: 'GetExternalIPAddress', args: [] });
    expect((await rejection(call('/a'))).message).toMatch(/no GetExternalIPAddressResponse in the reply/);
    expect((await rejection(call('/b'))).kind).toBe('bad-reply');
  });
});
