/** What a swarm reports: its part of the engine's event stream (see src/client/status.ts). */
import type { Family } from '../net/address.js';
import type { PeerSourceKind } from './peer-pool.js';

export type SwarmEvent =
  | { event: 'peer-connected'; address: string; family: Family; client: string; direction: 'in' | 'out'; source: PeerSourceKind; encrypted: boolean }
  | { event: 'peer-disconnected'; address: string; family: Family; reason: string }
  /** A dial that gave no connection: refused, timed out, or closed during the handshake. */
  /** A dial gave no connection; `gone`: nothing listens there any more (a stale address, not counted as unreachable). */
  | { event: 'peer-unreachable'; address: string; source: PeerSourceKind; reason: string; gone?: boolean }
  | { event: 'piece-verified'; index: number }
  | { event: 'piece-failed'; index: number; peers: string[] }
  | { event: 'peer-banned'; ip: string }
  | { event: 'complete' }
  | { event: 'warning'; message: string }
  | { event: 'error'; message: string };
