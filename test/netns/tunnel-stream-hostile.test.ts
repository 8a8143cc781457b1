/**
 * Hostile stream-mode frames against both ends, in the tunnel tests' namespaces: a raw client
 * (this test, speaking frames) against the real server, and a raw server (this test) against a
 * real sixswarm in stream mode. Wrong stream ids, window floods, streams opened without end and
 * half-closed streams never closed: each end keeps its memory bounded, closes only the
 * connection that broke the rules, and goes on serving the others.
 *
 *     client ns (IPv4 only)  --192.0.2.0/24-->  broker ns (tunnel server)  --2001:db8:ffff::/64-->  peer ns (IPv6 only)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeHello, encodeReply, parseHello, parseReply, readHandshake } from '../../src/tunnel/handshake.js';
import { parsePrefix } from '../../src/tunnel/prefix.js';
import { decode, encode, FrameReader, FrameType, header, MAX_DATA_BYTES, MAX_WINDOW } from '../../src/tunnel/stream/frames.js';
import { ensureBuilt } from '../support/build.js';
import { createTunnelTopology, destroyAfterAll, netnsUnavailable, type NsListener, type NsProcess, type TunnelTopology } from '../support/netns.js';
import { waitUntil } from '../support/peers.js';
import { makeTree, ROOT, runCli, sixswarm, stopAll, tempDir, type SixswarmProcess } from '../support/sixswarm.js';

const unavailable = netnsUnavailable();
const SERVER_PORT = 14633;
const RAW_SERVER_PORT = 14634;
/** The target every raw client dials in the peer namespace. */
const TARGET_PORT = 7000;
const LIMITS = { maxStreams: 16, bufferBytes: 2 * 1024 * 1024, halfClosedMs: 1500, acceptRate: 1000, dialRate: 1000 };

/** The real server with small limits (the CLI has no option for the half-close timeout), its events as JSON lines. */
const SERVER_SCRIPT = `
const [dist, listen, range, limits] = process.argv.slice(1);
const { TunnelServer } = await import(dist + '/tunnel/server.js');
const { AssignmentStore } = await import(dist + '/tunnel/assignments.js');
const { PrefixRange } = await import(dist + '/tunnel/prefix.js');
const { parseHostPort } = await import(dist + '/net/hostport.js');
const store = await AssignmentStore.load(new PrefixRange(range));
const server = new TunnelServer({ listen: parseHostPort(listen), store, ifname: 'sxhostile0', relayLimits: JSON.parse(limits) });
server.on('log', (e) => console.log(JSON.stringify(e)));
await server.start();
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
`;

interface Frame {
  type: FrameType;
  id: number;
  payload: Buffer;
}

/** One end of a stream-mode connection driven by the test: every frame it gets is recorded. */
class RawEnd {
  readonly frames: Frame[] = [];
  readonly dataBytes = new Map<number, number>();
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly socket: Socket,
    rest: Buffer,
  ) {
    const reader = new FrameReader({
      data: (id, b) => {
        this.dataBytes.set(id, (this.dataBytes.get(id) ?? 0) + b.length);
        this.wake();
      },
      control: (type, id, payload) => {
        this.frames.push({ type, id, payload: Buffer.from(payload) });
        this.wake();
      },
    });
    socket.on('data', (c: Buffer) => reader.push(c));
    this.closed = new Promise((resolve) => socket.once('close', () => (this.wake(), resolve())));
    socket.on('error', () => {});
    if (rest.length) reader.push(rest);
    socket.resume();
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  send(...frames: Buffer[]): void {
    for (const f of frames) this.socket.write(f);
  }

  data(id: number, bytes: number): void {
    for (let left = bytes; left > 0; left -= MAX_DATA_BYTES) {
      const n = Math.min(left, MAX_DATA_BYTES);
      this.socket.write(Buffer.concat([header(FrameType.DATA, id, n), Buffer.alloc(n, 0x5a)]));
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first frame (from `from` on) matching; rejects on timeout or when the connection closed first. */
  frame(match: (f: Frame) => boolean, timeoutMs = 5000, what = 'frame'): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${this.frames.map((f) => `${f.type}/${f.id}`).join(' ')}`)), timeoutMs);
      const check = () => {
        const f = this.frames.find(match);
        if (f) {
          clearTimeout(timer);
          return resolve(f);
        }
        if (this.isClosed) {
          clearTimeout(timer);
          return reject(new Error(`connection closed before ${what}`));
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }
}

function rssOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
}

const MiB = 1024 * 1024;

describe.skipIf(unavailable !== undefined)('hostile stream-mode frames (network namespaces)', () => {
  let topo: TunnelTopology;
  let work: string;
  let server: NsProcess;
  let target: NsListener;
  /** Connections the target accepted (it reads nothing unless told). */
  const atTarget: Socket[] = [];

  beforeAll(async () => {
    ensureBuilt();
    topo = await createTunnelTopology();
    work = await tempDir('sixswarm-tunnel-hostile-');
    const dist = pathToFileURL(join(ROOT, 'dist', 'src')).href;
    server = topo.broker.spawn(process.execPath, ['--input-type=module', '-e', SERVER_SCRIPT, dist, `${topo.addresses.brokerV4}:${SERVER_PORT}`, topo.addresses.tunnelRange, JSON.stringify(LIMITS)]);
    await server.waitForLine((l) => l.includes('"listening"'));
    target = await topo.peer.listen(topo.addresses.peerV6, TARGET_PORT);
    target.server.on('connection', (s: Socket) => {
      s.pause();
      s.on('error', () => {});
      atTarget.push(s);
    });
  });

  /** Every socket this test holds: the namespace relays' listeners wait for them before they close. */
  const held: Socket[] = [];

  destroyAfterAll(() => topo, () => work, async () => {
    for (const s of [...atTarget, ...held]) s.destroy();
    await stopAll();
  });

  /** A raw stream-mode client of the real server. */
  async function client(id: string): Promise<RawEnd> {
    const socket = await topo.client.connect(topo.addresses.brokerV4, SERVER_PORT);
    held.push(socket);
    socket.write(encodeHello({ id, streams: true }));
    const { value, rest } = await readHandshake(socket);
    expect(parseReply(value)).toMatchObject({ kind: 'prefix', streams: true });
    return new RawEnd(socket, rest);
  }

  const TARGET = () => ({ host: topo.addresses.peerV6, port: TARGET_PORT });
  const connected = (id: number) => (f: Frame) => (f.type === FrameType.CONNECTED || f.type === FrameType.RESET) && f.id === id;

  /** Dials the target as stream `id`; resolves with the window granted (throws on a RESET). */
  async function dial(c: RawEnd, id: number): Promise<number> {
    c.send(encode.connect(id, TARGET(), 1 << 20));
    const f = await c.frame(connected(id), 5000, `answer to CONNECT ${id}`);
    if (f.type === FrameType.RESET) throw Object.assign(new Error(decode.error(f.payload).message), { code: decode.error(f.payload).code });
    return decode.connected(f.payload).window;
  }

  /** A well-behaved client still gets through, and its bytes arrive. */
  async function bystanderServed(name: string): Promise<void> {
    const before = atTarget.length;
    const c = await client(name);
    await dial(c, 1);
    await waitUntil(() => atTarget.length > before, 5000, () => 'the bystander\'s connection at the target');
    const s = atTarget.at(-1)!;
    const got = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    s.resume();
    c.send(Buffer.concat([header(FrameType.DATA, 1, 5), Buffer.from('hello')]));
    expect(await got).toBe('hello');
    c.socket.destroy();
  }

  describe('against the server', () => {
    it('drops frames for ids nobody opened; an id of the server\'s side, or one in use, closes only that client', async () => {
      const c = await client('wrong-ids');
      c.send(encode.window(99, 5), encode.fin(99), encode.reset(99, 'ECONNRESET', 'x'));
      c.data(99, 1000);
      c.send(Buffer.concat([encode.datagramHead(77, TARGET(), 3), Buffer.from('abc')]));
      expect(await dial(c, 1)).toBeGreaterThan(0);
      expect(c.isClosed).toBe(false);
      // An even id is the server's to give: a protocol violation.
      c.send(encode.connect(2, TARGET(), 1 << 20));
      expect(await c.closedWithin(3000)).toBe(true);
      const d = await client('reused-id');
      await dial(d, 1);
      d.send(encode.connect(1, TARGET(), 1 << 20));
      expect(await d.closedWithin(3000)).toBe(true);
      await bystanderServed('bystander-1');
      await server.waitForLine((l) => l.includes('"session-down"') && l.includes('"reused-id"'));
      const downs = server.json().filter((e) => e.event === 'session-down' && (e.id === 'wrong-ids' || e.id === 'reused-id'));
      expect(downs.map((e) => e.reason)).toEqual([expect.stringMatching(/a new object with id 2/), expect.stringMatching(/a new object with id 1/)]);
    });

    it('closes a client that sends beyond its window, or grants a window flood', async () => {
      const c = await client('beyond-window');
      await dial(c, 1);
      // Far beyond: windows come back as the kernel takes bytes, and its buffers toward a peer that reads nothing hold megabytes.
      c.data(1, 64 * MiB);
      expect(await c.closedWithin(15_000)).toBe(true);
      const d = await client('window-flood');
      await dial(d, 1);
      d.send(encode.window(1, MAX_WINDOW));
      expect(await d.closedWithin(3000)).toBe(true);
      await server.waitForLine((l) => l.includes('"session-down"') && l.includes('"window-flood"'));
      const reasons = server.json().filter((e) => e.event === 'session-down' && (e.id === 'beyond-window' || e.id === 'window-flood')).map((e) => e.reason);
      expect(reasons).toEqual([expect.stringMatching(/beyond the window/), expect.stringMatching(/window grant/)]);
      await bystanderServed('bystander-2');
    });

    it('a client opening streams without end gets its limit and no more; what it may park is its buffer budget', async () => {
      const c = await client('stream-hog');
      const pid = server.child.pid!;
      const rssBefore = rssOf(pid);
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => dial(c, 2 * i + 1)));
      const windows = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(windows.length).toBe(LIMITS.maxStreams);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as NodeJS.ErrnoException).code).toBe('EMFILE');
      expect(windows.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(LIMITS.bufferBytes);
      // Push everything the windows allow, for a while, to targets that read nothing.
      const open = results.flatMap((r, i) => (r.status === 'fulfilled' ? [2 * i + 1] : []));
      const credit = new Map(open.map((id, i) => [id, windows[i]!]));
      const deadline = Date.now() + 3000;
      let granted = 0;
      let seen = 0;
      while (Date.now() < deadline && !c.isClosed) {
        for (const [id, n] of credit) if (n > 0) c.data(id, n), credit.set(id, 0);
        for (const f of c.frames.slice(seen)) {
          if (f.type !== FrameType.WINDOW) continue;
          credit.set(f.id, (credit.get(f.id) ?? 0) + decode.window(f.payload));
          granted += decode.window(f.payload);
        }
        seen = c.frames.length;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(c.isClosed).toBe(false);
      // Grants came only as the kernel took the bytes: the server's own memory did not take them.
      expect(rssOf(pid) - rssBefore, `granted back ${granted} bytes`).toBeLessThan(64 * MiB);
      await bystanderServed('bystander-3');
      c.socket.destroy();
    });

    it('closes streams its peers half-closed that the client never closes, and their slots come back', async () => {
      const c = await client('half-closer');
      const before = atTarget.length;
      const ids = Array.from({ length: LIMITS.maxStreams }, (_, i) => 2 * i + 1);
      for (const id of ids) await dial(c, id);
      await waitUntil(() => atTarget.length >= before + ids.length, 5000, () => 'every stream at the target');
      // Each peer sends FIN; the client hears it and never answers (no FIN, no RESET).
      for (const s of atTarget.slice(before)) s.end();
      for (const id of ids) await c.frame((f) => f.type === FrameType.FIN && f.id === id, 5000, `FIN of ${id}`);
      await expect(dial(c, 1001)).rejects.toMatchObject({ code: 'EMFILE' });
      for (const id of ids) await c.frame((f) => f.type === FrameType.RESET && f.id === id, LIMITS.halfClosedMs + 3000, `RESET of half-closed ${id}`);
      expect(decode.error(c.frames.find((f) => f.type === FrameType.RESET && f.id === ids[0])!.payload).code).toBe('ETIMEDOUT');
      expect(await dial(c, 1003)).toBeGreaterThan(0);
      c.socket.destroy();
    });
  });

  describe('against the client', () => {
    let rawServer: NsListener;
    const sessions: RawEnd[] = [];
    let leech: SixswarmProcess;
    const LISTEN_PORT = 40000;

    /** The next connection of the client, handshaken: we grant streams, and answer its LISTEN. */
    const nextSession = (): Promise<RawEnd> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the client did not connect again\n${leech.tail()}`)), 6000);
        rawServer.server.once('connection', (socket: Socket) => {
          clearTimeout(timer);
          held.push(socket);
          void (async () => {
            const { value, rest } = await readHandshake(socket);
            const hello = parseHello(value);
            expect(hello).toMatchObject({ streams: true });
            socket.write(encodeReply({ kind: 'prefix', prefix: parsePrefix('2001:db8:100:7::/64'), streams: true }));
            const end = new RawEnd(socket, rest);
            const listen = await end.frame((f) => f.type === FrameType.LISTEN);
            expect(decode.port(listen.payload)).toBe(LISTEN_PORT);
            end.send(encode.listening(listen.id, LISTEN_PORT));
            sessions.push(end);
            resolve(end);
          })().catch(reject);
        });
      });

    beforeAll(async () => {
      rawServer = await topo.broker.listen(topo.addresses.brokerV4, RAW_SERVER_PORT);
      await makeTree(join(work, 'data'), { 'x.bin': 1024 * 1024 });
      const torrent = join(work, 'x.torrent');
      expect((await runCli(['create', join(work, 'data', 'x.bin'), '-o', torrent])).code).toBe(0);
      const first = nextSession();
      leech = sixswarm(
        // TCP alone: this raw server answers LISTEN but no UDP_BIND (uTP's socket through the relay).
        ['download', torrent, '-o', join(work, 'out'), '--port', String(LISTEN_PORT), '--transports', 'tcp', '--json', '--no-trackers', '--no-dht', '--state-dir', join(work, 'state'),
          '--tunnel', `${topo.addresses.brokerV4}:${RAW_SERVER_PORT}`, '--tunnel-mode', 'stream', '--tunnel-id', 'victim'],
        { wrap: ['ip', 'netns', 'exec', topo.client.name], label: 'stream-mode leecher' },
      );
      await first;
    });

    it('drops data for streams it does not have, in bulk, without its memory growing; refuses ACCEPTs on ports it does not listen on', async () => {
      const s = sessions.at(-1)!;
      const pid = leech.proc.pid!;
      const before = rssOf(pid);
      for (let i = 0; i < 8; i++) s.data(1001 + 2 * i, 8 * MiB);
      s.send(encode.accept(2, 12345, { host: topo.addresses.peerV6, port: 50000 }, 1 << 20));
      const refused = await s.frame((f) => f.type === FrameType.RESET && f.id === 2, 10_000, 'RESET of the ACCEPT');
      expect(decode.error(refused.payload).code).toBe('ECONNREFUSED');
      expect(s.isClosed).toBe(false);
      expect(rssOf(pid) - before).toBeLessThan(48 * MiB);
    });

    it('answers an ACCEPT on its port with a window, and a FIN with its own close', async () => {
      const s = sessions.at(-1)!;
      s.send(encode.accept(4, LISTEN_PORT, { host: topo.addresses.peerV6, port: 50001 }, 1 << 20));
      const w = await s.frame((f) => f.type === FrameType.WINDOW && f.id === 4);
      expect(decode.window(w.payload)).toBeGreaterThan(0);
      // The remote end finishes and we never close our side: the client closes it (as it does a socket's end).
      s.send(encode.fin(4));
      await s.frame((f) => f.type === FrameType.RESET && f.id === 4, 5000, 'its close after our FIN');
    });

    it('drops the connection on a frame only clients send, an ACCEPT with its own kind of id, or a window flood, and reconnects each time', async () => {
      // (Data beyond a window cannot pile up here: the client grants as the engine reads, at once.)
      let s = sessions.at(-1)!;
      let again = nextSession();
      s.send(encode.connect(9, { host: topo.addresses.peerV6, port: 1 }, 1 << 20));
      expect(await s.closedWithin(5000)).toBe(true);
      s = await again;

      again = nextSession();
      s.send(encode.accept(7, LISTEN_PORT, { host: topo.addresses.peerV6, port: 50003 }, 1 << 20));
      expect(await s.closedWithin(5000)).toBe(true);
      s = await again;

      again = nextSession();
      s.send(encode.accept(8, LISTEN_PORT, { host: topo.addresses.peerV6, port: 50004 }, 1 << 20));
      await s.frame((f) => f.type === FrameType.WINDOW && f.id === 8);
      s.send(encode.window(8, MAX_WINDOW));
      expect(await s.closedWithin(5000)).toBe(true);
      await again;
      const errors = leech.events.filter((e) => e.event === 'tunnel' && e.state === 'down').map((e) => String(e.lastError));
      expect(errors).toEqual([expect.stringMatching(/frame type 4 is not sent by a server/), expect.stringMatching(/ACCEPT with stream id 7/), expect.stringMatching(/window grant/)]);
      expect(leech.events.filter((e) => e.event === 'tunnel' && e.state === 'up').at(-1)).toMatchObject({ reconnects: 3 });
    }, 30_000);
  });
});
