/**
 * One torrent's metadata, torrent-wide: served from the info dictionary once we have it, or
 * fetched in 16 KiB pieces from the peers that offer it. Requests are spread over peers (a few
 * at a time each, timed out, retried elsewhere); the assembled dictionary must hash to the info
 * hash. Blame: a copy that fails comes from one peer (dropped at once), or from several, in which
 * case the next copy is taken from a single peer, and once a good copy exists every peer whose
 * piece differed from it is dropped. A dropped peer is never asked again.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { MAX_METADATA, METADATA_PIECE, pieceCountOf, pieceLength } from './codec.js';

/** Requests one peer may have outstanding: most metadata comes in one round trip from one peer. */
const PER_PEER = 8;
const REQUEST_TIMEOUT_MS = 10_000;
/** Timeouts and rejects before a peer is not asked again during this fetch. */
const MAX_STRIKES = 3;

/** The exchange's view of one peer that offers the metadata. */
export interface MetadataSource {
  readonly label: string;
  /** The size the peer announced (BEP 10 metadata_size). */
  readonly size: number;
  request(piece: number): void;
  /** Drop the peer: it sent metadata that failed the hash. */
  drop(reason: string): void;
}

interface Outstanding {
  source: MetadataSource;
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
  private readonly strikes = new Map<MetadataSource, number>();
  /** Peers blamed for bad metadata, by label: never asked again. */
  private readonly banned = new Set<string>();
  private size?: number;
  private pieces: (Buffer | undefined)[] = [];
  private from: (MetadataSource | undefined)[] = [];
  private readonly outstanding = new Map<number, Outstanding>();
  /** After a copy from several peers failed: its pieces, kept as evidence, and a single source for the next copy. */
  private evidence?: { pieces: (Buffer | undefined)[]; from: (MetadataSource | undefined)[] };
  private soleSource?: MetadataSource;
  private readonly started = Date.now();
  private lastTick = 0;

  constructor(
    readonly infoHash: Buffer,
    info?: Buffer,
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
    if (this.info || source.size <= 0 || source.size > MAX_METADATA || this.banned.has(source.label)) return;
    this.sources.add(source);
    this.pump();
  }

  remove(source: MetadataSource): void {
    this.sources.delete(source);
    this.strikes.delete(source);
    if (this.soleSource === source) this.soleSource = undefined;
    for (const [i, o] of this.outstanding) if (o.source === source) this.outstanding.delete(i);
    this.pump();
  }

  received(source: MetadataSource, piece: number, totalSize: number, data: Buffer): void {
    const o = this.outstanding.get(piece);
    if (this.info || !o || o.source !== source || totalSize !== this.size) return; // unasked, late, or another size
    this.outstanding.delete(piece);
    this.pieces[piece] = Buffer.from(data);
    this.from[piece] = source;
    if (this.pieces.every((p) => p !== undefined)) this.assemble();
    else this.pump();
  }

  rejected(source: MetadataSource, piece: number): void {
    const o = this.outstanding.get(piece);
    if (!o || o.source !== source) return;
    this.outstanding.delete(piece);
    this.strike(source);
    this.pump();
  }

  /** Once a second (every connection calls it; all but the first call of a second return at once): requests that took too long go elsewhere. */
  tick(now: number): void {
    if (now - this.lastTick < 1000) return;
    this.lastTick = now;
    for (const [i, o] of this.outstanding) {
      if (now - o.at < REQUEST_TIMEOUT_MS) continue;
      this.outstanding.delete(i);
      this.strike(o.source);
    }
    this.pump();
  }

  private strike(source: MetadataSource): void {
    this.strikes.set(source, (this.strikes.get(source) ?? 0) + 1);
  }

  private askable(s: MetadataSource): boolean {
    return !this.banned.has(s.label) && (this.strikes.get(s) ?? 0) < MAX_STRIKES;
  }

  /** Ask for missing pieces, spreading them over the peers that offer the size being fetched. */
  private pump(): void {
    if (this.info) return;
    if (this.size === undefined || ![...this.sources].some((s) => s.size === this.size && this.askable(s))) this.chooseSize();
    const size = this.size;
    if (size === undefined) return;
    const load = new Map<MetadataSource, number>();
    for (const o of this.outstanding.values()) load.set(o.source, (load.get(o.source) ?? 0) + 1);
    const candidates = [...this.sources].filter((s) => s.size === size && this.askable(s) && (!this.soleSource || s === this.soleSource));
    if (this.evidence && !this.soleSource && candidates.length > 0) this.soleSource = candidates[0];
    const askable = this.soleSource ? [this.soleSource] : candidates;
    for (let i = 0; i < this.pieces.length; i++) {
      if (this.pieces[i] || this.outstanding.has(i)) continue;
      const s = askable.filter((c) => (load.get(c) ?? 0) < PER_PEER).sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0))[0];
      if (!s) return;
      load.set(s, (load.get(s) ?? 0) + 1);
      this.outstanding.set(i, { source: s, at: Date.now() });
      s.request(i);
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
    if (createHash('sha1').update(info).digest().equals(this.infoHash)) {
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
      this.banned.add(s.label);
      this.sources.delete(s);
      if (this.soleSource === s) this.soleSource = undefined;
      s.drop('sent metadata that does not match the info hash');
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
