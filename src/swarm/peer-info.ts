/**
 * A connected peer as the swarm reports it: a snapshot for status, the UI and PEX, so none of
 * them reaches into connections, wires or the transfer.
 */
import type { Family } from '../net/address.js';
import type { PeerSource } from './peer-pool.js';
import type { TransportKind } from '../transport/transport.js';

export interface PeerInfo {
  /** Its peer id, hex. */
  id: string;
  /** host:port as connected ([v6]:port). */
  label: string;
  host: string;
  family: Family;
  /** The port of this connection at its end (its listening port only if we dialed it). */
  remotePort: number;
  /** The port it listens on, from its BEP 10 handshake. */
  listenPort?: number;
  /** Our address on this connection (a tunnel's address tells tunneled peers apart). */
  localHost: string;
  direction: 'in' | 'out';
  source: PeerSource;
  /** The connection was opened by a BEP 55 holepunch. */
  holepunched: boolean;
  client: string;
  encrypted: boolean;
  /** It speaks MSE (PEX flag 0x01). */
  prefersEncryption: boolean;
  /** What carries the connection: TCP or uTP. */
  transport: TransportKind;
  /** It speaks uTP (PEX flag 0x04): connected over it, or its source said so. */
  speaksUtp: boolean;
  /** It offered ut_holepunch in its BEP 10 handshake (PEX flag 0x08). */
  speaksHolepunch: boolean;
  /** Pieces it has (0 before the metadata). */
  pieces: number;
  seed: boolean;
  downRate: number;
  upRate: number;
  downloaded: number;
  uploaded: number;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
}
