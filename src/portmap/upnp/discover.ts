/**
 * Finding the IGD to use: SSDP search, then the descriptions of the responders (our default
 * gateway's first, then the others), until one offers the service this family needs. Every
 * refusal (a reply pointing elsewhere, a description too big, no such service) is kept, so "no
 * IGD" can say what was seen.
 */
import type { Family } from '../../net/address.js';
import { PortMapError } from '../errors.js';
import { fetchDescription, type IgdDescription } from './description.js';
import { formatUrl } from './http.js';
import { ssdpSearch } from './ssdp.js';

/** At most this many descriptions are fetched per discovery (a LAN full of UPnP devices costs no more). */
const MAX_DESCRIPTIONS = 4;

export interface DiscoverOptions {
  family: Family;
  localAddress: string;
  ifname?: string;
  /** Our default gateway: its IGD is preferred and ends the search early. */
  gateway?: string;
  /** Whether a description qualifies (offers the needed service). */
  wants: (d: IgdDescription) => boolean;
  /** How long to wait for SSDP replies (UPnP allows MX = 2 s of random delay). */
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export async function discoverIgd(o: DiscoverOptions): Promise<IgdDescription> {
  const search = await ssdpSearch({
    family: o.family,
    localAddress: o.localAddress,
    timeoutMs: o.timeoutMs ?? 2500,
    ...(o.ifname ? { ifname: o.ifname } : {}),
    ...(o.gateway ? { preferFrom: o.gateway } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const notes = [...search.refused];
  for (const r of search.refused) o.log?.(`UPnP: ${r}`);
  const ordered = [...search.replies].sort((a, b) => Number(b.from === o.gateway) - Number(a.from === o.gateway));
  for (const reply of ordered.slice(0, MAX_DESCRIPTIONS)) {
    if (o.signal?.aborted) break;
    try {
      const d = await fetchDescription(reply.location, { localAddress: o.localAddress, ...(o.ifname ? { zone: o.ifname } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      for (const r of d.refused) {
        o.log?.(`UPnP: ${r}`);
        notes.push(r);
      }
      if (o.wants(d)) return d;
      notes.push(`${formatUrl(reply.location)} offers none of the services needed for IPv${o.family}`);
    } catch (e) {
      const why = (e as Error).message;
      o.log?.(`UPnP: ${why}`);
      notes.push(why);
    }
  }
  if (search.replies.length === 0 && notes.length === 0) throw new PortMapError('upnp', 'no-answer', `no UPnP gateway answered the SSDP search (IPv${o.family})`);
  throw new PortMapError('upnp', 'bad-reply', `no usable UPnP gateway: ${notes.slice(0, 4).join('; ')}`);
}
