/** What the probe script saw, kept raw so that the checks can judge it without touching the network. */
import type { Family } from '../net/address.js';
import type { TrackerError } from '../tracker/errors.js';
import { toTrackerError } from '../tracker/errors.js';
import type { AnnounceReply, ScrapeEntry } from '../tracker/types.js';
import type { TrackerUrl } from '../tracker/url.js';

export type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; error: TrackerError; ms: number };

export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  const t0 = Date.now();
  try {
    const value = await fn();
    return { ok: true, value, ms: Date.now() - t0 };
  } catch (e) {
    return { ok: false, error: toTrackerError(e, what), ms: Date.now() - t0 };
  }
}

/** An announce reply, parsed and as it came (HTTP body or UDP packet). */
export interface Announced {
  reply: AnnounceReply;
  raw: Buffer;
}

/** A reply to a request a tracker should refuse. UDP: undefined packet = no reply in time. */
export type OddReply = { kind: 'http'; status: number; body: Buffer } | { kind: 'udp'; packet: Buffer | undefined };

/**
 * The check's throwaway peers, per family: `seed` and `leech` see each other (and the other
 * family's); `own-address` carries our own address of the other family (ipv6= / ipv4=);
 * `link-local` carries a link-local one; `retransmit` is announced twice with one transaction
 * id (UDP); `observer` comes after every other peer was stopped and looks for leftovers.
 */
export type Role = 'seed' | 'own-address' | 'link-local' | 'retransmit' | 'leech' | 'observer';

export interface PeerRecord {
  role: Role;
  family: Family;
  port: number;
  peerId: Buffer;
  key: number;
  left: number;
  /** The BEP 7 address of the other family sent with it. */
  claimed?: string;
  started?: Outcome<Announced>;
  stopped?: Outcome<Announced>;
}

export interface FamilyObservations {
  /** This family was not tried: n/a (the URL is a literal of the other family) or skipped (--family). */
  notTried?: { verdict: 'n/a' | 'skipped'; reason: string };
  /** Undefined when the URL holds an IP literal. */
  dns?: Outcome<string[]>;
  /** The address the probes went to. */
  address?: string;
  /** Some reply, of any kind, came back over this family. */
  reached: boolean;
  peers: Partial<Record<Role, PeerRecord>>;
  scrape?: Outcome<ScrapeEntry | undefined>;
  unknownHash?: Outcome<ScrapeEntry | undefined>;
  malformed?: Outcome<OddReply>;
  connectionId?: Outcome<OddReply>;
  /** The two replies to one announce packet sent twice (UDP). */
  retransmit?: Outcome<[Buffer | undefined, Buffer | undefined]>;
}

export interface Observations {
  url: TrackerUrl;
  infoHash: Buffer;
  /** Why there is no scrape, or undefined when there is one. */
  noScrape?: string;
  /** Our own global addresses (the only ones ever sent as ipv4= / ipv6=). */
  own: Partial<Record<Family, string>>;
  timeoutMs: number;
  families: Record<Family, FamilyObservations>;
  requests: number;
}
