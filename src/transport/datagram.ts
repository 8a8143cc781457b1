/**
 * UDP as the engine sees it. One socket per family on our port carries several protocols, told
 * apart by their first bytes as Transmission's tr-udp.cc and libtorrent's on_udp_packet do: a uTP
 * header (version 1, a type 0-4, at least 20 bytes) goes to uTP when it is running, everything
 * else to KRPC, whose decoder counts and drops what is not a dictionary. UDP trackers get a flow
 * of their own per endpoint (a connected socket: the kernel filters strangers out and reports
 * "port unreachable" at once), so their replies never need telling apart here.
 */
import type { Family } from '../net/address.js';

export type DatagramKind = 'krpc' | 'utp';

export interface DatagramSource {
  host: string;
  port: number;
}

/**
 * One datagram. `transient`: `b` and `from` are overwritten once the handler returns (a batch
 * read into one buffer); only handlers that asked for them (`receive(..., { transient: true })`)
 * get such; the others get copies.
 */
export type DatagramHandler = (b: Buffer, from: DatagramSource, transient: boolean) => void;

/** The shared UDP socket of one family. */
export interface DatagramChannel {
  readonly family: Family;
  /** Where it is bound. */
  address(): DatagramSource;
  /** Send one datagram; a bad address or port may throw at once, a send failure comes to `done`. */
  send(b: Buffer, port: number, host: string, done?: (err: Error | null) => void): void;
  /**
   * Where the channel can: send datagrams 0..count-1 (the first lengths[i] bytes of packets[i])
   * to one endpoint now, in as few system calls as the system allows (sendmmsg, UDP GSO).
   * Returns how many it took; their buffers may change at once. The caller send()s the rest.
   */
  readonly sendMany?: (packets: readonly Buffer[], lengths: Uint32Array, count: number, port: number, host: string) => number;
  /**
   * Where the channel can: send one datagram (the first `length` bytes) now with "don't
   * fragment" set whatever the kernel knows of the path, so that one too big for it is lost
   * rather than fragmented (a path MTU probe). False when it could not go (too big for the
   * interface, or the send buffer is full): the caller sends it the ordinary way.
   */
  readonly sendProbe?: (packet: Buffer, length: number, port: number, host: string) => boolean;
  /**
   * Datagrams of one kind go to `handler` from now on (one handler per kind); returns the undo.
   * `transient`: the handler copies what it keeps, so it may be given the channel's own buffers.
   */
  receive(kind: DatagramKind, handler: DatagramHandler, opts?: { transient?: boolean }): () => void;
  /** Socket errors that do not belong to one send (ICMP reports on some systems). */
  onError(handler: (e: Error) => void): void;
}

/** Datagrams to and from one endpoint only. */
export interface DatagramFlow {
  send(b: Buffer, done?: (err: Error | null) => void): void;
  onMessage(handler: (b: Buffer) => void): void;
  /** The endpoint is unreachable (ICMP), or the socket failed. */
  onError(handler: (e: Error) => void): void;
  close(): void;
}

/** Which protocol a datagram on the shared socket belongs to; uTP only while something receives it. */
export function datagramKind(b: Buffer, utpRunning: boolean): DatagramKind {
  if (utpRunning && b.length >= 20 && (b[0]! & 0x0f) === 1 && b[0]! >> 4 <= 4) return 'utp';
  return 'krpc';
}

/** The routing half of a DatagramChannel: who takes which kind (a kind nobody takes is dropped). */
export class DatagramRoutes {
  private readonly handlers = new Map<DatagramKind, { handler: DatagramHandler; transient: boolean }>();

  set(kind: DatagramKind, handler: DatagramHandler, opts?: { transient?: boolean }): () => void {
    if (this.handlers.has(kind)) throw new Error(`${kind} datagrams already have a receiver on this socket`);
    const entry = { handler, transient: opts?.transient ?? false };
    this.handlers.set(kind, entry);
    return () => {
      if (this.handlers.get(kind) === entry) this.handlers.delete(kind);
    };
  }

  /** `transient`: `b` and `from` are the channel's, overwritten after this returns. */
  deliver(b: Buffer, from: DatagramSource, transient = false): void {
    const to = this.handlers.get(datagramKind(b, this.handlers.has('utp')));
    if (!to) return;
    if (!transient || to.transient) to.handler(b, from, transient);
    else to.handler(Buffer.from(b), { host: from.host, port: from.port }, false);
  }
}
