/**
 * BEP 52's hash messages for one transfer: the piece layers a torrent file left out (every one,
 * from a magnet) fetched from v2 peers in chunks proven against the files' roots; the leaf hashes
 * of a piece that failed its check, which tell its bad blocks from its good ones; and our answers
 * to peers' hash requests (piece layers from the trees, leaf hashes from the data of pieces we
 * have). Hashes must answer a request we made and prove a known root, or the peer is dropped;
 * requests must fit the file's tree, and each peer gets a bounded number of answers at a time and
 * per minute (a 48-byte request can ask for a 256 KiB answer); leaf answers, which read and hash a
 * whole piece, are bounded per host (all its connections together) and for all peers together too.
 */
import type { HashRange } from '../merkle/file-tree.js';
import { hostNetwork } from '../net/address.js';
import type { PieceStore } from '../storage/piece-store.js';
import { ProtocolError } from '../wire/frame-decoder.js';
import type { HashRequest, Message } from '../wire/messages.js';
import type { TransferState } from './downloads.js';
import type { TransferPeer } from './transfer-peer.js';

/** Our requests out to one peer at once (libtorrent keeps two). */
const MAX_OUT = 2;
/** An unanswered request is given up (and the peer not asked for it again) after this. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A peer that rejected a chunk is asked for it again only after this (it may have got the layer since). */
const REJECTED_MS = 60_000;
/** Answers one peer may have in work with us (reading a piece for its leaves), and per minute. */
const MAX_SERVING = 4;
const ANSWERS_PER_MINUTE = 600;
/**
 * Leaf answers (each reads and hashes a whole piece) per host and minute, and in work or waiting
 * for one host at once: a peer asks for them only after a piece failed, and one host's many
 * connections must not take the budget of all.
 */
const LEAF_ANSWERS_PER_HOST_MINUTE = 16;
const LEAF_BUSY_PER_HOST = 4;
/**
 * For all peers together (a piece may be 16 MiB or more, read into memory and hashed on the main
 * thread): leaf answers in work at once, more waiting their turn (the rest are rejected), and
 * leaf answers per minute.
 */
const MAX_LEAF_WORK = 2;
const MAX_LEAF_QUEUE = 8;
const ALL_LEAF_ANSWERS_PER_MINUTE = 64;
/** Requests per minute past which a peer is flooding (each still costs us a reject). */
const FLOOD_PER_MINUTE = 4 * ANSWERS_PER_MINUTE;
/** Bytes queued on a peer's socket past which its requests are rejected until it reads. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Hashes messages nobody asked for that a peer may send (late answers to requests we gave up) before it is dropped. */
const MAX_UNSOLICITED = 16;
/** Wants looked at per round of requests (see pump). */
const MAX_EXAMINED = 1024;
/** Pieces whose leaf hashes are wanted at once (blame waits for them); more are not asked for. */
const MAX_LEAF_WANTS = 64;

export type HashMessage = Extract<Message, { type: 'hash-request' | 'hashes' | 'hash-reject' }>;

type Want = { kind: 'layer'; file: number; r: HashRange } | { kind: 'leaves'; piece: number; file: number; r: HashRange };

interface Outstanding {
  want: Want;
  at: number;
}

/** One v2 peer's side of the exchange. */
interface HashPeer {
  out: Map<string, Outstanding>;
  /** Requests it rejected or never answered, and when: not asked of it again for a while. */
  refused: Map<string, number>;
  serving: number;
  /** Hash requests it sent in the current minute. */
  requests: number;
  windowStart: number;
  unsolicited: number;
}

/** A request by its merkle root (what hash messages carry): files with the same content share their requests. */
const keyOf = (root: Buffer, r: HashRange): string => `${root.toString('hex')}|${r.base}|${r.index}|${r.count}|${r.proofLayers}`;

/** What the exchange did, for status: hashes messages taken (proven), answers sent, requests rejected. */
export interface HashStats {
  fetched: number;
  answered: number;
  rejected: number;
}

export class HashExchange {
  readonly stats: HashStats = { fetched: 0, answered: 0, rejected: 0 };
  private readonly peers = new Map<TransferPeer, HashPeer>();
  /** Piece-layer chunks and leaves asked of some peer right now (by key): asked of one peer at a time. */
  private readonly inFlight = new Set<string>();
  /** Pieces whose leaves are wanted, with who waits for them. */
  private readonly leafWants = new Map<number, ((leaves: Buffer) => void)[]>();
  /** Leaf answers being worked on, those waiting for their turn, and this minute's count (all peers). */
  private leafWork = 0;
  private readonly leafQueue: (() => void)[] = [];
  private leafAnswers = 0;
  private leafWindowStart = Date.now();
  /** Per host (an IPv4 address, an IPv6 /64; loopback is exempt, as from the per-host peer caps): leaf answers this minute, and those in work or waiting now. */
  private readonly leafHosts = new Map<string, { answers: number; busy: number }>();

  constructor(
    private readonly store: PieceStore,
    private readonly state: TransferState,
  ) {}

  /** Whether anything is still to be fetched (a piece layer, some leaves). */
  get busy(): boolean {
    return !this.store.hashes.complete || this.leafWants.size > 0;
  }

  added(tp: TransferPeer): void {
    if (!tp.peer.v2 || !this.store.meta.v2) return;
    this.peers.set(tp, { out: new Map(), refused: new Map(), serving: 0, requests: 0, windowStart: Date.now(), unsolicited: 0 });
    this.pump();
  }

  removed(tp: TransferPeer): void {
    const hp = this.peers.get(tp);
    if (!hp) return;
    this.peers.delete(tp);
    for (const key of hp.out.keys()) this.inFlight.delete(key);
    this.pump();
  }

  /**
   * The leaf hashes of piece `index` (proven against its hash), for blame: `done` runs once a
   * peer gave them, or never (no peer has them; the piece was verified meanwhile). False when
   * they are not asked for (too many are wanted already).
   */
  leaves(index: number, done: (leaves: Buffer) => void): boolean {
    const waiting = this.leafWants.get(index);
    if (waiting) waiting.push(done);
    else if (this.leafWants.size < MAX_LEAF_WANTS && this.store.hashes.v2Piece(index)) this.leafWants.set(index, [done]);
    else return false;
    this.pump();
    return true;
  }

  /** The pieces (their bits) a peer has changed: it may have what we wait for. */
  peerPiecesChanged(tp: TransferPeer): void {
    if (this.peers.has(tp)) this.pump();
  }

  message(tp: TransferPeer, m: HashMessage): void {
    if (m.type === 'hash-request') return this.requested(tp, m);
    const hp = this.peers.get(tp);
    const key = keyOf(m.root, m);
    const o = hp?.out.get(key);
    if (!hp || !o) {
      if (m.type === 'hashes' && hp && ++hp.unsolicited > MAX_UNSOLICITED) throw new ProtocolError('too many hashes we never asked for');
      return;
    }
    hp.out.delete(key);
    this.inFlight.delete(key);
    if (m.type === 'hash-reject') {
      hp.refused.set(key, Date.now());
      return this.pump();
    }
    if (m.type === 'hashes') {
      this.received(o.want, m.root, m.hashes);
      this.stats.fetched++;
    }
    this.pump();
  }

  private received(want: Want, root: Buffer, hashes: Buffer): void {
    const hashesOf = this.store.hashes;
    if (want.kind === 'layer') {
      if (!hashesOf.addChunk(root, want.r, hashes)) throw new ProtocolError('hashes that do not prove the file\'s merkle root');
      return;
    }
    const leaves = hashesOf.trees[want.file]!.checkLeaves(want.r, hashes);
    if (!leaves) throw new ProtocolError(`leaf hashes that do not prove piece ${want.piece}`);
    const waiting = this.leafWants.get(want.piece) ?? [];
    this.leafWants.delete(want.piece);
    for (const done of waiting) done(leaves);
  }

  /** Give up on requests unanswered for too long; ask others. */
  tick(now: number): void {
    for (const hp of this.peers.values()) {
      for (const [key, o] of hp.out) {
        if (now - o.at < REQUEST_TIMEOUT_MS) continue;
        hp.out.delete(key);
        this.inFlight.delete(key);
        hp.refused.set(key, now);
      }
    }
    this.pump();
  }

  /**
   * Send the requests still needed to peers that may answer them, a few per peer. At most
   * MAX_EXAMINED wants are looked at per call: a torrent of many files missing their layers
   * costs no more per message than one.
   */
  private pump(): void {
    if (this.state.stopped || !this.busy) return;
    let room = 0;
    for (const [tp, hp] of this.peers) if (!tp.wire.closed) room += Math.max(0, MAX_OUT - hp.out.size);
    const now = Date.now();
    let examined = 0;
    for (const want of this.wants()) {
      if (room === 0 || ++examined > MAX_EXAMINED) return;
      const key = keyOf(this.rootOf(want.file), want.r);
      if (this.inFlight.has(key)) continue;
      const tp = this.askable(want, key, now);
      if (!tp) continue;
      const hp = this.peers.get(tp)!;
      hp.out.set(key, { want, at: now });
      this.inFlight.add(key);
      room--;
      tp.wire.send.hashRequest({ root: this.rootOf(want.file), ...want.r });
    }
  }

  private rootOf(file: number): Buffer {
    return this.store.meta.files[file]!.piecesRoot!;
  }

  /**
   * What we lack: leaves for blame first (few, and a download waits on them), then piece-layer
   * chunks, asked once per root (the answer sets the layer of every file with that root).
   */
  private *wants(): Generator<Want> {
    const hashes = this.store.hashes;
    for (const piece of this.leafWants.keys()) {
      // Verified meanwhile: its good copy judged the failed ones.
      if (this.store.have.has(piece)) {
        this.leafWants.delete(piece);
        continue;
      }
      const p = hashes.v2Piece(piece)!;
      const width = p.tree.pieceWidth;
      if (width < 2) continue; // a piece of one block: its hash is that block's
      yield { kind: 'leaves', piece, file: p.file, r: { base: 0, index: p.local * width, count: width, proofLayers: 0 } };
    }
    const roots = new Set<string>();
    let copies = 0;
    for (const file of hashes.incompleteFiles()) {
      const root = this.rootOf(file).toString('latin1');
      if (roots.has(root)) {
        // Copies of a file cost a look each: bounded like the wants themselves (see pump).
        if (++copies > MAX_EXAMINED) return;
        continue;
      }
      roots.add(root);
      for (const r of hashes.trees[file]!.missingChunks()) yield { kind: 'layer', file, r };
    }
  }

  /**
   * A v2 peer with room for one more request that has a piece the request covers (BEP 52: ask
   * where the other side must have the hashes) and did not refuse it lately.
   */
  private askable(want: Want, key: string, now: number): TransferPeer | undefined {
    const first = this.store.hashes.firstPieceOf(want.file);
    const [from, to] = want.kind === 'leaves' ? [want.piece, want.piece] : [first + want.r.index, Math.min(first + want.r.index + want.r.count, first + this.store.hashes.trees[want.file]!.pieces) - 1];
    let best: TransferPeer | undefined;
    for (const [tp, hp] of this.peers) {
      if (tp.wire.closed || hp.out.size >= MAX_OUT) continue;
      const refusedAt = hp.refused.get(key);
      if (refusedAt !== undefined && now - refusedAt < REJECTED_MS) continue;
      if (!hasAny(tp, from, to)) continue;
      if (!best || hp.out.size < this.peers.get(best)!.out.size) best = tp;
    }
    return best;
  }

  // ---- answering --------------------------------------------------------------------------------

  /**
   * The file (of those with the request's root) to answer from: for piece-layer hashes one whose
   * layer is known, for leaves one whose piece we have; else the first (the answer is a reject).
   */
  private answeringFile(m: HashRequest): number | undefined {
    const hashes = this.store.hashes;
    const files = hashes.filesOfRoot(m.root);
    for (let k = 0; k < Math.min(files.length, MAX_SAME_ROOT); k++) {
      const f = files[k]!;
      const tree = hashes.trees[f]!;
      const piece = tree.needsData(m) ? this.leafPieceOf(f, m) : undefined;
      if (tree.needsData(m) ? piece !== undefined && this.store.have.has(piece) : tree.complete) return f;
    }
    return files[0];
  }

  /** The torrent's piece whose leaves a request at level 0 asks for, in file `file`. */
  private leafPieceOf(file: number, m: HashRequest): number | undefined {
    const local = this.store.hashes.trees[file]!.leafPiece(m);
    return local === undefined ? undefined : this.store.hashes.firstPieceOf(file) + local;
  }

  private requested(tp: TransferPeer, m: HashRequest): void {
    const hashes = this.store.hashes;
    const file = this.answeringFile(m);
    const tree = file === undefined ? undefined : hashes.trees[file];
    const hp = this.peers.get(tp);
    // Hash requests belong to v2 connections (libtorrent drops a v1 peer that sends one).
    if (!hp) throw new ProtocolError('a hash request on a connection that is not v2');
    const now = Date.now();
    if (now - hp.windowStart >= 60_000) {
      hp.windowStart = now;
      hp.requests = 0;
    }
    if (++hp.requests > FLOOD_PER_MINUTE) throw new ProtocolError(`more than ${FLOOD_PER_MINUTE} hash requests a minute (request flood)`);
    const reject = () => {
      this.stats.rejected++;
      tp.wire.send.hashReject(m);
    };
    const answer = (hashes: Buffer) => {
      this.stats.answered++;
      tp.wire.send.hashes(m, hashes);
    };
    if (!tree || file === undefined || !tree.fits(m) || hp.serving >= MAX_SERVING || hp.requests > ANSWERS_PER_MINUTE || tp.wire.queuedBytes > MAX_QUEUED_BYTES) return reject();
    if (!tree.needsData(m)) {
      const hashes = tree.answer(m);
      return hashes ? answer(hashes) : reject();
    }
    const piece = this.leafPieceOf(file, m);
    if (piece === undefined || !this.store.have.has(piece) || !this.leafRoom(now)) return reject();
    const host = this.leafHost(tp.ip);
    if (host.answers >= LEAF_ANSWERS_PER_HOST_MINUTE || host.busy >= LEAF_BUSY_PER_HOST) return reject();
    host.answers++;
    host.busy++;
    const bytes = hashes.v2Piece(piece)!.bytes;
    hp.serving++;
    const finished = () => {
      hp.serving--;
      host.busy--;
    };
    const work = () => {
      if (tp.wire.closed) {
        finished();
        return this.leafDone();
      }
      this.store.readBlock(piece, 0, bytes).then(
        ({ block, release }) => {
          finished();
          try {
            const hashes = tree.answer(m, block);
            if (!tp.wire.closed) {
              if (hashes) answer(hashes);
              else reject();
            }
          } finally {
            release();
            this.leafDone();
          }
        },
        () => {
          finished();
          if (!tp.wire.closed) reject();
          this.leafDone();
        },
      );
    };
    this.leafAnswers++;
    if (this.leafWork < MAX_LEAF_WORK) {
      this.leafWork++;
      work();
    } else this.leafQueue.push(work);
  }

  /** Whether one more leaf answer may be taken on: within the minute's budget for all peers, and room in work or in the queue. */
  private leafRoom(now: number): boolean {
    if (now - this.leafWindowStart >= 60_000) {
      this.leafWindowStart = now;
      this.leafAnswers = 0;
      // A new minute: hosts with nothing in work are forgotten (the map holds only this minute's askers).
      for (const [key, h] of this.leafHosts) {
        if (h.busy === 0) this.leafHosts.delete(key);
        else h.answers = 0;
      }
    }
    return this.leafAnswers < ALL_LEAF_ANSWERS_PER_MINUTE && (this.leafWork < MAX_LEAF_WORK || this.leafQueue.length < MAX_LEAF_QUEUE);
  }

  private leafHost(ip: string): { answers: number; busy: number } {
    const key = hostNetwork(ip);
    if (key === undefined) return { answers: 0, busy: 0 }; // loopback: a record of its own each time, no cap
    let h = this.leafHosts.get(key);
    if (!h) this.leafHosts.set(key, (h = { answers: 0, busy: 0 }));
    return h;
  }

  /** A leaf answer finished: the next waiting one starts. */
  private leafDone(): void {
    const next = this.leafQueue.shift();
    if (next) next();
    else this.leafWork--;
  }
}

/** Files of one root looked at to answer a request (a torrent may hold very many copies of one file). */
const MAX_SAME_ROOT = 16;

function hasAny(tp: TransferPeer, from: number, to: number): boolean {
  if (tp.bits.complete) return true;
  for (let i = from; i <= to; i++) if (tp.bits.has(i)) return true;
  return false;
}
