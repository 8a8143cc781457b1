/**
 * The BitTorrent handshake in both directions, in one place, with encryption (MSE) in front of
 * it as the policy says (encryption-policy.ts). Incoming connections are told apart by their
 * first bytes (plaintext or MSE) and matched to the torrent their handshake names (either hash of
 * a hybrid torrent; a peer that names its v1 hash and offers BEP 52's upgrade is answered with
 * the v2 one, as we offer it when we dial with the v1 hash); our dials go
 * encrypted or not, fall back to plaintext for a peer that does not speak MSE, remember per
 * peer what worked, and learn whether the peer is the one we wanted.
 * Unfinished handshakes (MSE included) are bounded overall and per host (an IPv4 address or an
 * IPv6 /64) by FairSlots: a host at its limit loses its own oldest, and a full table loses the
 * oldest of the host holding the most, so one host's idle connections never lock out anyone else.
 * New incoming connections are rate-limited per host and in total, and the Diffie-Hellman work
 * of MSE has a budget of its own (HandshakeBudget): what is over is closed before it costs more.
 */
import { MseError } from '../mse/handshake.js';
import { acceptIncoming, initiateMse } from '../mse/negotiate.js';
import { dial, type DialOptions } from '../transport/happy-eyeballs.js';
import type { DialTarget, StreamDialer } from '../transport/network.js';
import { FairSlots } from '../net/fair-slots.js';
import { formatHostPort } from '../net/hostport.js';
import { acceptPolicy, dialPlan, EncryptionMemory, type EncryptionPolicy } from './encryption-policy.js';
import { HANDSHAKE_BUDGET, HandshakeBudget, type HandshakeBudgetLimits, type RefusedHandshakes } from './handshake-budget.js';
import { encodeHandshake, type Handshake } from './handshake.js';
import { PeerWire } from './peer-wire.js';
import type { Transport } from '../transport/transport.js';
import type { PeerAddress } from '../net/compact.js';

/** A torrent as the handshaker sees it. */
export interface HandshakeTarget {
  /** A handshaken incoming connection (our handshake is already sent). False refuses it. */
  accept(wire: PeerWire): boolean;
  /** BEP 52: its v2 info hash cut to 20 bytes, when it has one (a v2-only torrent's only hash). */
  readonly v2Hash?: Buffer;
}

/** For a dial: the v2 hash (20 bytes) of the torrent whose other hash we name, to offer the upgrade to it. */
export interface DialHashes {
  v2Hash?: Buffer;
}

export interface TorrentDirectory {
  find(infoHash: Buffer): HandshakeTarget | undefined;
  /** The info hash of the torrent we have whose HASH('req2', info hash) this is: an MSE responder's lookup. */
  findByReq2(req2Hash: Buffer): Buffer | undefined;
}

/** What a source told us about a peer before we dial it. */
export interface DialHints {
  /** It prefers encryption (PEX flag 0x01). */
  prefersEncryption?: boolean;
}

export interface HandshakerOptions {
  peerId: Buffer;
  directory: TorrentDirectory;
  /** Unfinished incoming handshakes at once (default 256). */
  maxUnfinished?: number;
  /** Of those, from one host (default 16). */
  maxUnfinishedPerHost?: number;
  /** Default 15 s, for the MSE handshake and the BitTorrent handshake each. */
  timeoutMs?: number;
  /** `--encryption` (default prefer). */
  encryption?: EncryptionPolicy;
  /** The network peers are dialed over (Happy Eyeballs across a peer's addresses). */
  network: StreamDialer;
  /** An incoming connection our `--encryption` policy refused (plaintext under require, MSE under off). */
  onRefused?: (from: PeerAddress, why: string) => void;
  /** Rates of incoming connections and of MSE key exchanges (default HANDSHAKE_BUDGET). */
  budget?: Partial<HandshakeBudgetLimits>;
}

/** Why a dial did not give a usable connection. */
export class HandshakeFailure extends Error {
  constructor(
    message: string,
    /** The peer turned out to be us. */
    readonly self = false,
    /**
     * encryption: our policy refused the only way it speaks; hung-up: it closed our plaintext
     * handshake without a byte (it may require encryption, or allow one connection per address).
     */
    readonly kind?: 'encryption' | 'hung-up',
  ) {
    super(message);
    this.name = 'HandshakeFailure';
  }
}

/**
 * Why an outgoing handshake ended, for people. A peer that hangs up on our plaintext handshake
 * without a byte in return most often refuses unencrypted connections (libtorrent and
 * Transmission with encryption required do exactly that), or already has a connection from our
 * address (Transmission and rtorrent allow one per address): the caller knows which is likelier.
 */
function whyClosed(wire: PeerWire, reason: string): HandshakeFailure {
  const hungUp = reason === 'connection closed by peer' || /ECONNRESET|EPIPE/.test(reason);
  if (!hungUp || wire.bytesIn > 0) return new HandshakeFailure(reason);
  if (wire.encrypted) return new HandshakeFailure('closed the connection during the handshake', false, 'hung-up');
  return new HandshakeFailure('closed the connection during the handshake (it may require encryption)', false, 'hung-up');
}

/** An incoming connection until its BitTorrent handshake arrives: first in MSE, then in the wire. */
interface Unfinished {
  timer: NodeJS.Timeout;
  close(reason: string): void;
  /** Ends the MSE phase at once when we close the connection (an eviction, a timeout, shutdown). */
  abort: AbortController;
}

/** Closes an outgoing connection still handshaking (at shutdown). */
type Closer = () => void;

const addressKey = (t: DialTarget): string => formatHostPort(t.host, t.port);
/** The uTP try after a TCP hang-up: one SYN and its first retransmission. */
const UTP_RETRY_MS = 4_000;

export class Handshaker {
  readonly encryption: EncryptionPolicy;
  private readonly unfinished: FairSlots<Unfinished>;
  private readonly outgoing = new Set<Closer>();
  private readonly memory = new EncryptionMemory();
  private readonly timeoutMs: number;
  private readonly budget: HandshakeBudget;
  private closed = false;

  constructor(private readonly opts: HandshakerOptions) {
    this.unfinished = new FairSlots(opts.maxUnfinishedPerHost ?? 16, opts.maxUnfinished ?? 256);
    this.budget = new HandshakeBudget({ ...HANDSHAKE_BUDGET, ...opts.budget });
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.encryption = opts.encryption ?? 'prefer';
  }

  /** Incoming handshakes not finished yet. */
  get pending(): number {
    return this.unfinished.size;
  }

  /** Incoming connections closed at once for being over a rate, since the start. */
  get refused(): RefusedHandshakes {
    return { ...this.budget.refused };
  }

  /** A connection that arrived on our listener: MSE or plaintext, by its first bytes and our policy. */
  incoming(transport: Transport): void {
    const admission = this.closed ? undefined : this.budget.admit(transport.remote.host);
    if (!admission) return transport.close();
    const entry: Unfinished = { timer: this.timeout((r) => this.drop(entry, r)), close: () => transport.close(), abort: new AbortController() };
    const evicted = this.unfinished.admit(entry, transport.remote.host);
    if (evicted) this.drop(evicted, 'dropped: too many unfinished handshakes from its host');
    const policy = acceptPolicy(this.encryption, (r) => this.opts.directory.findByReq2(r));
    if (!policy) return this.incomingWire(transport, entry, undefined);
    const accept = { ...policy, mse: policy.mse && { ...policy.mse, mayComputeDh: () => this.budget.mayComputeDh(admission) } };
    // The MSE handshake closes the transport itself when it fails; closing it here (a timeout, an
    // eviction) aborts it, which settles it at once, its slot freed (see drop). Nothing of it
    // waits for its own timer: under a flood with churn, thousands of evicted handshakes each
    // held their socket and buffers for the whole timeout, hundreds of MB.
    acceptIncoming(transport, { ...accept, timeoutMs: this.timeoutMs, signal: entry.abort.signal }).then(
      (c) => {
        if (!this.unfinished.has(entry)) return c.transport.close();
        this.incomingWire(c.transport, entry, c.kind === 'mse' ? c.infoHash : undefined);
      },
      (e: unknown) => {
        this.finish(entry);
        if (e instanceof MseError && e.refusedByPolicy) this.opts.onRefused?.(transport.remote, e.message);
      },
    );
  }

  /** Their BitTorrent handshake (for an MSE connection: the one its stream key named), then ours. */
  private incomingWire(transport: Transport, entry: Unfinished, mseInfoHash: Buffer | undefined): void {
    const wire = new PeerWire(transport, false, mseInfoHash !== undefined);
    entry.close = (reason) => wire.close(reason);
    wire.attach({
      onHandshake: (h) => {
        this.finish(entry);
        if (h.peerId.equals(this.opts.peerId)) return false; // we reached ourselves
        if (mseInfoHash && !h.infoHash.equals(mseInfoHash)) return false;
        const target = this.opts.directory.find(h.infoHash);
        if (!target) return false;
        // Named by its v2 hash, or by its v1 hash with the offer to upgrade: the connection runs under v2.
        const v2 = target.v2Hash !== undefined && (h.infoHash.equals(target.v2Hash) || h.v2);
        wire.v2 = v2;
        wire.sendHandshake(v2 ? target.v2Hash! : h.infoHash, this.opts.peerId);
        return target.accept(wire);
      },
      onMessage: () => {},
      onClose: () => this.finish(entry),
    });
  }

  /**
   * Dial one peer (all its addresses, Happy Eyeballs) for a torrent and exchange handshakes,
   * encrypted or not as the policy, what worked with this peer before and `hints` say.
   * Resolves with a wire whose handshake names that torrent; the caller attaches to it and
   * starts its messages (bytes that follow the handshake wait until then).
   * A peer reached over TCP that hangs up without a word is tried once more over uTP, where the
   * network speaks it: libtorrent with incoming TCP turned off accepts TCP connections and closes
   * them at once.
   */
  async connect(targets: DialTarget[], infoHash: Buffer, dialOpts: DialOptions, hints: DialHints = {}, hashes: DialHashes = {}): Promise<PeerWire> {
    const opened: Transport[] = [];
    try {
      return await this.connectOver(targets, infoHash, dialOpts, hints, hashes, opened);
    } catch (e) {
      const last = opened.at(-1);
      const silent = e instanceof HandshakeFailure && (e.kind === 'hung-up' || e.kind === 'encryption');
      if (!silent || last?.kind !== 'tcp' || dialOpts.only || this.closed) throw e;
      const overUtp = { ...againOptions(dialOpts), only: 'utp' as const, timeoutMs: Math.min(dialOpts.timeoutMs ?? 10_000, UTP_RETRY_MS) };
      return await this.connectOver([last.remote], infoHash, overUtp, hints, hashes, []).catch(() => Promise.reject(e));
    }
  }

  /** connect() over the transports `dialOpts` allow; each transport opened is added to `opened`. */
  private async connectOver(targets: DialTarget[], infoHash: Buffer, dialOpts: DialOptions, hints: DialHints, hashes: DialHashes, opened: Transport[]): Promise<PeerWire> {
    const upgrade = hashes.v2Hash !== undefined && !hashes.v2Hash.equals(infoHash);
    const remembered = targets.map((t) => this.memory.get(addressKey(t))).find((r) => r !== undefined);
    const plan = dialPlan(this.encryption, remembered, hints.prefersEncryption ?? false);
    if (plan.kind === 'mse') {
      const tcp = await this.open(targets, dialOpts);
      opened.push(tcp);
      const key = addressKey(tcp.remote);
      try {
        const c = await this.tracked(
          () => tcp.close(),
          initiateMse(tcp, { infoHash, initialPayload: encodeHandshake(infoHash, this.opts.peerId, upgrade), provide: plan.provide, timeoutMs: this.timeoutMs }),
        );
        this.memory.set(key, 'mse');
        return await this.handshake(c.transport, infoHash, { sent: true, mse: true, ...hashes });
      } catch (e) {
        // Hung up, silent or no sync mark: a peer that does not speak MSE. Anything else a plaintext dial would not mend.
        if (!(e instanceof MseError) || e.peerSpokeMse || this.closed) throw e;
        if (!plan.fallback) throw new HandshakeFailure(`it does not speak encryption (${e.message}); --encryption require refuses it`, false, 'encryption');
        this.memory.set(key, 'plaintext');
        // Again where it answered, over the transport that reached it.
        targets = [tcp.remote];
        dialOpts = { ...againOptions(dialOpts), only: tcp.kind };
      }
    }
    const tcp = await this.open(targets, dialOpts);
    opened.push(tcp);
    try {
      return await this.handshake(tcp, infoHash, hashes);
    } catch (e) {
      // It may want encryption now (or the first try was unlucky): the next dial tries MSE again.
      if (!(e instanceof HandshakeFailure && e.self)) this.memory.forget(addressKey(tcp.remote));
      throw e;
    }
  }

  /**
   * Our handshake over an open transport (unless it already went out, as MSE's initial
   * payload), then theirs: for the same hash, or (`v2Hash`, when we name a hybrid's v1 hash) the
   * v2 one it upgraded the connection to.
   */
  handshake(transport: Transport, infoHash: Buffer, opts: { sent?: boolean; mse?: boolean } & DialHashes = {}): Promise<PeerWire> {
    const wire = new PeerWire(transport, true, opts.mse ?? false);
    const upgrade = opts.v2Hash !== undefined && !opts.v2Hash.equals(infoHash);
    return new Promise((resolve, reject) => {
      const timer = this.timeout((reason) => wire.close(reason));
      const closer = () => wire.close('shutting down');
      this.outgoing.add(closer);
      let result: PeerWire | HandshakeFailure | undefined;
      wire.attach({
        onHandshake: (h: Handshake) => {
          clearTimeout(timer);
          this.outgoing.delete(closer);
          const v2 = opts.v2Hash !== undefined && h.infoHash.equals(opts.v2Hash);
          if (h.peerId.equals(this.opts.peerId)) result = new HandshakeFailure('connected to ourselves', true);
          else if (!h.infoHash.equals(infoHash) && !(upgrade && v2)) result = new HandshakeFailure('the peer answered for another torrent');
          else result = wire;
          wire.v2 = v2;
          if (result instanceof HandshakeFailure) {
            reject(result);
            return false;
          }
          resolve(wire);
          return true;
        },
        onMessage: () => {},
        onClose: (reason) => {
          clearTimeout(timer);
          this.outgoing.delete(closer);
          if (!result) reject(whyClosed(wire, reason));
        },
      });
      if (!opts.sent) wire.sendHandshake(infoHash, this.opts.peerId, upgrade);
    });
  }

  /** A fresh connection to one of the targets (none once we are shutting down). */
  private async open(targets: DialTarget[], dialOpts: DialOptions): Promise<Transport> {
    if (this.closed) throw new HandshakeFailure('shutting down');
    const transport = await dial(this.opts.network, targets, dialOpts);
    if (this.closed) {
      transport.close();
      throw new HandshakeFailure('shutting down');
    }
    return transport;
  }

  /** `p`, with `close` run if we shut down before it settles. */
  private tracked<T>(close: Closer, p: Promise<T>): Promise<T> {
    this.outgoing.add(close);
    return p.finally(() => this.outgoing.delete(close));
  }

  close(): void {
    this.closed = true;
    for (const e of [...this.unfinished.entries()]) this.drop(e, 'shutting down');
    for (const close of [...this.outgoing]) close();
  }

  private timeout(close: (reason: string) => void): NodeJS.Timeout {
    const t = setTimeout(() => close(`no handshake within ${this.timeoutMs / 1000} s`), this.timeoutMs);
    t.unref();
    return t;
  }

  /** Close an unfinished incoming handshake; in the MSE phase nothing reports that close, so its slot is freed here. */
  private drop(e: Unfinished, reason: string): void {
    e.close(reason);
    e.abort.abort();
    this.finish(e);
  }

  private finish(e: Unfinished): void {
    clearTimeout(e.timer);
    this.unfinished.release(e);
  }
}

/** A second dial's options: the caller's abort signal was for the first dial's connecting only. */
function againOptions(o: DialOptions): DialOptions {
  const again = { ...o };
  delete again.signal;
  return again;
}
