/**
 * One torrent's metadata, torrent-wide: served from the info dictionary once we have it, or
 * fetched in 16 KiB pieces from the peers that offer it. One request per peer at a time
 * (rtorrent 0.9.8 stops reading a connection that asks again while its reply is pending), and
 * every idle peer asked at once, each for the missing piece fewest others were asked for, the
 * fastest answerers first: a few silent or lying peers connected first cost nothing but the
 * bytes of their requests. A request unanswered within the timeout closes that connection (it
 * is redialed later, not asked again on a connection that may have stopped reading). A peer that
 * answers with another total size is not asked again in this fetch; one that sends a copy failing
 * the hash is blamed as follows: a copy from one peer drops it at once; from several, the next
 * copy is taken from a single peer, and once a good copy exists every peer whose piece differed
 * from it is dropped. A dropped peer's host (an IPv4 address, an IPv6 /64) is never asked again,
 * from whatever port it comes back.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostKey } from '../../net/address.js';
import { MAX_METADATA, METADATA_PIECE, pieceCountOf, pieceLength } from './codec.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** Requests out at once over all peers: a fetch never asks more than this many peers at a time. */
const MAX_OUTSTANDING = 64;
/** Rejects before a peer is not asked again during this fetch. */
const MAX_REJECTS = 3;

/** The exchange's view of one peer that offers the metadata. */
export interface MetadataSource {
  readonly label: string;
  /** Its IP address: blame sticks to the host, whatever port it comes back from. */
  readonly host: string;
  /** The size the peer announced (BEP 10 metadata_size). */
  readonly size: number;
  request(piece: number): void;
  /** It answered with a piece of the size asked for. */
  answered(): void;
  /** Close the connection; `blamed`: it sent metadata that failed the hash (else: it did not answer in time). */
  close(reason: string, blamed: boolean): void;
}

interface Outstanding {
  piece: number;
  at: number;
}

export interface MetadataExchangeEvents {
  /** The verified info dictionary. */
  metadata: [info: Buffer, stats: { size: number; sources: number; ms: number }];
  /** A copy failed the hash; `dropped` are the peers blamed for it. */
  failed: [dropped: string[]];
}

export class MetadataExchange extends EventEmitter<MetadataExchangeEvents> {
  private info?: Buffer;
  private readonly sources = new Set<MetadataSource>();
  private readonly rejects = new Map<MetadataSource, number>();
  /** Peers that answered with another total size: not asked again in this fetch. */
  private readonly wrongSize = new Set<MetadataSource>();
  /** Hosts blamed for bad metadata (hostKey): never asked again. */
  private readonly banned = new Set<string>();
  /** How long each peer took to answer, last time: the fastest are asked first. */
  private readonly answerMs = new Map<MetadataSource, number>();
  private size?: number;
  private pieces: (Buffer | undefined)[] = [];
  private from: (MetadataSource | undefined)[] = [];
  /** The one request each asked peer has out. */
  private readonly outstanding = new Map<MetadataSource, Outstanding>();
  /** After a copy from several peers failed: its pieces, kept as evidence, and a single source for the next copy. */
  private evidence?: { pieces: (Buffer | undefined)[]; from: (MetadataSource | undefined)[] };
  private soleSource?: MetadataSource;
  private readonly started = Date.now();
  private lastTick = 0;

  /**
   * `infoHash`: a v1 info hash (the SHA-1 of the info dictionary); `infoHashV2` (BEP 52): the
   * SHA-256, which a v2 magnet names. A copy matching either is the metadata.
   */
  constructor(
    readonly infoHash: Buffer,
    info?: Buffer,
    readonly infoHashV2?: Buffer,
  ) {
    super();
    this.info = info;
  }

  /** The verified info dictionary, once known. */
  get metadata(): Buffer | undefined {
    return this.info;
  }

  /** Peers that offer the metadata and may be asked. */
  get offering(): number {
    let n = 0;
    for (const s of this.sources) if (this.askable(s)) n++;
    return n;
  }

  /** A piece of our metadata to serve, or undefined (we have none yet, or it is out of range). */
  piece(index: number): { data: Buffer; totalSize: number } | undefined {
    const info = this.info;
    if (!info || index >= pieceCountOf(info.length)) return undefined;
    return { data: info.subarray(index * METADATA_PIECE, index * METADATA_PIECE + pieceLength(info.length, index)), totalSize: info.length };
  }

  /** A connected peer that announced metadata_size. */
  add(source: MetadataSource): void {
    if (this.info || source.size <= 0 || source.size > MAX_METADATA || this.banned.has(hostKey(source.host))) return;
    this.sources.add(source);
    this.pump();
  }

  remove(source: MetadataSource): void {
    this.sources.delete(source);
    this.rejects.delete(source);
    this.wrongSize.delete(source);
    this.answerMs.delete(source);
    this.outstanding.delete(source);
    if (this.soleSource === source) this.soleSource = undefined;
    this.pump();
  }

  received(source: MetadataSource, piece: number, totalSize: number, data: Buffer): void {
    const o = this.outstanding.get(source);
    if (this.info || !o || o.piece !== piece) return; // unasked or late
    this.outstanding.delete(source);
    if (totalSize !== this.size) {
      // Its first wrong answer is its last in this fetch.
      this.wrongSize.add(source);
      return this.pump();
    }
    this.answerMs.set(source, Date.now() - o.at);
    source.answered();
    // Asked of several peers at once: the first copy counts.
    if (!this.pieces[piece]) {
      this.pieces[piece] = Buffer.from(data);
      this.from[piece] = source;
    }
    if (this.pieces.every((p) => p !== undefined)) this.assemble();
    else this.pump();
  }

  rejected(source: MetadataSource, piece: number): void {
    const o = this.outstanding.get(source);
    if (!o || o.piece !== piece) return;
    this.outstanding.delete(source);
    this.rejects.set(source, (this.rejects.get(source) ?? 0) + 1);
    this.pump();
  }

  /** Once a second (every connection calls it; all but the first call of a second return at once): unanswered requests close their connections. */
  tick(now: number): void {
    if (now - this.lastTick < 1000) return;
    this.lastTick = now;
    for (const [source, o] of [...this.outstanding]) {
      if (now - o.at < REQUEST_TIMEOUT_MS) continue;
      this.outstanding.delete(source);
      source.close(`no answer to a ut_metadata request within ${REQUEST_TIMEOUT_MS / 1000} s`, false);
    }
    this.pump();
  }

  private askable(s: MetadataSource): boolean {
    return !this.banned.has(hostKey(s.host)) && !this.wrongSize.has(s) && (this.rejects.get(s) ?? 0) < MAX_REJECTS;
  }

  /**
   * Every idle peer that offers the size being fetched gets one request: for the missing piece
   * the fewest others were asked for (ties: the first), the fastest answerers first.
   */
  private pump(): void {
    if (this.info) return;
    if (this.size === undefined || ![...this.sources].some((s) => s.size === this.size && this.askable(s))) this.chooseSize();
    const size = this.size;
    if (size === undefined) return;
    const candidates = [...this.sources].filter((s) => s.size === size && this.askable(s));
    if (this.evidence && !this.soleSource && candidates.length > 0) this.soleSource = candidates[0];
    const idle = (this.soleSource ? [this.soleSource] : candidates).filter((s) => !this.outstanding.has(s));
    // Unknown speed sorts after every measured one, in the order the peers came (the sort is stable).
    const ms = (s: MetadataSource) => this.answerMs.get(s) ?? Number.MAX_SAFE_INTEGER;
    idle.sort((a, b) => ms(a) - ms(b));
    const asked = new Array<number>(this.pieces.length).fill(0);
    for (const o of this.outstanding.values()) asked[o.piece]!++;
    for (const s of idle) {
      if (this.outstanding.size >= MAX_OUTSTANDING) return;
      let piece = -1;
      for (let i = 0; i < this.pieces.length; i++) if (!this.pieces[i] && (piece < 0 || asked[i]! < asked[piece]!)) piece = i;
      if (piece < 0) return;
      asked[piece]!++;
      this.outstanding.set(s, { piece, at: Date.now() });
      s.request(piece);
    }
  }

  /** The size most askable peers claim: a peer lying about it cannot outvote the rest. */
  private chooseSize(): void {
    const votes = new Map<number, number>();
    for (const s of this.sources) if (this.askable(s)) votes.set(s.size, (votes.get(s.size) ?? 0) + 1);
    let best: number | undefined;
    for (const [size, n] of votes) if (best === undefined || n > votes.get(best)!) best = size;
    if (best === this.size) return;
    this.size = best;
    this.outstanding.clear();
    this.pieces = best === undefined ? [] : new Array<Buffer | undefined>(pieceCountOf(best)).fill(undefined);
    this.from = new Array<MetadataSource | undefined>(this.pieces.length).fill(undefined);
    this.evidence = undefined;
    this.soleSource = undefined;
  }

  private assemble(): void {
    const info = Buffer.concat(this.pieces as Buffer[]);
    const v2 = this.infoHashV2 && createHash('sha256').update(info).digest().equals(this.infoHashV2);
    if (v2 || createHash('sha1').update(info).digest().equals(this.infoHash)) {
      this.info = info;
      const liars = new Set<MetadataSource>();
      // The good copy tells who lied in the failed one.
      this.evidence?.pieces.forEach((p, i) => {
        const s = this.evidence!.from[i];
        if (p && s && !p.equals(this.pieces[i]!)) liars.add(s);
      });
      if (liars.size > 0) this.blame(liars);
      const contributors = new Set(this.from).size;
      this.reset();
      this.emit('metadata', info, { size: info.length, sources: contributors, ms: Date.now() - this.started });
      return;
    }
    const senders = new Set(this.from.filter((s): s is MetadataSource => s !== undefined));
    if (senders.size === 1) this.blame(senders);
    else {
      this.evidence = { pieces: this.pieces, from: this.from };
      this.emit('failed', []);
    }
    this.pieces = new Array<Buffer | undefined>(this.pieces.length).fill(undefined);
    this.from = new Array<MetadataSource | undefined>(this.pieces.length).fill(undefined);
    this.soleSource = undefined;
    this.pump();
  }

  private blame(liars: Set<MetadataSource>): void {
    const labels = [...liars].map((s) => s.label);
    for (const s of liars) {
      this.banned.add(hostKey(s.host));
      this.sources.delete(s);
      this.outstanding.delete(s);
      if (this.soleSource === s) this.soleSource = undefined;
      s.close('sent metadata that does not match the info hash', true);
    }
    this.emit('failed', labels);
  }

  private reset(): void {
    this.sources.clear();
    this.outstanding.clear();
    this.pieces = [];
    this.from = [];
    this.evidence = undefined;
    this.soleSource = undefined;
  }
}
