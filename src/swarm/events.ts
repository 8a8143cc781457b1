/** What a swarm reports: its part of the engine's event stream (see src/client/status.ts). */
import type { Family } from '../net/address.js';
import type { PeerSourceKind } from './peer-pool.js';
import type { TransportKind } from '../transport/transport.js';
import type { FailureKind } from '../webseed/failure.js';

export type SwarmEvent =
  /** `v2`: the connection runs under the torrent's v2 info hash (BEP 52; named, or upgraded to from a hybrid's v1 one). */
  | { event: 'peer-connected'; address: string; family: Family; client: string; direction: 'in' | 'out'; source: PeerSourceKind; encrypted: boolean; transport: TransportKind; v2?: true; holepunched?: true }
  | { event: 'peer-disconnected'; address: string; family: Family; reason: string }
  /** A dial that gave no connection: refused, timed out, or closed during the handshake. */
  /** A dial gave no connection; `gone`: nothing listens there any more (a stale address, not counted as unreachable). */
  | { event: 'peer-unreachable'; address: string; source: PeerSourceKind; reason: string; gone?: boolean }
  | { event: 'piece-verified'; index: number }
  | { event: 'piece-failed'; index: number; peers: string[] }
  /** BEP 52: a failed piece's true block hashes came; `peers` sent its bad `blocks` (the others are cleared). */
  | { event: 'piece-blamed'; index: number; peers: string[]; blocks: number[] }
  | { event: 'peer-banned'; ip: string }
  /**
   * A web seed failed, said once per kind of failure (per file, for a file's): what happens now
   * is `action`: retried in `retryIn` seconds, the file's pieces left to other sources, the seed
   * no longer used this session, or banned for serving bad data.
   */
  | { event: 'web-seed-failed'; url: string; kind: FailureKind | 'hash'; reason: string; action: 'retry' | 'file-dropped' | 'dropped' | 'banned'; retryIn?: number }
  /**
   * BEP 55: as initiator we `asked` relay `via` to introduce us to `peer`; as relay we `relayed`
   * a rendezvous between `via` (the asker) and `peer`; as target or initiator we are `dialing`
   * `peer` over uTP because `via` said so; or a step `failed` (`reason`).
   */
  | { event: 'holepunch'; role: 'initiator' | 'relay' | 'target'; step: 'asked' | 'relayed' | 'dialing' | 'failed'; peer: string; via: string; reason?: string }
  | { event: 'complete' }
  | { event: 'warning'; message: string }
  | { event: 'error'; message: string };
