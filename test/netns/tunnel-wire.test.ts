/**
 * Wire behaviour of the tunnel against hostile or odd peers, with the real programs in network
 * namespaces (test/support/netns.ts) and raw protocol harnesses in this process:
 * - our server (`sixswarm tunnel-server`) against raw clients: token refusal, oversized and
 *   missing handshakes, garbage after the handshake, spoofed sources, session replacement,
 *   max clients;
 * - our client (`sixswarm tunnel up`) against a raw server: the Prefix reply and the first
 *   packet in one write, a corrupt stream, an Error reply, a changed prefix.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToIp, ipToBytes } from '../../src/net/address.js';
import { PacketFramer } from '../../src/tunnel/framer.js';
import { encodeHello, encodeReply, parseHello, parseReply, readHandshake, type Hello, type Reply } from '../../src/tunnel/handshake.js';
import { PLAIN_HEADER, VNET_HDR_BYTES, wireHeader } from '../../src/tunnel/offload.js';
import { firstHost, parsePrefix } from '../../src/tunnel/prefix.js';
import { createTunnelTopology, destroyAfterAll, netnsUnavailable, type NsListener, type NsProcess, type TunnelTopology } from '../support/netns.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'sixswarm.js');
const SERVER_PORT = 14629;
const RAW_SERVER_PORT = 14700;
const SHARED_TOKEN = 'shared-secret';

// ---- ICMPv6 echo packets, to see traffic cross the tunnel -------------------------------------

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function icmp6Echo(type: 128 | 129, src: string, dst: string, ident: number, seq: number): Buffer {
  const body = Buffer.alloc(8 + 16, 0x61);
  body[0] = type;
  body[1] = 0;
  body.writeUInt16BE(0, 2);
  body.writeUInt16BE(ident, 4);
  body.writeUInt16BE(seq, 6);
  const s = ipToBytes(src)!;
  const d = ipToBytes(dst)!;
  const pseudo = Buffer.alloc(40);
  s.copy(pseudo, 0);
  d.copy(pseudo, 16);
  pseudo.writeUInt32BE(body.length, 32);
  pseudo[39] = 58;
  body.writeUInt16BE(checksum(Buffer.concat([pseudo, body])), 2);
  const hdr = Buffer.alloc(40);
  hdr.writeUInt32BE(0x60000000, 0);
  hdr.writeUInt16BE(body.length, 4);
  hdr[6] = 58;
  hdr[7] = 64;
  s.copy(hdr, 8);
  d.copy(hdr, 24);
  return Buffer.concat([hdr, body]);
}

function parseEcho(p: Buffer): { type: number; src: string; dst: string; ident: number; seq: number } | undefined {
  if (p.length < 48 || p[6] !== 58) return undefined;
  return { type: p[40]!, src: bytesToIp(p.subarray(8, 24)), dst: bytesToIp(p.subarray(24, 40)), ident: p.readUInt16BE(44), seq: p.readUInt16BE(46) };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The peer's count of echo requests received: proves what did (not) arrive there. */
async function peerEchoRequests(topo: TunnelTopology): Promise<number> {
  const snmp = await topo.peer.must('cat', ['/proc/net/snmp6']);
  return Number(/^Icmp6InEchos\s+(\d+)/m.exec(snmp)?.[1] ?? NaN);
}

// ---- a raw tunnel endpoint over a socket --------------------------------------------------------

interface RawEnd {
  socket: Socket;
  /** Every whole packet received after the handshake (with its offload header in front, on an offload link). */
  packets: Buffer[];
  /** Resolves when the socket has closed (either side). */
  closed: Promise<void>;
}

/** Takes over `socket` after its handshake: frames incoming packets into `packets`. */
function rawEnd(socket: Socket, rest: Buffer, headerBytes = 0): RawEnd {
  const framer = new PacketFramer(headerBytes);
  const packets: Buffer[] = [];
  const take = (chunk: Buffer) => {
    for (const p of framer.push(chunk)) packets.push(Buffer.from(p));
  };
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  take(rest);
  socket.on('data', take);
  socket.resume();
  return { socket, packets, closed };
}

const unavailable = netnsUnavailable() ?? (existsSync(CLI) ? undefined : 'dist/bin/sixswarm.js is missing: run `npm run build` first');

describe.skipIf(unavailable !== undefined)('tunnel wire behaviour (network namespaces)', () => {
  let topo: TunnelTopology;
  let dir: string;
  let server: NsProcess;

  beforeAll(async () => {
    topo = await createTunnelTopology();
    dir = await mkdtemp(join(tmpdir(), 'sixswarm-tunnel-wire-'));
    await writeFile(join(dir, 'tokens'), `token-owner owner-token\n* ${SHARED_TOKEN}\n`);
    server = topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json',
      '--listen', `${topo.addresses.brokerV4}:${SERVER_PORT}`,
      '--prefix-range', topo.addresses.tunnelRange,
      '--assignments', join(dir, 'assignments.json'),
      '--tokens', join(dir, 'tokens'),
    ]);
    await server.waitForLine((l) => l.includes('"listening"'));
  });

  destroyAfterAll(() => topo, () => dir);

  /** A raw client: connects from the client namespace and sends `hello` (a Buffer or an object). */
  async function rawClient(hello: Buffer | Hello | undefined, port = SERVER_PORT): Promise<Socket> {
    const socket = await topo.client.connect(topo.addresses.brokerV4, port);
    socket.on('error', () => {});
    if (hello) socket.write(Buffer.isBuffer(hello) ? hello : encodeHello(hello));
    return socket;
  }

  /** Handshakes as a well-behaved client would (token null: send none); resolves with the reply and the raw end. */
  async function session(id: string, token: string | null = SHARED_TOKEN, port = SERVER_PORT): Promise<{ reply: Reply; end: RawEnd }> {
    const socket = await rawClient(token === null ? { id } : { id, token }, port);
    const { value, rest } = await readHandshake(socket);
    return { reply: parseReply(value), end: rawEnd(socket, rest) };
  }

  describe('our server against raw clients', () => {
    it('refuses a wrong or missing token with an {"Error"} object, then closes', async () => {
      const wrong = await session('token-owner', 'guess');
      expect(wrong.reply).toEqual({ kind: 'error', message: 'invalid token for this Id' });
      await wrong.end.closed;
      const none = await session('token-owner', null);
      expect(none.reply).toMatchObject({ kind: 'error', message: expect.stringMatching(/requires a token/) });
      await none.end.closed;
      const own = await session('token-owner', 'owner-token');
      expect(own.reply).toMatchObject({ kind: 'prefix' });
      own.end.socket.destroy();
      await server.waitForLine((l) => l.includes('"refused"') && l.includes('invalid token'));
      expect(server.running).toBe(true);
    });

    it('refuses a handshake larger than 4 KiB', async () => {
      const socket = await rawClient(Buffer.from(`{"Id":"${'x'.repeat(5000)}"}`));
      const { value } = await readHandshake(socket);
      expect(parseReply(value)).toEqual({ kind: 'error', message: 'handshake larger than 4096 bytes' });
      await new Promise((r) => socket.once('close', r));
    });

    it('refuses a handshake that is not JSON, and a hello without an Id', async () => {
      const http = await rawClient(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      expect(parseReply((await readHandshake(http)).value)).toEqual({ kind: 'error', message: 'handshake is not a JSON object' });
      const noId = await rawClient(Buffer.from('{"Mac":"00:11:22:33:44:55"}'));
      expect(parseReply((await readHandshake(noId)).value)).toEqual({ kind: 'error', message: 'hello has no "Id" string' });
    });

    it('times out a client that never sends its Id', async () => {
      const socket = await rawClient(undefined);
      const started = Date.now();
      const { value } = await readHandshake(socket, { timeoutMs: 15_000 });
      expect(parseReply(value)).toEqual({ kind: 'error', message: 'no handshake within 10 s' });
      expect(Date.now() - started).toBeGreaterThan(9_000);
      await new Promise((r) => socket.once('close', r));
    }, 20_000);

    it('drops a client that sends garbage after the handshake, and keeps serving others', async () => {
      const mark = server.lines.length;
      const bad = await session('garbage-client');
      expect(bad.reply.kind).toBe('prefix');
      bad.end.socket.write('GET / HTTP/1.1\r\n\r\n');
      await bad.end.closed;
      const down = await server.waitForLine((l) => l.includes('"session-down"') && l.includes('garbage-client'), { from: mark });
      expect(JSON.parse(down).reason).toMatch(/corrupt tunnel stream: IP version 4/);
      expect(server.running).toBe(true);
      const next = await session('after-garbage');
      expect(next.reply.kind).toBe('prefix');
      next.end.socket.destroy();
    });

    it('agrees on offload with a client that asks: packets go behind offload headers; a header no honest end sends closes only that session', async () => {
      const mark = server.lines.length;
      const socket = await rawClient({ id: 'raw-offload', token: SHARED_TOKEN, offload: true });
      const { value, rest } = await readHandshake(socket);
      const reply = parseReply(value);
      if (reply.kind !== 'prefix') throw new Error('no prefix');
      expect(reply.offload).toBe(true);
      expect(JSON.parse(await server.waitForLine((l) => l.includes('"session-up"') && l.includes('raw-offload'), { from: mark }))).toMatchObject({ offload: true });
      const end = rawEnd(socket, rest, VNET_HDR_BYTES);
      const ours = firstHost(reply.prefix);
      socket.write(Buffer.concat([PLAIN_HEADER, icmp6Echo(128, ours, topo.addresses.peerV6, 11, 1)]));
      const isReply = (f: Buffer) => parseEcho(f.subarray(VNET_HDR_BYTES))?.type === 129;
      await until(() => end.packets.some(isReply), 5000, 'the echo reply behind its offload header');
      const frame = end.packets.find(isReply)!;
      expect(() => wireHeader(frame.subarray(0, VNET_HDR_BYTES), frame.subarray(VNET_HDR_BYTES))).not.toThrow();
      expect(parseEcho(frame.subarray(VNET_HDR_BYTES))).toMatchObject({ src: topo.addresses.peerV6, dst: ours, ident: 11, seq: 1 });

      // UDP segmentation: the kernel would accept it, but no sixswarm end ever sends it.
      const udpGso = Buffer.from(PLAIN_HEADER);
      udpGso[0] = 1;
      udpGso[1] = 3;
      socket.write(Buffer.concat([udpGso, icmp6Echo(128, ours, topo.addresses.peerV6, 11, 2)]));
      await end.closed;
      const down = JSON.parse(await server.waitForLine((l) => l.includes('"session-down"') && l.includes('raw-offload'), { from: mark }));
      expect(down.reason).toMatch(/corrupt tunnel stream: segmentation type 3/);
      expect(down).toMatchObject({ packetsIn: 1, packetsOut: 1 });
      expect(server.running).toBe(true);
    });

    it('forwards packets from the client\'s own /64 and drops spoofed sources, counting them', async () => {
      const mark = server.lines.length;
      const { reply, end } = await session('spoof-test');
      if (reply.kind !== 'prefix') throw new Error('no prefix');
      const ours = firstHost(reply.prefix).replace(/::1$/, '::5');
      const before = await peerEchoRequests(topo);
      // Another client's /64 inside the range, and an address outside it altogether.
      end.socket.write(icmp6Echo(128, '2001:db8:100:ff::1', topo.addresses.peerV6, 7, 1));
      end.socket.write(icmp6Echo(128, '2001:db8:ffff::99', topo.addresses.peerV6, 7, 2));
      end.socket.write(icmp6Echo(128, ours, topo.addresses.peerV6, 7, 3));
      await until(() => end.packets.some((p) => parseEcho(p)?.type === 129), 5000, 'the echo reply through the tunnel');
      const echo = parseEcho(end.packets.find((p) => parseEcho(p)?.type === 129)!)!;
      expect(echo).toMatchObject({ src: topo.addresses.peerV6, dst: ours, ident: 7, seq: 3 });
      // The valid request was sent last, so the spoofed ones would have arrived before it.
      expect((await peerEchoRequests(topo)) - before).toBe(1);
      end.socket.destroy();
      const down = JSON.parse(await server.waitForLine((l) => l.includes('"session-down"') && l.includes('spoof-test'), { from: mark }));
      expect(down).toMatchObject({ droppedSpoofed: 2, packetsIn: 1, packetsOut: 1 });
    });

    it('replaces the session of an Id that connects again, keeping its prefix', async () => {
      const mark = server.lines.length;
      const first = await session('twice');
      const second = await session('twice');
      expect(second.reply).toEqual(first.reply);
      await first.end.closed;
      const replaced = JSON.parse(await server.waitForLine((l) => l.includes('"session-replaced"'), { from: mark }));
      expect(replaced).toMatchObject({ id: 'twice', why: expect.stringMatching(/NAT timeout/) });
      expect(second.end.socket.destroyed).toBe(false);
      second.end.socket.destroy();
    });

    it('keeps the offload route of an Id whose offload session is replaced by another, and removes it when the last one goes', async () => {
      const offloadSession = async () => {
        const socket = await rawClient({ id: 'offload-twice', token: SHARED_TOKEN, offload: true });
        const { value, rest } = await readHandshake(socket);
        const reply = parseReply(value);
        if (reply.kind !== 'prefix' || !reply.offload) throw new Error('no offload session');
        return { prefix: reply.prefix.text, end: rawEnd(socket, rest, VNET_HDR_BYTES) };
      };
      const routed = async (prefix: string) => (await topo.broker.ip(['-6', 'route', 'show', prefix])).includes('dev sixsrv0-o');
      const first = await offloadSession();
      const second = await offloadSession();
      expect(second.prefix).toBe(first.prefix);
      await first.end.closed;
      // The old session's removal and the new one's addition run in order: the route stays.
      await new Promise((r) => setTimeout(r, 500));
      expect(await routed(second.prefix)).toBe(true);
      second.end.socket.destroy();
      const end = Date.now() + 5000;
      while ((await routed(second.prefix)) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(await routed(second.prefix)).toBe(false);
    });

    it('reads config.ini, enforces --max-clients and the per-client packet rate', async () => {
      const port = SERVER_PORT + 1;
      const config = join(dir, 'config.ini');
      await writeFile(config, `[server]\nlocalhost = ${topo.addresses.brokerV4}\nlistenport = ${port}\nprefixrange = 2001:db8:200::/56\n`);
      const small = topo.broker.spawn(process.execPath, [
        CLI, 'tunnel-server', '--json', '--config', config, '--max-clients', '1', '--client-pps', '5', '--ifname', 'sxsmall0',
      ]);
      expect(JSON.parse(await small.waitForLine((l) => l.includes('"listening"')))).toMatchObject({ listen: `${topo.addresses.brokerV4}:${port}`, range: '2001:db8:200::/56', maxClients: 1 });
      const a = await session('one', null, port);
      if (a.reply.kind !== 'prefix') throw new Error('no prefix');
      expect(a.reply.prefix.text).toBe('2001:db8:200::/64');
      const b = await session('two', null, port);
      expect(b.reply).toEqual({ kind: 'error', message: 'server full (1 clients)' });

      // 20 echo requests at once: the bucket (5 per second, burst 5) lets 5 through.
      const src = firstHost(a.reply.prefix);
      a.end.socket.write(Buffer.concat([...Array(20).keys()].map((i) => icmp6Echo(128, src, topo.addresses.peerV6, 8, i))));
      await until(() => a.end.packets.length >= 5, 5000, 'five echo replies');
      await new Promise((r) => setTimeout(r, 300));
      expect(a.end.packets.length).toBe(5);
      a.end.socket.destroy();
      const down = JSON.parse(await small.waitForLine((l) => l.includes('"session-down"')));
      expect(down).toMatchObject({ id: 'one', packetsIn: 5, droppedRate: 15 });

      expect((await small.stop()).code).toBe(0);
      expect((await topo.broker.exec('ip', ['link', 'show', 'sxsmall0'])).code).not.toBe(0);
    });

    it('counts an offloaded segment as the packets it will be cut into against --client-pps; --no-offload never agrees to offload', async () => {
      const port = SERVER_PORT + 4;
      const pps = topo.broker.spawn(process.execPath, [
        CLI, 'tunnel-server', '--json', '--listen', `${topo.addresses.brokerV4}:${port}`, '--prefix-range', '2001:db8:700::/56', '--client-pps', '5', '--ifname', 'sxpps0',
      ]);
      expect(JSON.parse(await pps.waitForLine((l) => l.includes('"listening"')))).toMatchObject({ offloadIfname: 'sxpps0-o' });
      const socket = await rawClient({ id: 'pps-offload', offload: true }, port);
      const { value, rest } = await readHandshake(socket);
      const reply = parseReply(value);
      if (reply.kind !== 'prefix') throw new Error('no prefix');
      expect(reply.offload).toBe(true);
      const end = rawEnd(socket, rest, VNET_HDR_BYTES);
      const src = firstHost(reply.prefix);
      // A TCP segment of 1000 payload bytes to be cut at 100: ten packets, over the burst of five.
      const tcp = Buffer.alloc(40 + 20 + 1000);
      tcp.writeUInt32BE(0x60000000, 0);
      tcp.writeUInt16BE(20 + 1000, 4);
      tcp[6] = 6;
      tcp[7] = 64;
      ipToBytes(src)!.copy(tcp, 8);
      ipToBytes(topo.addresses.peerV6)!.copy(tcp, 24);
      tcp[40 + 12] = 5 << 4;
      const gso = Buffer.alloc(VNET_HDR_BYTES);
      gso[0] = 1; // NEEDS_CSUM
      gso[1] = 4; // TCPV6
      gso.writeUInt16LE(100, 4);
      gso.writeUInt16LE(40, 6);
      gso.writeUInt16LE(16, 8);
      socket.write(Buffer.concat([gso, tcp, PLAIN_HEADER, icmp6Echo(128, src, topo.addresses.peerV6, 12, 1)]));
      await until(() => end.packets.some((f) => parseEcho(f.subarray(VNET_HDR_BYTES))?.type === 129), 5000, 'the echo reply');
      socket.destroy();
      const down = JSON.parse(await pps.waitForLine((l) => l.includes('"session-down"') && l.includes('pps-offload')));
      expect(down).toMatchObject({ packetsIn: 1, droppedRate: 1 });
      expect((await pps.stop()).code).toBe(0);

      const plainPort = SERVER_PORT + 5;
      const plain = topo.broker.spawn(process.execPath, [
        CLI, 'tunnel-server', '--json', '--listen', `${topo.addresses.brokerV4}:${plainPort}`, '--prefix-range', '2001:db8:800::/56', '--no-offload', '--ifname', 'sxnooff0',
      ]);
      expect(JSON.parse(await plain.waitForLine((l) => l.includes('"listening"')))).toMatchObject({ offloadIfname: null });
      expect((await topo.broker.exec('ip', ['link', 'show', 'sxnooff0-o'])).code).not.toBe(0);
      const asked = await rawClient({ id: 'wants-offload', offload: true }, plainPort);
      expect(parseReply((await readHandshake(asked)).value)).toMatchObject({ kind: 'prefix', offload: false });
      asked.destroy();
      expect((await plain.stop()).code).toBe(0);
    });

    it('--max-assignments: a new Id takes the prefix of the Id seen least recently that is not connected', async () => {
      const port = SERVER_PORT + 3;
      const lru = topo.broker.spawn(process.execPath, [
        CLI, 'tunnel-server', '--json', '--listen', `${topo.addresses.brokerV4}:${port}`, '--prefix-range', '2001:db8:600::/56',
        '--max-assignments', '2', '--assignments', join(dir, 'lru.json'), '--ifname', 'sxlru0',
      ]);
      try {
        await lru.waitForLine((l) => l.includes('"listening"'));
        const a = await session('lru-a', null, port);
        const b = await session('lru-b', null, port);
        expect([a.reply, b.reply].map((r) => (r.kind === 'prefix' ? r.prefix.text : r.message))).toEqual(['2001:db8:600::/64', '2001:db8:600:1::/64']);
        a.end.socket.destroy();
        await lru.waitForLine((l) => l.includes('"session-down"') && l.includes('lru-a'));
        // b was seen before a left, but b is connected: a's prefix is the one to reuse.
        const c = await session('lru-c', null, port);
        expect(c.reply).toMatchObject({ kind: 'prefix', prefix: { text: '2001:db8:600::/64' } });
        expect(JSON.parse(await lru.waitForLine((l) => l.includes('"prefix-reused"')))).toMatchObject({
          id: 'lru-c', prefix: '2001:db8:600::/64', fromId: 'lru-a', lastSeen: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        });
        // Both holders connected: a fourth Id is refused, nobody loses a prefix.
        const d = await session('lru-d', null, port);
        expect(d.reply).toEqual({ kind: 'error', message: 'no free /64 left in 2001:db8:600::/56: all 2 assigned prefixes are in use' });
        b.end.socket.destroy();
        c.end.socket.destroy();
        expect((await lru.stop()).code).toBe(0);
        const saved = JSON.parse(await readFile(join(dir, 'lru.json'), 'utf8')) as Record<string, { Prefix: string }>;
        expect(Object.fromEntries(Object.entries(saved).map(([id, v]) => [id, v.Prefix]))).toEqual({ 'lru-b': '2001:db8:600:1::/64', 'lru-c': '2001:db8:600::/64' });
      } finally {
        await lru.stop('SIGKILL');
      }
    });

    it('also listens on an IPv6 address', async () => {
      const port = SERVER_PORT + 2;
      const v6 = topo.broker.spawn(process.execPath, [
        CLI, 'tunnel-server', '--json', '--listen', `[${topo.addresses.brokerV6}]:${port}`, '--prefix-range', '2001:db8:300::/56', '--ifname', 'sxv6srv0',
      ]);
      expect(JSON.parse(await v6.waitForLine((l) => l.includes('"listening"')))).toMatchObject({ listen: `[${topo.addresses.brokerV6}]:${port}` });
      const socket = await topo.peer.connect(topo.addresses.brokerV6, port);
      socket.on('error', () => {});
      socket.write(encodeHello({ id: 'v6-client' }));
      expect(parseReply((await readHandshake(socket)).value)).toMatchObject({ kind: 'prefix', prefix: { text: '2001:db8:300::/64' } });
      expect(JSON.parse(await v6.waitForLine((l) => l.includes('"session-up"')))).toMatchObject({ remote: expect.stringMatching(/^\[2001:db8:ffff::2\]:\d+$/) });
      socket.destroy();
      expect((await v6.stop()).code).toBe(0);
    });

    it('our client with a wrong token says why it is refused, and keeps trying', async () => {
      const client = topo.client.spawn(process.execPath, [
        CLI, 'tunnel', 'up', '--server', `${topo.addresses.brokerV4}:${SERVER_PORT}`, '--id', 'token-owner', '--token', 'nope', '--ifname', 'sxtok0',
      ]);
      await client.waitForLine((l) => l.includes('server refused the tunnel: invalid token for this Id; retrying every 2 s'));
      expect(client.running).toBe(true);
      expect((await client.stop()).code).toBe(0);
    });
  });

  describe('our client against a raw server', () => {
    let raw: NsListener;
    let client: NsProcess | undefined;
    /** Handles each connection the client makes, in order. */
    let handlers: Array<(socket: Socket, hello: Record<string, unknown>, rest: Buffer) => void> = [];
    const connections: Socket[] = [];

    beforeAll(async () => {
      raw = await topo.broker.listen(topo.addresses.brokerV4, RAW_SERVER_PORT);
      raw.server.on('connection', (socket: Socket) => {
        socket.on('error', () => {});
        connections.push(socket);
        readHandshake(socket).then(
          ({ value, rest }) => handlers.shift()?.(socket, value, rest),
          () => socket.destroy(),
        );
      });
    });

    afterAll(async () => {
      await raw?.close();
    });

    async function startClient(): Promise<NsProcess> {
      connections.length = 0;
      client = topo.client.spawn(process.execPath, [
        CLI, 'tunnel', 'up', '--json', '--server', `${topo.addresses.brokerV4}:${RAW_SERVER_PORT}`, '--id', 'raw-test', '--token', 't0k', '--ifname', 'sxraw0',
      ]);
      return client;
    }

    async function stopClient(): Promise<void> {
      const c = client!;
      client = undefined;
      expect((await c.stop()).code).toBe(0);
      expect((await topo.client.exec('ip', ['link', 'show', 'sxraw0'])).code).not.toBe(0);
    }

    const events = (c: NsProcess, event: string) => c.json().filter((e) => e.event === event);

    it('takes the Prefix reply and the first packet from ONE write, and answers through the tunnel', async () => {
      const prefix = parsePrefix('2001:db8:100:42::/64');
      let end: RawEnd | undefined;
      let hello: Record<string, unknown> | undefined;
      handlers = [
        (socket, h, rest) => {
          hello = h;
          const ping = icmp6Echo(128, topo.addresses.peerV6, firstHost(prefix), 99, 1);
          socket.write(Buffer.concat([encodeReply({ kind: 'prefix', prefix }), ping]));
          end = rawEnd(socket, rest);
        },
      ];
      const c = await startClient();
      await until(() => end?.packets.some((p) => parseEcho(p)?.type === 129) ?? false, 8000, 'the client\'s echo reply');
      expect(parseHello(hello!)).toEqual({ id: 'raw-test', token: 't0k', offload: true });
      expect(parseEcho(end!.packets.find((p) => parseEcho(p)?.type === 129)!)).toMatchObject({
        src: firstHost(prefix),
        dst: topo.addresses.peerV6,
        ident: 99,
        seq: 1,
      });
      expect(events(c, 'up')[0]).toMatchObject({ prefix: '2001:db8:100:42::/64', address: '2001:db8:100:42::1', routing: 'default' });
      await stopClient();
    });

    it('drops a corrupt stream and reconnects', async () => {
      const prefix = parsePrefix('2001:db8:100:43::/64');
      let first: RawEnd | undefined;
      let second: RawEnd | undefined;
      handlers = [
        (socket, _h, rest) => {
          first = rawEnd(socket, rest);
          socket.write(Buffer.concat([encodeReply({ kind: 'prefix', prefix }), Buffer.from('\x45garbage that is not IPv6')]));
        },
        (socket, _h, rest) => {
          second = rawEnd(socket, rest);
          socket.write(encodeReply({ kind: 'prefix', prefix }));
        },
      ];
      const c = await startClient();
      await until(() => first !== undefined, 8000, 'the first connection');
      await first!.closed; // the client hung up on the corrupt stream
      await until(() => events(c, 'up').length === 2, 8000, 'the client back up');
      expect(events(c, 'down')[0]?.reason).toMatch(/corrupt tunnel stream: IP version 4/);
      expect(second!.socket.destroyed).toBe(false);
      expect(c.running).toBe(true);
      await stopClient();
    });

    it('with a server that agrees on offload, answers behind offload headers; drops a stream with a header no honest end sends; then works plain', async () => {
      const prefix = parsePrefix('2001:db8:100:4a::/64');
      const ping = (seq: number) => icmp6Echo(128, topo.addresses.peerV6, firstHost(prefix), 77, seq);
      let first: RawEnd | undefined;
      let second: RawEnd | undefined;
      handlers = [
        (socket, _h, rest) => {
          first = rawEnd(socket, rest, VNET_HDR_BYTES);
          socket.write(Buffer.concat([encodeReply({ kind: 'prefix', prefix, offload: true }), PLAIN_HEADER, ping(1)]));
        },
        (socket, _h, rest) => {
          // Like the original server: no Offload in the reply, so plain packets from here on.
          second = rawEnd(socket, rest);
          socket.write(Buffer.concat([encodeReply({ kind: 'prefix', prefix }), ping(2)]));
        },
      ];
      const c = await startClient();
      const isReply = (p: Buffer, seq: number) => parseEcho(p)?.type === 129 && parseEcho(p)?.seq === seq;
      await until(() => first?.packets.some((f) => isReply(f.subarray(VNET_HDR_BYTES), 1)) ?? false, 8000, 'the echo reply behind its header');
      expect(events(c, 'up')[0]).toMatchObject({ prefix: prefix.text, offload: true });
      const bad = Buffer.from(PLAIN_HEADER);
      bad[0] = 0x40;
      first!.socket.write(Buffer.concat([bad, ping(9)]));
      await first!.closed;
      await until(() => second?.packets.some((p) => isReply(p, 2)) ?? false, 8000, 'the plain echo reply after reconnecting');
      expect(events(c, 'down')[0]?.reason).toMatch(/corrupt tunnel stream: unknown offload flags 0x40/);
      expect(events(c, 'up')[1]).toMatchObject({ prefix: prefix.text, offload: false });
      await stopClient();
    });

    it('reconnects after an {"Error"} reply and reports it', async () => {
      const prefix = parsePrefix('2001:db8:100:44::/64');
      handlers = [
        (socket) => socket.end(encodeReply({ kind: 'error', message: 'not today' })),
        (socket, _h, rest) => {
          rawEnd(socket, rest);
          socket.write(encodeReply({ kind: 'prefix', prefix }));
        },
      ];
      const c = await startClient();
      await until(() => events(c, 'up').length === 1, 8000, 'the client up');
      expect(c.json().some((e) => e.event === 'status' && e.lastError === 'server refused the tunnel: not today')).toBe(true);
      expect(connections.length).toBe(2);
      await stopClient();
    });

    it('refuses a prefix that is not global unicast or overlaps another interface, says why, and keeps trying', async () => {
      const good = parsePrefix('2001:db8:100:47::/64');
      // A stand-in LAN interface holding 2001:db8:eeee::2/64: a server handing out that /64 would capture it.
      await topo.client.ip(['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
      await topo.client.ip(['-6', 'addr', 'add', '2001:db8:eeee::2/64', 'dev', 'lan0', 'nodad']);
      try {
        const replies = [Buffer.from('{"Prefix":"fe80::/64"}'), Buffer.from('{"Prefix":"ff02::/64"}'), Buffer.from('{"Prefix":"2001:db8:eeee::/64"}'), encodeReply({ kind: 'prefix', prefix: good })];
        handlers = replies.map((reply) => (socket, _h, rest) => {
          rawEnd(socket, rest);
          socket.write(reply);
        });
        const c = await startClient();
        await until(() => events(c, 'up').length === 1, 15_000, 'the client up on the good prefix');
        expect(events(c, 'up')[0]).toMatchObject({ prefix: good.text });
        const errors = c.json().filter((e) => e.event === 'status' && e.lastError).map((e) => e.lastError);
        expect(errors).toContain('server sent fe80::/64 (link-local), not a global unicast /64; refusing it');
        expect(errors).toContain('server sent ff02::/64 (multicast), not a global unicast /64; refusing it');
        expect(errors).toContain('server sent 2001:db8:eeee::/64, which overlaps 2001:db8:eeee::2/64 on lan0; refusing it');
        expect(connections.length).toBe(4);
        const addrs = await topo.client.ip(['-6', 'addr', 'show', 'dev', 'sxraw0']);
        expect(addrs).toContain(`${firstHost(good)}/64`);
        expect(addrs).not.toMatch(/fe80::1\/64|ff02::1|2001:db8:eeee::1/);
        await stopClient();
      } finally {
        await topo.client.ip(['link', 'del', 'lan0']);
      }
    }, 30_000);

    it('drops incoming packets addressed outside its /64, counting them in droppedIn', async () => {
      const prefix = parsePrefix('2001:db8:100:48::/64');
      let end: RawEnd | undefined;
      handlers = [
        (socket, _h, rest) => {
          end = rawEnd(socket, rest);
          socket.write(
            Buffer.concat([
              encodeReply({ kind: 'prefix', prefix }),
              // Another /64 (the host would forward it on if routing allowed), multicast, then our own address last.
              icmp6Echo(128, topo.addresses.peerV6, '2001:db8:100:49::1', 5, 1),
              icmp6Echo(128, topo.addresses.peerV6, 'ff02::1', 5, 2),
              icmp6Echo(128, topo.addresses.peerV6, firstHost(prefix), 5, 3),
            ]),
          );
        },
      ];
      const c = await startClient();
      await until(() => end?.packets.some((p) => parseEcho(p)?.type === 129) ?? false, 8000, 'the echo reply to the packet for us');
      expect(end!.packets.map(parseEcho).filter((e) => e?.type === 129).map((e) => e!.seq)).toEqual([3]);
      await stopClient();
      expect(c.json().filter((e) => e.event === 'status').at(-1)).toMatchObject({ packetsIn: 1, droppedIn: 2 });
    });

    it('moves its address when the server hands out a different prefix', async () => {
      const a = parsePrefix('2001:db8:100:45::/64');
      const b = parsePrefix('2001:db8:100:46::/64');
      let first: Socket | undefined;
      handlers = [
        (socket, _h, rest) => {
          rawEnd(socket, rest);
          socket.write(encodeReply({ kind: 'prefix', prefix: a }));
          first = socket;
        },
        (socket, _h, rest) => {
          rawEnd(socket, rest);
          socket.write(encodeReply({ kind: 'prefix', prefix: b }));
        },
      ];
      const c = await startClient();
      await until(() => events(c, 'up').length === 1, 8000, 'the first up');
      first!.destroy();
      await until(() => events(c, 'up').length === 2, 8000, 'the second up');
      expect(events(c, 'up').map((e) => e.prefix)).toEqual([a.text, b.text]);
      const addrs = await topo.client.ip(['-6', 'addr', 'show', 'dev', 'sxraw0']);
      expect(addrs).toContain(`${firstHost(b)}/64`);
      expect(addrs).not.toContain(`${firstHost(a)}/64`);
      await stopClient();
    });
  });
});
