/**
 * Path MTU discovery for one connection, the way libtorrent's uTP does it: ordinary packets use
 * the largest size known to get through (the floor), and one packet at a time is sent as a probe
 * of the size halfway to the ceiling. A probe that is acknowledged raises the floor; one that is
 * lost lowers the ceiling. The search ends when the two are within 16 bytes, and starts again
 * every 30 minutes (paths change).
 *
 * Sizes are UDP payloads. The ceiling is an Ethernet path (1500 bytes less the IP and UDP
 * headers), as libtorrent assumes. The floor starts where libutp stays for good: IPv6
 * guarantees 1280-byte packets (RFC 8200), so 1232; for IPv4, 1400-byte packets (1372 bytes of
 * payload; libutp's 1402 allows for GRE, PPPoE and MPPE) get through the tunnels in common use
 * (PPPoE, DS-Lite, WireGuard). A path narrower than that which also drops the ICMP that would
 * tell the kernel (a PMTU black hole) loses the large packets; libutp has the same limit.
 */
import type { Family } from '../net/address.js';

const UDP_HEADER = 8;
const IP_HEADER: Record<Family, number> = { 4: 20, 6: 40 };
const ETHERNET_MTU = 1500;
/** Where the floor starts (UDP payload bytes). */
const START_FLOOR: Record<Family, number> = { 4: 1400 - 20 - UDP_HEADER, 6: 1280 - 40 - UDP_HEADER };
/** The search is over when floor and ceiling are this close. */
const DONE_WITHIN = 16;
const RESEARCH_MS = 30 * 60_000;

export class MtuSearch {
  /** The largest size known to get through: ordinary packets are this big. */
  floor: number;
  ceiling: number;
  /** The size of the probe in flight (0: none). */
  private probing = 0;
  private searchAgainAt = 0;

  constructor(private readonly family: Family) {
    this.ceiling = ETHERNET_MTU - IP_HEADER[family] - UDP_HEADER;
    this.floor = START_FLOOR[family];
  }

  /** The size to probe with now, or 0 when no probe should go (one in flight, or the search is done). */
  probeSize(nowMs: number): number {
    if (this.probing !== 0) return 0;
    if (this.ceiling - this.floor <= DONE_WITHIN) {
      if (nowMs < this.searchAgainAt) return 0;
      this.ceiling = ETHERNET_MTU - IP_HEADER[this.family] - UDP_HEADER;
      if (this.ceiling - this.floor <= DONE_WITHIN) return 0;
    }
    return (this.floor + this.ceiling) >> 1;
  }

  /** A probe of `size` went out. */
  sent(size: number): void {
    this.probing = size;
  }

  /** The probe arrived: that size gets through. */
  acknowledged(nowMs: number): void {
    if (this.probing === 0) return;
    this.floor = Math.max(this.floor, this.probing);
    this.probing = 0;
    this.settle(nowMs);
  }

  /** The probe was lost: take it as too big (a loss by chance only slows the search down). */
  lost(nowMs: number): void {
    if (this.probing === 0) return;
    this.ceiling = Math.max(this.floor, this.probing - 1);
    this.probing = 0;
    this.settle(nowMs);
  }

  private settle(nowMs: number): void {
    if (this.ceiling - this.floor <= DONE_WITHIN) this.searchAgainAt = nowMs + RESEARCH_MS;
  }
}
