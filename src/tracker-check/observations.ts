/** What the probe script saw, kept raw so that the checks can judge it without touching the network. */
import type { Family } from '../net/address.js';
import type { TrackerError } from '../tracker/errors.js';
import { toTrackerError } from '../tracker/errors.js';
import type { AnnounceReply, ScrapeEntry } from '../tracker/types.js';
import type { TrackerUrl } from '../tracker/url.js';
import type { Bep34Entry, Bep34Lookup } from '../tracker/bep34.js';
import type { Elsewhere } from './udp-probe.js';

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

/** A scrape's entry for the hash asked about, and the reply as it came (HTTP body or UDP packet). */
export interface Scraped {
  entry: ScrapeEntry | undefined;
  raw: Buffer;
}

/** A reply to a request a tracker should refuse. UDP: undefined packet = no reply in time (`instead`: what came). */
export type OddReply = { kind: 'http'; status: number; body: Buffer } | { kind: 'udp'; packet: Buffer | undefined; instead?: string };

/**
 * The check's throwaway peers, per address: `seed` and `leech` see each other (and the other
 * family's); `own-address` carries our own address of the other family (ipv6= / ipv4=);
 * `link-local` carries a link-local one; `retransmit` is announced twice with one transaction
 * id (UDP); `observer` comes after every other peer was stopped and looks for leftovers.
 */
export type Role = 'seed' | 'own-address' | 'link-local' | 'retransmit' | 'leech' | 'observer';

export interface PeerRecord {
  role: Role;
  family: Family;
  /** Index of the lane (address) it was announced to. */
  lane: number;
  port: number;
  peerId: Buffer;
  key: number;
  left: number;
  /** The BEP 7 address of the other family sent with it. */
  claimed?: string;
  started?: Outcome<Announced>;
  stopped?: Outcome<Announced>;
}

/** The steps of the script, in order; a check is judged only when the step it reads was completed. */
export const STEPS = ['resolve', 'seed', 'retransmit', 'claims', 'leech', 'scrape', 'odd', 'stop', 'observe'] as const;
export type Step = (typeof STEPS)[number];

/** One column: one address of one family (or a family nothing was sent over, with the reason). */
export interface Lane {
  family: Family;
  /** This family was not tried: n/a (the URL is a literal of the other family) or skipped (--family). */
  notTried?: { verdict: 'n/a' | 'skipped'; reason: string };
  /** The family's lookup (shared by its lanes); undefined when the URL holds an IP literal. */
  dns?: Outcome<string[]>;
  /** The address the probes went to; undefined when there is none. */
  address?: string;
  /** Some reply, of any kind, came back from this address. */
  reached: boolean;
  peers: Partial<Record<Role, PeerRecord>>;
  scrape?: Outcome<Scraped>;
  unknownHash?: Outcome<Scraped>;
  malformed?: Outcome<OddReply>;
  connectionId?: Outcome<OddReply>;
  /** The two replies to one announce packet sent twice (UDP). */
  retransmit?: Outcome<[Buffer | undefined, Buffer | undefined]>;
  /** UDP replies (right transaction id) that came from another address or port than the one asked. */
  elsewhere: Elsewhere[];
}

/** The name's BEP 34 records, and what each port they list (other than the URL's own) answered. */
export interface Bep34Seen {
  lookup: Bep34Lookup;
  probes: { entry: Bep34Entry; address: string; outcome: Outcome<string> }[];
}

export interface Observations {
  url: TrackerUrl;
  infoHash: Buffer;
  /** Why there is no scrape, or undefined when there is one. */
  noScrape?: string;
  /** Our own global addresses (the only ones ever sent as ipv4= / ipv6=). */
  own: Partial<Record<Family, string>>;
  timeoutMs: number;
  lanes: Lane[];
  /** Every address the name resolved to, per family (the literal for an IP URL). */
  resolved: Record<Family, string[]>;
  /** The name's BEP 34 TXT records, and what the ports they name answered; undefined for a literal. */
  bep34?: Outcome<Bep34Seen>;
  requests: number;
  /** Steps run to their end (a bound or an interrupt can stop the script between or inside steps). */
  completed: Set<Step>;
  /** Why the script stopped early. */
  cut?: string;
}
