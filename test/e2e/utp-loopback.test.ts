/**
 * uTP between two sixswarm endpoints over real UDP on [::1] and 127.0.0.1: bulk transfers both
 * ways verified byte for byte with the stream's end (FIN) reaching the reader; and two whole
 * engines that speak only uTP (no TCP socket at all) moving a torrent, encrypted, while the DHT
 * answers on the same UDP port.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/peers.js';
import { seedPayload, tempDir } from '../support/sixswarm.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import type { Transport } from '../../src/transport/transport.js';
import { UtpNetwork } from '../../src/utp/utp-network.js';
import { listeningUtp, LOOPBACK, readAll, sha1, utpEngine, utpPair, type UtpEngine, type UtpPair } from '../support/utp.js';

let pair: UtpPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** Writes `data` in `chunk`-byte writes, waiting for `drain` when over 4 MiB are queued (as the uploader does). */
function writeAll(t: UtpPair['dialed'], data: Buffer, chunk: number): Promise<void> {
  return new Promise((resolve) => {
    let at = 0;
    const pump = () => {
      while (at < data.length && t.queuedBytes < 4 * 1024 * 1024) {
        t.write(data.subarray(at, at + chunk));
        at += chunk;
      }
      if (at >= data.length) resolve();
    };
    drains.set(t, pump);
    pump();
  });
}
const drains = new Map<unknown, () => void>();

describe.each([6, 4] as const)('uTP over IPv%i loopback', (family) => {
  it('moves 32 MiB one way and 4 MiB the other, intact, and ends with a FIN', async () => {
    pair = await utpPair(family);
    const up = randomBytes(32 * 1024 * 1024);
    const down = randomBytes(4 * 1024 * 1024);
    const t0 = performance.now();
    pair.dialed.write(up.subarray(0, 1));
    const accepted = await pair.accepted;
    const atServer = readAll(accepted);
    const atClient = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      let total = 0;
      pair!.dialed.start({
        data: (c) => {
          chunks.push(Buffer.from(c));
          total += c.length;
          if (total === down.length) resolve(Buffer.concat(chunks));
        },
        drain: () => drains.get(pair!.dialed)?.(),
        close: () => {},
      });
    });
    await Promise.all([writeAll(pair.dialed, up.subarray(1), 16 * 1024), writeAll(accepted, down, 16 * 1024)]);
    expect(sha1(await atClient)).toBe(sha1(down));
    // close() drops what is not yet in a packet (as a TCP transport's destroy does): wait for it to go.
    await waitUntil(() => pair!.dialed.queuedBytes === 0, 30_000, () => 'the queue emptied');
    pair.dialed.close();
    const got = await atServer;
    const ms = performance.now() - t0;
    console.info(`[utp] IPv${family}: ${(36 / (ms / 1000)).toFixed(1)} MiB/s`);
    expect(got.bytes.length).toBe(up.length);
    expect(sha1(got.bytes)).toBe(sha1(up));
    expect(got.reason).toBe('connection closed by peer');
  });
});

describe.each([6, 4] as const)('two engines that speak only uTP, over IPv%i loopback', (family) => {
  it('move a torrent from seed to leecher, encrypted, while the DHT answers on the same UDP port', async () => {
    const dir = await tempDir('sixswarm-utp-engines-');
    const engines: UtpEngine[] = [];
    try {
      const { torrent, payload } = await seedPayload(dir, { 'data.bin': 24 * 1024 * 1024 + 17 }, 256 * 1024);
      const seed = await utpEngine({ family, torrent, dir: join(dir, 'seed'), stateDir: join(dir, 'seed-state'), dht: family === 4 });
      engines.push(seed);
      await seed.event((e) => e.event === 'complete', 30_000, 'the seed checked its data');
      const leech = await utpEngine({ family, torrent, dir: join(dir, 'leech'), stateDir: join(dir, 'leech-state') });
      engines.push(leech);
      leech.torrent.swarm!.addPeers([{ host: LOOPBACK[family], port: seed.port }], { kind: 'manual' });
      // Meanwhile a DHT query to the seed's port (the DHT runs over IPv4): KRPC and uTP share the socket.
      const pong = family === 4 ? krpcPing(seed.port) : undefined;
      await leech.event((e) => e.event === 'complete', 60_000, 'the download completed');
      expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
      expect(leech.events.find((e) => e.event === 'peer-connected')).toMatchObject({ direction: 'out', encrypted: true });
      if (pong) expect((await pong).toString('latin1')).toMatch(/1:y1:r/);
    } finally {
      for (const e of engines) await e.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A KRPC ping to 127.0.0.1:port from a socket of its own; resolves with the answer. */
function krpcPing(port: number): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no KRPC answer within 10 s')), 10_000);
    socket.on('message', (b) => {
      clearTimeout(timer);
      resolve(b);
    });
    const ping = Buffer.from(`d1:ad2:id20:${'a'.repeat(20)}e1:q4:ping1:t2:aa1:y1:qe`, 'latin1');
    socket.send(ping, port, '127.0.0.1');
  }).finally(() => socket.close());
}

describe('uTP dials and small writes', () => {
  it('is refused (RESET) by a uTP socket that does not accept, and gives up on silence when aborted', async () => {
    // A network that only dials has a uTP socket but accepts nothing: it answers a SYN with RESET.
    const { net: dialer } = await listeningUtp(6, (t) => t.close());
    const closed = [dialer];
    try {
      const silentOnly = new UtpNetwork(new KernelNetwork());
      closed.push(silentOnly);
      // Bind its socket by dialing somewhere first: a port nothing listens on.
      const silentPort = (await dgramPort()).port;
      await expect(silentOnly.dial({ host: '::1', port: silentPort }, { signal: AbortSignal.timeout(1500) })).rejects.toThrow(/aborted/);
      const refusing = (await silentOnly.stats())[6]!;
      expect(refusing.connections).toBe(0); // the abandoned dial left nothing behind
      const channel = await silentOnly.datagrams(6, 0);
      await expect(dialer.dial({ host: '::1', port: channel.address().port }, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow(/refused/);
    } finally {
      for (const n of closed) await n.close();
    }
  });

  it('gathers a thousand small writes of one tick into a few packets', async () => {
    pair = await utpPair(4);
    pair.dialed.start({ data: () => {}, drain: () => {}, close: () => {} });
    const before = (await pair.client.stats())[4]!.datagramsOut;
    for (let i = 0; i < 1000; i++) pair.dialed.write(Buffer.from(`message ${String(i).padStart(4, '0')};`));
    const accepted = await pair.accepted;
    const chunks: Buffer[] = [];
    accepted.start({ data: (c) => chunks.push(Buffer.from(c)), drain: () => {}, close: () => {} });
    await waitUntil(() => Buffer.concat(chunks).length === 1000 * 13, 10_000, () => 'all messages');
    expect(Buffer.concat(chunks).toString()).toBe(Array.from({ length: 1000 }, (_, i) => `message ${String(i).padStart(4, '0')};`).join(''));
    // 13,000 bytes: ten packets or so, not a thousand.
    expect((await pair.client.stats())[4]!.datagramsOut - before).toBeLessThan(20);
  });
});

/** A UDP port nobody answers on (bound, then closed). */
async function dgramPort(): Promise<{ port: number }> {
  const s = dgram.createSocket('udp6');
  await new Promise<void>((r) => s.bind(0, '::1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return { port };
}

describe('uTP beside TCP on one port', () => {
  it('accepts uTP on the UDP socket of a network that listens on TCP, and both carry streams', async () => {
    // What a network composing TCP and uTP does: listen through the base, then accept uTP on its UDP socket.
    const kernel = new KernelNetwork();
    const utp = new UtpNetwork(kernel);
    const got: string[] = [];
    const onStream = (kind: string) => (t: Transport) => t.start({ data: (c) => got.push(`${kind}:${c.toString()}`), drain: () => {}, close: () => {} });
    const [l] = await kernel.listen({ port: 0, ipv4: false, ipv6: true, host6: '::1' }, onStream('tcp'));
    await utp.accept(6, onStream('utp'));
    const { net: dialer } = await listeningUtp(6, (t) => t.close());
    const viaTcp = new KernelNetwork();
    try {
      const u = await dialer.dial({ host: '::1', port: l!.port }, { signal: AbortSignal.timeout(5000) });
      u.start({ data: () => {}, drain: () => {}, close: () => {} });
      u.write(Buffer.from('hello over uTP'));
      const t = await viaTcp.dial({ host: '::1', port: l!.port }, { signal: AbortSignal.timeout(5000) });
      t.start({ data: () => {}, drain: () => {}, close: () => {} });
      t.write(Buffer.from('hello over TCP'));
      await waitUntil(() => got.length === 2, 5000, () => `both streams (${got.join(', ')})`);
      expect(got.sort()).toEqual(['tcp:hello over TCP', 'utp:hello over uTP']);
      expect(utp.listening()).toEqual([{ family: 6, address: '::1', port: l!.port }]);
      u.close();
      t.close();
    } finally {
      await dialer.close();
      await utp.shutdown();
      await kernel.close();
      await viaTcp.close();
    }
  });
});
