/** What one announce sends and what it gets back, independent of HTTP or UDP. */
import type { PeerAddress } from '../net/compact.js';

export type AnnounceEventName = 'started' | 'completed' | 'stopped';

export interface AnnounceParams {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: AnnounceEventName;
  /** 32 random bits, the same on every family and every announce of one torrent. */
  key: number;
  numwant: number;
  /** Echo of the tracker's `tracker id` (HTTP only). */
  trackerId?: Buffer;
  /** Our own addresses of the other family (BEP 7 `ipv4=`/`ipv6=`; HTTP only, BEP 15 has no field for them). */
  ipv4?: string;
  ipv6?: string;
}

export interface AnnounceReply {
  /** Seconds. */
  interval?: number;
  minInterval?: number;
  trackerId?: Buffer;
  /** The tracker's `warning message` and any part of the reply we had to ignore. */
  warnings: string[];
  complete?: number;
  incomplete?: number;
  peers4: PeerAddress[];
  peers6: PeerAddress[];
  /** Entries thrown away while parsing (beyond the per-reply cap, partial entries). */
  dropped: number;
}

export interface ScrapeEntry {
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** Limits every reply is held to. */
export const LIMITS = {
  /** HTTP reply body; the connection is dropped beyond it. */
  maxHttpBody: 2 * 1024 * 1024,
  /** Peers kept from one list of one reply (the rest are counted as dropped). */
  maxPeersPerList: 1000,
  /** Longest interval we accept from a tracker, seconds. */
  maxIntervalSec: 2 * 60 * 60,
  /** Tracker text shown to users (failure reason, warning, UDP error message), in characters. */
  maxMessageChars: 300,
} as const;

/** One announce attempt, as the engine (and `--json`) sees it. */
export interface AnnounceEvent {
  tracker: string;
  family: 4 | 6;
  event?: AnnounceEventName;
  /** Peers received in `peers` / `peers6` (or the UDP list), before filtering. */
  peers4: number;
  peers6: number;
  /** Entries thrown away: malformed, beyond the cap, undialable, port 0, duplicates, ourselves. */
  dropped: number;
  nextAnnounceInMs?: number;
  error?: string;
  warning?: string;
}
