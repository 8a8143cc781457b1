/** One announce to one tracker over one address family, HTTP(S) or UDP, normalised to AnnounceReply. */
import type { Family } from '../net/address.js';
import type { TrackerNetwork } from '../transport/network.js';
import { httpAnnounce } from './http-announce.js';
import { resolveFor } from './resolve.js';
import type { AnnounceParams, AnnounceReply } from './types.js';
import type { UdpTrackerClient } from './udp-client.js';
import type { UdpAnnounceFields, UdpAnnounceReply } from './udp-protocol.js';
import type { TrackerUrl } from './url.js';

export interface AnnounceContext {
  family: Family;
  timeoutMs: number;
  udp: () => UdpTrackerClient;
  signal?: AbortSignal;
  ca?: string | Buffer;
  network?: TrackerNetwork;
}

export async function announceOnce(t: TrackerUrl, p: AnnounceParams, ctx: AnnounceContext): Promise<AnnounceReply> {
  const address = await resolveFor(t, ctx.family, ctx.timeoutMs, ctx.signal);
  if (t.protocol !== 'udp') {
    const { family, timeoutMs, signal, ca, network } = ctx;
    return httpAnnounce(t, p, { address, family, timeoutMs, ...(signal ? { signal } : {}), ...(ca ? { ca } : {}), ...(network ? { network } : {}) });
  }
  return fromUdpReply(await ctx.udp().announce(address, t.port, toUdpFields(p), ctx.signal), ctx.family);
}

/** The BEP 15 fields of an announce; the IP field stays 0 (the packet's source), BEP 7 addresses have no field. */
export function toUdpFields(p: AnnounceParams): UdpAnnounceFields {
  return {
    infoHash: p.infoHash,
    peerId: p.peerId,
    downloaded: p.downloaded,
    left: p.left,
    uploaded: p.uploaded,
    ...(p.event ? { event: p.event } : {}),
    ip: 0,
    key: p.key,
    numwant: p.numwant,
    port: p.port,
  };
}

/** A BEP 15 reply as an AnnounceReply: its peers are all of the family it came over. */
export function fromUdpReply(r: UdpAnnounceReply, family: Family): AnnounceReply {
  return {
    interval: r.interval,
    warnings: r.trailingBytes ? [`ignored ${r.trailingBytes} trailing bytes after the last whole peer entry`] : [],
    complete: r.seeders,
    incomplete: r.leechers,
    peers4: family === 4 ? r.peers : [],
    peers6: family === 6 ? r.peers : [],
    dropped: r.dropped,
  };
}
