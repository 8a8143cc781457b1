/**
 * What the engine needs from a network, and nothing more: streams to and from peers, a byte
 * stream for protocols above the wire (HTTP trackers), the UDP socket of each family on our port
 * (shared by the DHT and uTP: datagrams are routed by their first bytes), and datagram
 * flows to one endpoint (UDP trackers), and where it has them, multicast groups on the LAN (local
 * service discovery; multicast.ts). The kernel's sockets are one implementation
 * (kernel/kernel-network.ts); a tunnel relaying streams, or uTP, are others. Nothing above this
 * file knows which one it runs on.
 */
import type { Duplex } from 'node:stream';
import type { Family } from '../net/address.js';
import type { DatagramChannel, DatagramFlow } from './datagram.js';
import type { MulticastChannel, MulticastGroup } from './multicast.js';
import type { Transport, TransportKind } from './transport.js';

export interface DialTarget {
  host: string;
  port: number;
}

/** What a dial may use, and what is known of the peer. */
export interface TransportChoice {
  /**
   * The transport the peer is known to speak (PEX flag 0x04, it reached us over it): a network
   * that speaks several tries it first. A network that speaks one ignores it.
   */
  prefer?: TransportKind;
  /** Only this transport (a holepunched peer: uTP). A network that does not speak it rejects the dial. */
  only?: TransportKind;
}

/** One attempt at one address. */
export interface DialOneOptions extends TransportChoice {
  /** Abort the attempt: the promise rejects and nothing stays open. */
  signal: AbortSignal;
}

/** A network that speaks one transport refuses a dial asked to use only another. */
export function checkOnly(speaks: TransportKind, opts: TransportChoice): void {
  if (opts.only && opts.only !== speaks) throw new Error(`this network does not speak ${opts.only === 'utp' ? 'uTP' : 'TCP'} (see --transports)`);
}

export interface ListenOptions {
  port: number;
  ipv4: boolean;
  ipv6: boolean;
  /** Bind addresses; default the wildcards 0.0.0.0 and ::. */
  host4?: string;
  host6?: string;
}

export interface Listening {
  family: Family;
  address: string;
  port: number;
}

/** What dialing peers needs of a network. */
export interface StreamDialer {
  /** A stream to one address, resolved once connected (Happy Eyeballs races these: happy-eyeballs.ts). */
  dial(target: DialTarget, opts: DialOneOptions): Promise<Transport>;
}

/** What trackers need of a network: HTTP connections and UDP flows. */
export type TrackerNetwork = Pick<Network, 'openStream' | 'openFlow'>;

export interface Network extends StreamDialer {
  /** The transports its peer streams run over (absent: TCP, the kernel's or relayed). */
  readonly transports?: readonly TransportKind[];
  /** Accept streams on one port for the families asked, each handed to `onStream`. Port 0 picks one free on both families. */
  listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]>;
  /** Where we listen (empty before listen()). */
  listening(): Listening[];
  /**
   * The UDP socket of a family on `port` (default: the listening port), bound on first use (on
   * `host` if given, else the listening address on the listening port, else the wildcard) and
   * shared by every protocol that asks for it; owned by the network and closed with it.
   */
  datagrams(family: Family, port?: number, host?: string): Promise<DatagramChannel>;
  /**
   * A multicast group joined on every LAN interface of a family (BEP 14 local service discovery).
   * Absent on a network that has no LAN (memory, a relay): then what needs it is off. The caller
   * closes it; the network closes what is left open with itself.
   */
  multicast?(family: Family, group: MulticastGroup): Promise<MulticastChannel>;
  /** Datagrams to and from one endpoint (a UDP tracker), told apart from everyone else's. */
  openFlow(family: Family, host: string, port: number): Promise<DatagramFlow>;
  /**
   * A plain byte stream to one address for HTTP (http.request's createConnection, web seeds):
   * returned at once, connecting; it emits 'connect' once connected (as a socket does), failures
   * come as 'error'.
   */
  openStream(target: DialTarget & { family: Family }): Duplex;
  /** Outgoing connections of a family leave from this address (the tunnel's), or from the kernel's choice when undefined. */
  setLocalAddress(family: Family, address: string | undefined): void;
  /** Stop listening and close the UDP sockets; streams already handed out are their owners' to close. */
  close(): Promise<void>;
}
