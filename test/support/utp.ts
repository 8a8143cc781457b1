/**
 * Test support for uTP: two engines' worth of uTP on real UDP sockets (each a UtpNetwork over its
 * own KernelNetwork), a connected pair of transports between them, and collecting what a
 * transport reads.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Engine } from '../../src/engine/engine.js';
import type { Torrent, TorrentEvent } from '../../src/engine/torrent.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import type { EncryptionPolicy } from '../../src/wire/encryption-policy.js';
import type { Family } from '../../src/net/address.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import type { Network } from '../../src/transport/network.js';
import type { Transport } from '../../src/transport/transport.js';
import { UtpNetwork } from '../../src/utp/utp-network.js';
import { peerNetwork, type TransportSet } from '../../src/utp/tcp-and-utp-network.js';

export const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' };

export interface UtpPair {
  server: UtpNetwork;
  client: UtpNetwork;
  /** The dialing side's transport. */
  dialed: Transport;
  /** The accepting side's: it comes once the dialer's first packet confirms the connection (its first write). */
  accepted: Promise<Transport>;
  close(): Promise<void>;
}

/** A uTP network listening on loopback of `family` (port 0), over `base` (default the kernel's). */
export async function listeningUtp(family: Family, onStream: (t: Transport) => void, base: Network = new KernelNetwork()): Promise<{ net: UtpNetwork; port: number }> {
  const net = new UtpNetwork(base);
  const [l] = await net.listen({ port: 0, ipv4: family === 4, ipv6: family === 6, host4: LOOPBACK[4], host6: LOOPBACK[6] }, onStream);
  return { net, port: l!.port };
}

/** Two uTP networks on loopback and one connection from the second to the first. */
export async function utpPair(family: Family, bases: { server?: Network; client?: Network } = {}): Promise<UtpPair> {
  let onAccepted: (t: Transport) => void = () => {};
  const accepted = new Promise<Transport>((resolve) => (onAccepted = resolve));
  const { net: server, port } = await listeningUtp(family, (t) => onAccepted(t), bases.server);
  const { net: client } = await listeningUtp(family, (t) => t.close(), bases.client);
  const dialed = await client.dial({ host: LOOPBACK[family], port }, { signal: new AbortController().signal });
  return {
    server,
    client,
    dialed,
    accepted,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** Reads everything a transport delivers until it ends; resolves with the bytes and the end reason. */
export function readAll(t: Transport): Promise<{ bytes: Buffer; reason: string }> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    t.start({
      data: (chunk, transient) => chunks.push(transient ? Buffer.from(chunk) : chunk),
      drain: () => {},
      close: (reason) => resolve({ bytes: Buffer.concat(chunks), reason }),
    });
  });
}

export function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

/** A sixswarm engine running one torrent on loopback of one family. */
export interface TestEngine<N extends Network = Network> {
  engine: Engine;
  network: N;
  port: number;
  events: TorrentEvent[];
  torrent: Torrent;
  /** Resolves with the first event that matches (already seen ones count). */
  event(match: (e: TorrentEvent) => boolean, timeoutMs: number, what: string): Promise<TorrentEvent>;
  close(): Promise<void>;
}

/** A sixswarm engine that speaks uTP only (no TCP socket at all), on loopback of one family. */
export type UtpEngine = TestEngine<UtpNetwork>;

export interface TestEngineOptions {
  family: Family;
  torrent: string;
  dir: string;
  stateDir: string;
  encryption?: EncryptionPolicy;
  dht?: boolean;
  /** Limits for the engine, bytes per second. */
  rates?: { down?: number; up?: number };
}

/**
 * Runs `torrent` with its data in `dir` (a seed when the data is complete) in an in-process
 * engine over `new UtpNetwork(new KernelNetwork())`, listening on loopback of `family`.
 */
export function utpEngine(o: TestEngineOptions & { base?: Network }): Promise<UtpEngine> {
  return testEngine(o, new UtpNetwork(o.base ?? new KernelNetwork()));
}

/** The same over the network the engine makes for `--transports` (tcp, utp or both). */
export function transportsEngine(o: TestEngineOptions & { transports: TransportSet }): Promise<TestEngine> {
  return testEngine(o, peerNetwork(new KernelNetwork(), o.transports));
}

export async function testEngine<N extends Network>(o: TestEngineOptions, network: N): Promise<TestEngine<N>> {
  const engine = new Engine(
    {
      port: 0,
      ipv4: o.family === 4,
      ipv6: o.family === 6,
      stateDir: o.stateDir,
      listenHost: { [o.family]: LOOPBACK[o.family] },
      encryption: o.encryption ?? 'prefer',
      ...(o.rates ? { rates: o.rates } : {}),
      // On the peer port's UDP socket, shared with uTP; no bootstrap node: nobody outside is asked.
      ...(o.dht ? { dht: { bootstrap: [] } } : {}),
    },
    network,
  );
  const [l] = await engine.listen();
  const meta = parseTorrent(await readFile(o.torrent));
  const torrent = await engine.addTorrent({ meta }, o.dir, { writable: true });
  const events: TorrentEvent[] = [];
  const waiters = new Set<() => void>();
  torrent.on('event', (e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  await torrent.start();
  return {
    engine,
    network,
    port: l!.port,
    events,
    torrent,
    event: (match, timeoutMs, what) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const e = events.find(match);
          if (!e) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(e);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`not within ${timeoutMs} ms: ${what}; events: ${JSON.stringify(events.slice(-10))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => engine.close(),
  };
}
