/**
 * What incoming handshakes may cost us. A connection is taken only while its host (an IPv4
 * address or an IPv6 /64) is within its own rate and all hosts together within theirs; the
 * Diffie-Hellman work of an MSE handshake (0.25 ms of CPU for 96 bytes anyone can send) is done
 * only within a budget of its own. Whatever is over is closed at once, before it costs more:
 * a flood of bogus handshakes takes a bounded share of a core, and one host cannot use up what
 * the others need. When all hosts together are over, a host that has hardly connected lately
 * (twice in the last twenty seconds at most) still gets in from a small allowance of its own: a
 * flood from a few hundred busy hosts leaves room for the honest peer that dials once.
 */
import { hostKey } from '../net/address.js';
import { SourceLimiter } from '../net/source-limiter.js';
import { TokenBucket } from '../util/token-bucket.js';

export interface HandshakeBudgetLimits {
  /** New incoming connections per second (and burst) from one host. */
  perHostRate: number;
  perHostBurst: number;
  /** New incoming connections per second (and burst) from all hosts together. */
  totalRate: number;
  totalBurst: number;
  /** Diffie-Hellman computations per second (and burst) for incoming MSE handshakes. */
  dhRate: number;
  dhBurst: number;
  /** Connections (and key exchanges) per second, past the totals, for hosts that have hardly connected lately. */
  restedRate: number;
  /** Hosts whose rate is tracked at once. */
  maxHosts: number;
}

/** A host is rested while it connects no more than this (a bucket of 2, refilled every 10 s). */
const RESTED_RATE = 0.1;
const RESTED_BURST = 2;

export const HANDSHAKE_BUDGET: HandshakeBudgetLimits = {
  perHostRate: 5,
  perHostBurst: 20,
  totalRate: 300,
  totalBurst: 300,
  dhRate: 150,
  dhBurst: 150,
  restedRate: 50,
  maxHosts: 4096,
};

export interface RefusedHandshakes {
  /** Refused because their host was over its rate. */
  host: number;
  /** Refused because all hosts together were. */
  total: number;
  /** MSE attempts closed before the key exchange. */
  dh: number;
}

/** A connection let in, and whether its host was rested (for its key exchange). */
export interface Admission {
  rested: boolean;
}

export class HandshakeBudget {
  private readonly hosts: SourceLimiter;
  /** Which hosts have hardly connected lately. */
  private readonly recent: SourceLimiter;
  private readonly total: TokenBucket;
  private readonly dh: TokenBucket;
  private readonly restedConnections: TokenBucket;
  private readonly restedDh: TokenBucket;
  readonly refused: RefusedHandshakes = { host: 0, total: 0, dh: 0 };

  constructor(limits: HandshakeBudgetLimits = HANDSHAKE_BUDGET, now: () => number = () => performance.now()) {
    this.hosts = new SourceLimiter(limits.perHostRate, limits.perHostBurst, limits.maxHosts, now);
    this.recent = new SourceLimiter(RESTED_RATE, RESTED_BURST, limits.maxHosts, now);
    this.total = new TokenBucket(limits.totalRate, limits.totalBurst, now);
    this.dh = new TokenBucket(limits.dhRate, limits.dhBurst, now);
    this.restedConnections = new TokenBucket(limits.restedRate, limits.restedRate, now);
    this.restedDh = new TokenBucket(limits.restedRate, limits.restedRate, now);
  }

  /**
   * A connection from `ip` arrived: may it handshake? Undefined: no, close it. (Its host's rate
   * first: one host's flood does not use up the total.)
   */
  admit(ip: string): Admission | undefined {
    const host = hostKey(ip);
    if (!this.hosts.allow(host)) {
      this.refused.host++;
      return undefined;
    }
    const rested = this.recent.allow(host);
    if (this.total.take() || (rested && this.restedConnections.take())) return { rested };
    this.refused.total++;
    return undefined;
  }

  /** The MSE handshake of an admitted connection is about to do its Diffie-Hellman work: may it? */
  mayComputeDh(admission: Admission): boolean {
    if (this.dh.take() || (admission.rested && this.restedDh.take())) return true;
    this.refused.dh++;
    return false;
  }
}
