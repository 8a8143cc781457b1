/** Peers from a tracker we will never hand to the engine: undialable, port 0, duplicates, ourselves. */
import { isDialable } from '../net/address.js';
import type { PeerAddress } from '../net/compact.js';

export function filterPeers(list: PeerAddress[], isSelf: (p: PeerAddress) => boolean): { kept: PeerAddress[]; dropped: number } {
  const seen = new Set<string>();
  const kept: PeerAddress[] = [];
  let dropped = 0;
  for (const p of list) {
    const id = `${p.host}|${p.port}`;
    // isDialable rejects unspecified, multicast, reserved and v4-mapped addresses.
    if (p.port === 0 || !isDialable(p.host) || seen.has(id) || isSelf(p)) {
      dropped++;
      continue;
    }
    seen.add(id);
    kept.push(p);
  }
  return { kept, dropped };
}
