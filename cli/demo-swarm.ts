/**
 * The swarm `sixswarm demo` runs in one process, on loopback only, under one temporary folder:
 * a generated payload and its torrent, the built-in tracker on [::1] and 127.0.0.1, a dual-stack
 * seed, and three leechers (IPv6 only, IPv4 only, dual-stack), each its own engine (Client) with
 * its own peer id, port and folders. Uploads are rate-limited so a person can watch it happen.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { StatusFeed } from '../src/status/feed.js';
import type { Torrent } from '../src/engine/torrent.js';
import { createTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/torrent.js';
import type { Metainfo } from '../src/metainfo/types.js';
import type { Family } from '../src/net/address.js';
import { TrackerServer, type ServerAnnounceEvent } from '../src/tracker/server/tracker-server.js';
import { filePath } from '../src/storage/paths.js';

export interface DemoOptions {
  /** Payload bytes (split over a few files). */
  size: number;
  /** Upload bytes per second of the seed; each leecher uploads at half of it. */
  rate: number;
}

export interface DemoPeer {
  role: 'seed' | 'leecher';
  /** "seed, dual-stack", "leecher, IPv6 only", ... */
  label: string;
  families: Record<Family, boolean>;
  engine: Engine;
  feed: StatusFeed;
  torrent: Torrent;
  dir: string;
  /** Set once its copy matched the payload byte for byte. */
  verified: boolean;
}

const PIECE_LENGTH = 64 * 1024;
const ANNOUNCE_WAIT_MS = 30_000;
const NAME = 'sixswarm-demo';

export class DemoSwarm {
  readonly peers: DemoPeer[] = [];
  tracker?: TrackerServer;
  meta?: Metainfo;
  private payloadSha1: string[] = [];
  /** Aborted by stop(): a start still under way gives up at its next step. */
  private readonly stopping = new AbortController();
  private starting?: Promise<void>;

  private constructor(readonly root: string) {}

  /** Make the folder, payload and torrent; nothing listens yet. */
  static async create(): Promise<DemoSwarm> {
    return new DemoSwarm(await mkdtemp(join(tmpdir(), 'sixswarm-demo-')));
  }

  get leechers(): DemoPeer[] {
    return this.peers.filter((p) => p.role === 'leecher');
  }

  get done(): boolean {
    return this.leechers.length > 0 && this.leechers.every((p) => p.verified);
  }

  /** Tracker, seed (announced first), then the leechers one after another. `onPeer` hears of each as it starts. */
  start(o: DemoOptions, onPeer: (p: DemoPeer) => void): Promise<void> {
    this.starting = this.startAll(o, onPeer);
    return this.starting;
  }

  /** Throws once stop() was called: what start does next would outlive the folder. */
  private check(): void {
    if (this.stopping.signal.aborted) throw new Error('the demo was stopped');
  }

  private async startAll(o: DemoOptions, onPeer: (p: DemoPeer) => void): Promise<void> {
    this.tracker = new TrackerServer({ port: 0, bind: ['::1', '127.0.0.1'], http: true, intervalSec: 60 });
    await this.tracker.listen();
    const port = this.tracker.port;
    const data = join(this.root, 'seed');
    await this.makePayload(join(data, NAME), o.size);
    this.check();
    const torrent = await createTorrent({
      path: join(data, NAME),
      pieceLength: PIECE_LENGTH,
      trackers: [[`http://[::1]:${port}/announce`], [`http://127.0.0.1:${port}/announce`]],
      comment: 'made by sixswarm demo',
    });
    await writeFile(join(this.root, `${NAME}.torrent`), torrent);
    this.meta = parseTorrent(torrent);
    // A peer is announced once the tracker heard from it over each of its families.
    const announced = (families: Family[], peerId: () => Buffer | undefined) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the demo's tracker on port ${port} heard nothing from a peer within ${ANNOUNCE_WAIT_MS / 1000} s; something on this host blocks loopback traffic`)), ANNOUNCE_WAIT_MS);
        const seen = new Set<Family>();
        const done = (e?: Error) => {
          this.tracker!.off('announce', on);
          this.stopping.signal.removeEventListener('abort', onStop);
          clearTimeout(timer);
          if (e) reject(e);
          else resolve();
        };
        const on = (ev: ServerAnnounceEvent) => {
          if (ev.peerId !== peerId()?.toString('hex')) return;
          seen.add(ev.family);
          if (families.every((f) => seen.has(f))) done();
        };
        const onStop = () => done(new Error('the demo was stopped'));
        this.tracker!.on('announce', on);
        this.stopping.signal.addEventListener('abort', onStop);
      });
    // Awaited only later: a stop before then must not count as a rejection nobody handled.
    const waited = (p: Promise<void>) => (p.catch(() => {}), p);
    const seedSeen = waited(announced([4, 6], () => this.peers[0]?.engine.peerId));
    onPeer(await this.startPeer('seed', 'seed, dual-stack', { 4: true, 6: true }, data, o.rate));
    await seedSeen;
    this.check();
    const kinds: [string, Record<Family, boolean>][] = [
      ['leecher, IPv6 only', { 4: false, 6: true }],
      ['leecher, IPv4 only', { 4: true, 6: false }],
      ['leecher, dual-stack', { 4: true, 6: true }],
    ];
    for (const [label, families] of kinds) {
      const dir = join(this.root, label.replace(/[^a-z0-9]+/gi, '-'));
      await mkdir(dir, { recursive: true });
      const n = this.peers.length;
      const seen = waited(announced(([4, 6] as const).filter((f) => families[f]), () => this.peers[n]?.engine.peerId));
      onPeer(await this.startPeer('leecher', label, families, dir, Math.max(16 * 1024, Math.floor(o.rate / 2))));
      await seen;
      this.check();
    }
  }

  /** Compare a finished leecher's files with the payload; marks it verified when they match. */
  async verify(p: DemoPeer): Promise<boolean> {
    const meta = this.meta!;
    const sums = await Promise.all(meta.files.filter((f) => !f.pad).map(async (f) => sha1(await readFile(filePath(p.dir, f)))));
    p.verified = sums.length === this.payloadSha1.length && sums.every((s, i) => s === this.payloadSha1[i]);
    return p.verified;
  }

  /**
   * Stop every engine and the tracker, and remove the folder (unless `keep`). A start still under
   * way is let finish its step first, so nothing it writes lands after the folder is gone.
   */
  async stop(keep = false): Promise<void> {
    this.stopping.abort();
    await this.starting?.catch(() => {});
    await Promise.allSettled(this.peers.map((p) => p.engine.close()));
    await this.tracker?.close();
    if (!keep) await rm(this.root, { recursive: true, force: true });
  }

  private async makePayload(dir: string, size: number): Promise<void> {
    await mkdir(dir, { recursive: true });
    // A few files of different sizes, so the files view has something to show.
    const parts = [0.6, 0.3, 0.1].map((f) => Math.max(1, Math.floor(size * f)));
    const names = ['video.mkv', 'extras/making-of.mkv', 'README.txt'];
    this.payloadSha1 = [];
    for (let i = 0; i < parts.length; i++) {
      const file = join(dir, names[i]!);
      await mkdir(join(file, '..'), { recursive: true });
      const bytes = randomBytes(parts[i]!);
      await writeFile(file, bytes);
    }
    // In the torrent's file order (create sorts paths).
    const order = [...names].sort();
    for (const n of order) this.payloadSha1.push(sha1(await readFile(join(dir, n))));
  }

  private async startPeer(role: DemoPeer['role'], label: string, families: Record<Family, boolean>, dir: string, rate: number): Promise<DemoPeer> {
    const engine = new Engine({
      port: 0,
      ipv4: families[4],
      ipv6: families[6],
      listenHost: { 4: '127.0.0.1', 6: '::1' },
      stateDir: join(this.root, 'state', label.replace(/[^a-z0-9]+/gi, '-')),
      rates: { up: rate },
      trackers: { announceIp: 'never' },
    });
    const feed = new StatusFeed(engine);
    await engine.listen();
    const torrent = await engine.addTorrent({ meta: this.meta! }, dir, { writable: role === 'leecher' });
    feed.watch(torrent);
    const peer: DemoPeer = { role, label, families, engine, feed, torrent, dir, verified: false };
    this.peers.push(peer);
    await torrent.start();
    return peer;
  }
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}
