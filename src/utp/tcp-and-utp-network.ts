/**
 * The peer network of an engine that speaks TCP and uTP: it listens on TCP and accepts uTP on the
 * UDP sockets of the same port (the base network's, shared with the DHT), and dials each address
 * over both, keeping the one that connects first. The transport known to work goes first: uTP
 * for a peer that reached us over uTP, that a uTP dial reached before, or that PEX says speaks it
 * (flag 0x04), TCP for one whose uTP dial failed while TCP worked; an unknown peer gets TCP first
 * and uTP `staggerMs` later, or at once when TCP fails (then for a second only: a refused TCP
 * dial is mostly an address the peer left; uTP that went first keeps the dial's whole time).
 * From behind an IPv4 NAT an unknown peer across it gets uTP first: a uTP connection leaves from
 * our listening port, so the peer (and a BEP 55 relay, which libtorrent's finds by the connection's
 * address) knows us by the port our NAT keeps for it, where a holepunch can reach us. libtorrent
 * tries uTP first and TCP only once the uTP attempt has failed (seconds later); racing them loses
 * no time on a peer that speaks one. A peer that takes TCP connections and hangs up on them is
 * tried over uTP by the handshaker. Also the choice of network by `--transports` (`peerNetwork`).
 */
import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { canonicalIp, classify, type Family } from '../net/address.js';
import { behindIpv4Nat } from '../net/behind-nat.js';
import { formatHostPort } from '../net/hostport.js';
import type { DatagramChannel, DatagramFlow } from '../transport/datagram.js';
import type { MulticastChannel, MulticastGroup } from '../transport/multicast.js';
import { staggeredRace } from '../transport/happy-eyeballs.js';
import type { DialOneOptions, DialTarget, Listening, ListenOptions, Network } from '../transport/network.js';
import type { Transport, TransportKind } from '../transport/transport.js';
import type { UtpSocketOptions, UtpSocketStats } from './socket.js';
import { UtpNetwork } from './utp-network.js';

/** Addresses whose working transport is remembered (the oldest forgotten first). */
const MAX_REMEMBERED = 10_000;
/** After this, the second transport starts while the first is still trying. */
const DEFAULT_STAGGER_MS = 500;
/**
 * Once TCP failed (refused, mostly: an address the peer left), uTP started after it gets this long
 * from its SYN rather than the dial's whole timeout (uTP that went first, for a peer known to
 * speak it, keeps the whole): a peer that speaks uTP answers within a round trip, and
 * a stale address must not hold a dial slot for seconds (the pool tries it again later anyway).
 */
const UTP_AFTER_TCP_FAILED_MS = 1_000;

/** Which transports to speak (`--transports`); at least one. */
export type TransportSet = Record<TransportKind, boolean>;

export interface TcpAndUtpOptions {
  staggerMs?: number;
  utp?: UtpSocketOptions;
  /** Whether `target` is an IPv4 peer on the Internet while we are behind a NAT (default: see acrossIpv4Nat). */
  acrossNat?: (target: DialTarget) => boolean;
}

export class TcpAndUtpNetwork implements Network {
  readonly transports = ['tcp', 'utp'] as const;
  private readonly utp: UtpNetwork;
  private readonly staggerMs: number;
  private readonly acrossNat: (target: DialTarget) => boolean;
  /** host:port -> the transport that reached it (or, after a failed uTP dial, TCP). */
  private readonly known = new Map<string, TransportKind>();
  /** The base's multicast groups (local peer discovery), where it has them. */
  readonly multicast?: (family: Family, group: MulticastGroup) => Promise<MulticastChannel>;

  constructor(
    /** TCP, the UDP sockets and everything but peer streams. */
    readonly base: Network,
    opts: TcpAndUtpOptions = {},
  ) {
    this.utp = new UtpNetwork(base, opts.utp);
    this.staggerMs = opts.staggerMs ?? DEFAULT_STAGGER_MS;
    this.acrossNat = opts.acrossNat ?? acrossIpv4Nat;
    if (base.multicast) this.multicast = (family, group) => base.multicast!(family, group);
  }

  async dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    const key = addressKey(target);
    if (opts.only) {
      const t = await this.over(opts.only, target, opts.signal);
      if (t.kind === 'utp') this.remember(key, 'utp');
      return t;
    }
    const known = this.known.get(key) ?? opts.prefer;
    // Known to speak uTP: TCP's refusal then says nothing of uTP's chances (across a NAT it does).
    const utpKnown = known === 'utp';
    const first = known ?? (this.acrossNat(target) ? 'utp' : 'tcp');
    const order: TransportKind[] = first === 'utp' ? ['utp', 'tcp'] : ['tcp', 'utp'];
    const failed: Partial<Record<TransportKind, Error>> = {};
    // uTP's deadline once TCP has failed (see UTP_AFTER_TCP_FAILED_MS).
    const utpCap = new AbortController();
    let utpStarted: number | undefined;
    let capTimer: NodeJS.Timeout | undefined;
    const capUtp = () => {
      if (utpKnown || utpStarted === undefined || !failed.tcp || capTimer) return;
      capTimer = setTimeout(() => utpCap.abort(), Math.max(0, utpStarted + UTP_AFTER_TCP_FAILED_MS - performance.now()));
    };
    const attempt = (kind: TransportKind) => (signal: AbortSignal) => {
      let dialing: Promise<Transport>;
      if (kind === 'utp') {
        utpStarted = performance.now();
        capUtp();
        dialing = this.over('utp', target, AbortSignal.any([signal, utpCap.signal])).catch((e: Error) => {
          throw utpCap.signal.aborted && !signal.aborted ? new Error(`no answer to the uTP SYN within ${UTP_AFTER_TCP_FAILED_MS / 1000} s`) : e;
        });
      } else dialing = this.over('tcp', target, signal);
      return dialing.catch((e: Error) => {
        if (!signal.aborted) failed[kind] = e;
        if (kind === 'tcp') capUtp();
        throw e;
      });
    };
    let t: Transport;
    try {
      t = await staggeredRace(order.map(attempt), { staggerMs: this.staggerMs, signal: opts.signal });
    } catch (e) {
      throw failed.tcp && failed.utp ? bothFailed(failed.tcp, failed.utp) : e;
    } finally {
      clearTimeout(capTimer);
    }
    if (t.kind === 'utp') this.remember(key, 'utp');
    else if (failed.utp) this.remember(key, 'tcp');
    return t;
  }

  /**
   * Listen on TCP and accept uTP on the same port's UDP sockets. Port 0: one free for both (the
   * UDP sockets pick it, TCP follows, another is tried while TCP finds it taken).
   */
  async listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    const overUtp = (t: Transport) => {
      // A uTP connection comes from the peer's UDP socket, the port it listens on (libtorrent's, ours).
      this.remember(addressKey(t.remote), 'utp');
      onStream(t);
    };
    for (let attempt = 0; ; attempt++) {
      // The base keeps a port-0 UDP socket as that port (asking again gives the same): retries pick one.
      const port = opts.port === 0 && attempt > 0 ? randomInt(49152, 65536) : opts.port;
      try {
        const udp = await this.utp.listen({ ...opts, port }, overUtp);
        await this.base.listen({ ...opts, port: udp[0]!.port }, onStream);
        return this.listening();
      } catch (e) {
        await this.utp.unlisten();
        if (opts.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw e;
      }
    }
  }

  listening(): Listening[] {
    return this.base.listening();
  }

  datagrams(family: Family, port?: number, host?: string): Promise<DatagramChannel> {
    return this.base.datagrams(family, port, host);
  }

  openFlow(family: Family, host: string, port: number): Promise<DatagramFlow> {
    return this.base.openFlow(family, host, port);
  }

  openStream(target: DialTarget & { family: Family }): Duplex {
    return this.base.openStream(target);
  }

  setLocalAddress(family: Family, address: string | undefined): void {
    this.base.setLocalAddress(family, address);
  }

  /** Counters of each family's uTP socket. */
  stats(): Promise<Partial<Record<Family, UtpSocketStats>>> {
    return this.utp.stats();
  }

  /** uTP connections end (a RESET tells each peer), then the base closes TCP and the UDP sockets. */
  async close(): Promise<void> {
    await this.utp.shutdown();
    await this.base.close();
  }

  private over(kind: TransportKind, target: DialTarget, signal: AbortSignal): Promise<Transport> {
    return kind === 'utp' ? this.utp.dial(target, { signal }) : this.base.dial(target, { signal });
  }

  private remember(key: string, kind: TransportKind): void {
    this.known.delete(key);
    this.known.set(key, kind);
    if (this.known.size > MAX_REMEMBERED) this.known.delete(this.known.keys().next().value!);
  }
}

/**
 * The network peers are dialed and accepted over, for `--transports`: the base alone (TCP), uTP
 * alone on the base's UDP sockets, or both.
 */
export function peerNetwork(base: Network, transports: TransportSet | undefined): Network {
  if (!transports || (transports.tcp && !transports.utp)) return base;
  if (!transports.tcp) return new UtpNetwork(base);
  return new TcpAndUtpNetwork(base);
}

/** An IPv4 peer on the Internet (not one on our LAN) while this host is behind an IPv4 NAT. */
function acrossIpv4Nat(target: DialTarget): boolean {
  const c = classify(target.host);
  return c?.family === 4 && c.kind === 'global' && behindIpv4Nat();
}

function addressKey(t: DialTarget): string {
  return formatHostPort(canonicalIp(t.host) ?? t.host, t.port);
}

/** Why neither transport reached the address; a refused TCP connection stays recognisable (the peer left). */
function bothFailed(tcp: Error, utp: Error): Error {
  return Object.assign(new Error(`${tcp.message} (TCP); ${utp.message} (uTP)`), { code: (tcp as NodeJS.ErrnoException).code });
}
