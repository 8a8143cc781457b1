/**
 * A multicast group as the engine sees it: joined on every LAN interface of one family, datagrams
 * sent out of each of them, and datagrams from hosts on those LANs handed up. Local service
 * discovery (BEP 14, src/lsd/) is its one user. A network may lack it (a memory network, a
 * tunnel relaying streams): then whatever needs it is off.
 */
import type { Family } from '../net/address.js';
import type { DatagramSource } from './datagram.js';

export interface MulticastGroup {
  address: string;
  port: number;
}

/** An interface the group is joined on, and the address it sends from (IPv6: the kernel's choice, shown as its first address). */
export interface GroupInterface {
  name: string;
  address: string;
}

/** What one send did: how many interfaces it left through, and each failure as "IFNAME: why". */
export interface MulticastSent {
  sent: number;
  failed: string[];
}

export interface MulticastChannel {
  readonly family: Family;
  /** The interfaces joined, as of the last look. */
  interfaces(): GroupInterface[];
  /**
   * Look at the interfaces again (a laptop changes networks): join the new ones, leave the gone
   * ones. Resolves to the names joined anew.
   */
  refresh(): Promise<string[]>;
  /** One datagram to the group out of every joined interface, never looped back to this host. */
  send(b: Buffer): Promise<MulticastSent>;
  /** Datagrams to the group from hosts on a joined interface's network; everyone else's are dropped unseen. */
  onMessage(handler: (b: Buffer, from: DatagramSource) => void): void;
  /** Leaves the group and closes the sockets. Safe to call twice. */
  close(): Promise<void>;
}
