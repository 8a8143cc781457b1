/**
 * What a peer wire reads from and writes to. Plain TCP implements it (src/net/tcp-transport.ts);
 * an encryption layer implements it by wrapping another transport, so nothing above this
 * interface knows a socket exists, or whether the bytes are encrypted but for `encrypted`.
 */
import type { PeerAddress } from '../net/compact.js';

/** What carries a peer connection: the kernel's TCP, or uTP (BEP 29) over our UDP socket. */
export type TransportKind = 'tcp' | 'utp';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['tcp', 'utp'];

export interface TransportHandlers {
  /**
   * Bytes in. A `transient` chunk is overwritten once this returns (a shared read buffer):
   * whatever must outlive the call is copied. A non-transient chunk may be kept as it is.
   */
  data(chunk: Buffer, transient: boolean): void;
  /** Everything queued so far has been handed to the kernel (upload backpressure lifts). */
  drain(): void;
  /** The connection ended; called once, with why, unless close() was called first. */
  close(reason: string): void;
}

export interface Transport {
  readonly remote: PeerAddress;
  /** What carries it (an encryption layer reports the kind of the transport it wraps). */
  readonly kind: TransportKind;
  /** Our own address on this connection (a tunnel's address tells tunneled peers apart). */
  readonly localHost: string;
  /** Whether the bytes on the wire are encrypted (reported, never acted on above). */
  readonly encrypted: boolean;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly queuedBytes: number;
  readonly closed: boolean;
  /**
   * Start delivering bytes. Bytes that arrived before are delivered first (bounded: a peer
   * that sends too much before anyone reads is closed).
   */
  start(handlers: TransportHandlers): void;
  /** Queue bytes; `done` runs once the transport no longer needs `b` (sent, or connection gone). */
  write(b: Buffer, done?: () => void): void;
  /** Hold writes for the rest of this tick so that they leave together (one writev). */
  cork(): void;
  /** Close now; no handler is called after this. */
  close(): void;
}
