/**
 * BEP 52's hash exchange between two transfers, in memory: a downloader without piece layers
 * fetches them from a seed through real HashExchange objects on both sides, the messages carried
 * by stand-in peers (bits, a send side, a closed flag). Files with the same content share a
 * merkle root: one answer sets the layer of each, and nobody is asked twice for it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import type { TransferState } from '../../src/swarm/downloads.js';
import { HashExchange, type HashMessage } from '../../src/swarm/hash-exchange.js';
import { PiecePicker } from '../../src/swarm/piece-picker.js';
import type { TransferPeer } from '../../src/swarm/transfer-peer.js';
import { Bitfield } from '../../src/util/bitfield.js';
import type { HashRequest } from '../../src/wire/messages.js';
import { MemoryStore } from '../support/memory-store.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const PIECE = 32 * 1024;

/** A v2 torrent of `files` (name -> content), and the same without its piece layers (as from a magnet). */
async function torrent(files: Record<string, Buffer>, pieceLength = PIECE): Promise<{ meta: Metainfo; bare: Metainfo; payload: Buffer }> {
  dir = await tempDir('sixswarm-hash-exchange-');
  for (const [name, data] of Object.entries(files)) {
    await mkdir(join(dir, 'p', name, '..'), { recursive: true });
    await writeFile(join(dir, 'p', name), data);
  }
  const buf = await createTorrent({ path: join(dir, 'p'), format: 'v2', pieceLength });
  const top = decode(buf) as BDict;
  top.delete('piece layers');
  const meta = parseTorrent(buf);
  const payload = Buffer.alloc(meta.totalLength);
  for (const f of meta.files) if (!f.pad) files[f.path.slice(1).join('/')]!.copy(payload, f.offset);
  return { meta, bare: parseTorrent(encode(top)), payload };
}

let hosts = 0;

/** One side of a connection: what HashExchange uses of a TransferPeer. */
class FakePeer {
  readonly bits: Bitfield;
  readonly requests: HashRequest[] = [];
  other?: { exchange: HashExchange; peer: FakePeer };
  /** Runs after each message this side delivered was taken. */
  afterEach?: () => void;
  readonly peer = { v2: true };
  readonly wire = {
    closed: false,
    queuedBytes: 0,
    send: {
      hashRequest: (r: HashRequest) => {
        this.requests.push(r);
        this.deliver({ ...r, type: 'hash-request' });
      },
      hashes: (r: HashRequest, hashes: Buffer) => this.deliver({ ...r, type: 'hashes', hashes }),
      hashReject: (r: HashRequest) => this.deliver({ ...r, type: 'hash-reject' }),
    },
  };
  errors: unknown[] = [];

  /** Each on a host of its own (an IPv6 /64) unless given an address. */
  constructor(
    pieces: number,
    all: boolean,
    readonly ip = `2001:db8:${(++hosts).toString(16)}::1`,
  ) {
    this.bits = new Bitfield(pieces);
    if (all) this.bits.setAll();
  }

  get tp(): TransferPeer {
    return this as unknown as TransferPeer;
  }

  /** What this side sent, when nobody is on the other side (a peer played by the test). */
  readonly sent: HashMessage[] = [];

  private deliver(m: HashMessage): void {
    const to = this.other;
    if (!to) {
      this.sent.push(m);
      return;
    }
    setImmediate(() => {
      try {
        to.exchange.message(to.peer.tp, m);
      } catch (e) {
        to.peer.errors.push(e);
      }
      this.afterEach?.();
    });
  }
}

const state: TransferState = { transferPeers: () => [], stopped: false, complete: false };

/** A seed and a downloader (the torrent without its layers), connected. */
function connect(meta: Metainfo, bare: Metainfo, payload: Buffer) {
  const seedStore = new MemoryStore(meta, payload);
  seedStore.have.setAll();
  const leechStore = new MemoryStore(bare);
  const seed = new HashExchange(seedStore, state);
  const leech = new HashExchange(leechStore, state);
  const atSeed = new FakePeer(meta.pieceCount, false);
  const atLeech = new FakePeer(meta.pieceCount, true);
  atSeed.other = { exchange: leech, peer: atLeech };
  atLeech.other = { exchange: seed, peer: atSeed };
  seed.added(atSeed.tp);
  leech.added(atLeech.tp);
  return { seed, leech, leechStore, atSeed, atLeech };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('fetching piece layers', () => {
  it('two files with the same content: one request per chunk of their root sets both layers', async () => {
    const same = randomBytes(20 * PIECE + 300);
    const { meta, bare, payload } = await torrent({ 'a.bin': same, 'b.bin': same, 'c.bin': randomBytes(5 * PIECE) });
    const a = meta.files.findIndex((f) => f.path.at(-1) === 'a.bin');
    const b = meta.files.findIndex((f) => f.path.at(-1) === 'b.bin');
    expect(meta.files[a]!.piecesRoot).toEqual(meta.files[b]!.piecesRoot);
    const { leechStore, atLeech, atSeed } = connect(meta, bare, payload);
    await until(() => leechStore.hashes.complete);
    // Every piece of both copies can be checked: each by the hash of the same piece of the other.
    for (let i = 0; i < meta.pieceCount; i++) expect(leechStore.hashes.known(i)).toBe(true);
    const firstA = leechStore.hashes.firstPieceOf(a), firstB = leechStore.hashes.firstPieceOf(b);
    for (let k = 0; k < 21; k++) expect(leechStore.hashes.v2Piece(firstA + k)!.tree.pieceHash(k)).toEqual(leechStore.hashes.v2Piece(firstB + k)!.tree.pieceHash(k));
    expect(leechStore.hashes.verify(firstB + 3, payload.subarray((firstB + 3) * PIECE, (firstB + 4) * PIECE)).ok).toBe(true);
    // One request for the shared root, one for c.bin; no errors either side.
    expect(atLeech.requests.map((r) => r.root.toString('hex')).sort()).toEqual(
      [meta.files[a]!.piecesRoot!, meta.files.find((f) => f.path.at(-1) === 'c.bin')!.piecesRoot!].map((r) => r.toString('hex')).sort(),
    );
    expect(atLeech.errors).toEqual([]);
    expect(atSeed.errors).toEqual([]);
  });

  it('pieces of 16 KiB: the piece layer is level 0, asked and answered as a layer (not as leaves)', async () => {
    const { meta, bare, payload } = await torrent({ 'a.bin': randomBytes(40 * 16384 + 5), 'b.bin': randomBytes(3 * 16384) }, 16384);
    const { leechStore, atLeech, atSeed } = connect(meta, bare, payload);
    await until(() => leechStore.hashes.complete);
    expect(atLeech.requests.every((r) => r.base === 0)).toBe(true);
    expect(atLeech.errors).toEqual([]);
    expect(atSeed.errors).toEqual([]);
  });

  it('a layer proven chunk by chunk: pieces count towards interest once, and the download does not stall', async () => {
    const P = 16384;
    const { meta, bare, payload } = await torrent({ 'big.bin': randomBytes(1100 * P + 100), 'small.bin': randomBytes(3 * P) }, P);
    const { leechStore, atSeed } = connect(meta, bare, payload);
    const hashes = leechStore.hashes;
    // Wired as a transfer wires them: checkable pieces are wanted, a known layer unlocks its file's.
    const picker = new PiecePicker(meta.pieceCount, (i) => leechStore.layout.pieceSize(i), leechStore.have);
    picker.hashesKnown = { has: (i) => hashes.known(i) };
    hashes.onLayer((first, last) => picker.unlocked(first, last));
    const seedBits = new Bitfield(meta.pieceCount);
    seedBits.setAll();
    picker.addPeer(seedBits);
    /** Download (from the seed's bits, in memory) whatever the picker offers now. */
    const fetchOffered = (): number => {
      const refs = picker.pick(seedBits, 1 << 20, () => false);
      for (const r of refs) picker.receive(r.index, r.begin, payload.subarray(r.index * P + r.begin, r.index * P + r.begin + r.length), 'seed');
      const pieces = new Set(refs.map((r) => r.index));
      for (const i of pieces) {
        expect(picker.takeComplete(i)).toBeDefined();
        expect(hashes.verify(i, payload.subarray(i * P, i * P + leechStore.layout.pieceSize(i))).ok).toBe(true);
        leechStore.have.set(i);
        picker.verified(i);
      }
      return pieces.size;
    };
    // Pieces are taken between the chunks' answers, as a live transfer would.
    atSeed.afterEach = () => {
      if (!hashes.complete) fetchOffered(); // the rest is left for the loop below
    };
    await until(() => hashes.complete);
    expect(meta.files.find((f) => f.path.at(-1) === 'big.bin')!.length).toBeGreaterThan(2 * 512 * P);
    while (!leechStore.have.complete) {
      // The seed has what we lack: we stay interested in it until the last piece.
      expect(picker.interesting(seedBits)).toBe(true);
      expect(fetchOffered()).toBeGreaterThan(0);
    }
    expect(picker.interesting(seedBits)).toBe(false);
  });
});

describe('answering leaf hash requests', () => {
  it('reads and hashes at most two pieces at once for all peers, queues a few, rejects the rest, and answers honest requests', async () => {
    const P = 256 * 1024;
    const { meta, payload } = await torrent({ 'a.bin': randomBytes(30 * P), 'b.bin': randomBytes(2 * P + 9) }, P);
    const store = new MemoryStore(meta, payload);
    store.have.setAll();
    // Reads that take a while, counted: how many pieces are read (and then hashed) at once.
    let reading = 0, most = 0, reads = 0;
    const read = store.readBlock.bind(store);
    store.readBlock = async (index, begin, length) => {
      reading++;
      reads++;
      most = Math.max(most, reading);
      await new Promise((r) => setTimeout(r, 20));
      reading--;
      return read(index, begin, length);
    };
    const seed = new HashExchange(store, state);
    const file = meta.files.findIndex((f) => f.path.at(-1) === 'a.bin');
    const tree = store.hashes.trees[file]!;
    const width = tree.pieceWidth;
    const leafRequest = (local: number): HashRequest => ({ root: meta.files[file]!.piecesRoot!, base: 0, index: local * width, count: width, proofLayers: 0 });
    // 40 connections each ask for the leaves of a piece (within each one's own limits).
    const flood = Array.from({ length: 40 }, () => new FakePeer(meta.pieceCount, false));
    for (const [k, p] of flood.entries()) {
      seed.added(p.tp);
      seed.message(p.tp, { ...leafRequest(k % 30), type: 'hash-request' });
    }
    await until(() => flood.every((p) => p.sent.length === 1));
    expect(most).toBeLessThanOrEqual(2);
    const answered = flood.filter((p) => p.sent[0]!.type === 'hashes');
    // Two at work, eight waiting: the rest rejected at once, nothing read for them.
    expect(answered).toHaveLength(10);
    expect(reads).toBe(10);
    expect(flood.filter((p) => p.sent[0]!.type === 'hash-reject')).toHaveLength(30);
    for (const p of answered) {
      const m = p.sent[0] as Extract<HashMessage, { type: 'hashes' }>;
      expect(tree.checkLeaves(m, m.hashes)).toBeDefined();
    }
    // Once they are done, an honest peer's request is answered.
    const honest = new FakePeer(meta.pieceCount, false);
    seed.added(honest.tp);
    seed.message(honest.tp, { ...leafRequest(3), type: 'hash-request' });
    await until(() => honest.sent.length === 1);
    expect(honest.sent[0]!.type).toBe('hashes');
    // The minute's budget for all peers: 64 leaf answers, however many peers ask.
    const more = Array.from({ length: 100 }, () => new FakePeer(meta.pieceCount, false));
    for (const [k, p] of more.entries()) {
      seed.added(p.tp);
      seed.message(p.tp, { ...leafRequest(k % 30), type: 'hash-request' });
      await until(() => p.sent.length === 1);
    }
    expect(more.filter((p) => p.sent[0]!.type === 'hashes')).toHaveLength(64 - 11);
    expect(most).toBeLessThanOrEqual(2);
  });

  it('one host\'s many connections share one peer\'s leaf budget: four in work and sixteen a minute, and others are still answered', async () => {
    const P = 64 * 1024;
    const { meta, payload } = await torrent({ 'a.bin': randomBytes(30 * P), 'b.bin': randomBytes(P + 5) }, P);
    const store = new MemoryStore(meta, payload);
    store.have.setAll();
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const read = store.readBlock.bind(store);
    store.readBlock = async (index, begin, length) => {
      await gate;
      return read(index, begin, length);
    };
    const seed = new HashExchange(store, state);
    const file = meta.files.findIndex((f) => f.path.at(-1) === 'a.bin');
    const tree = store.hashes.trees[file]!;
    const leafRequest = (piece: number): HashMessage => ({ root: meta.files[file]!.piecesRoot!, base: 0, index: piece * tree.pieceWidth, count: tree.pieceWidth, proofLayers: 0, type: 'hash-request' });
    // Twenty connections from one /64 (each address its own), one request each, reads held.
    const one = Array.from({ length: 20 }, (_, k) => new FakePeer(meta.pieceCount, false, `2001:db8:aaaa:1::${(k + 1).toString(16)}`));
    for (const [k, p] of one.entries()) {
      seed.added(p.tp);
      seed.message(p.tp, leafRequest(k));
    }
    // Four taken on (two in work, two waiting); the other sixteen rejected at once.
    expect(one.filter((p) => p.sent.length === 1 && p.sent[0]!.type === 'hash-reject')).toHaveLength(16);
    // Another host is not locked out by them.
    const other = new FakePeer(meta.pieceCount, false);
    seed.added(other.tp);
    seed.message(other.tp, leafRequest(25));
    release();
    await until(() => other.sent.length === 1 && one.filter((p) => p.sent.length === 1).length === 20);
    expect(other.sent[0]!.type).toBe('hashes');
    expect(one.filter((p) => p.sent[0]!.type === 'hashes')).toHaveLength(4);
    // Over the minute the host gets sixteen answers in all, however its connections ask.
    const again = Array.from({ length: 30 }, (_, k) => new FakePeer(meta.pieceCount, false, `2001:db8:aaaa:1::${(k + 100).toString(16)}`));
    gate = Promise.resolve();
    for (const [k, p] of again.entries()) {
      seed.added(p.tp);
      seed.message(p.tp, leafRequest(k % 30));
      await until(() => p.sent.length === 1);
    }
    expect(again.filter((p) => p.sent[0]!.type === 'hashes')).toHaveLength(16 - 4);
    const last = new FakePeer(meta.pieceCount, false);
    seed.added(last.tp);
    seed.message(last.tp, leafRequest(7));
    await until(() => last.sent.length === 1);
    expect(last.sent[0]!.type).toBe('hashes');
  });
});

