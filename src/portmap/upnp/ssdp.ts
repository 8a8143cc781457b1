/**
 * SSDP discovery of Internet Gateway Devices (UPnP Device Architecture 1.1 section 1.3):
 * M-SEARCH multicast to 239.255.255.250:1900 (IPv4) or [ff02::c]:1900 (IPv6, link-local scope,
 * sent out of the interface of our address), unicast replies naming the device description in
 * LOCATION.
 *
 * A reply whose LOCATION is on another host than the one that sent it is refused: any host on
 * the LAN can answer SSDP, and a gateway has no reason to send us elsewhere (an attacker would:
 * to a third party, or to a host that plays IGD). Replies are bounded in size and number.
 */
import { createSocket } from 'node:dgram';
import { canonicalIp, type Family } from '../../net/address.js';
import { parseHttpUrl, type HttpUrl } from './http.js';

export const SSDP_PORT = 1900;
export const SSDP_GROUP = { 4: '239.255.255.250', 6: 'ff02::c' } as const;

/** Root device types, IGDv2 first: both announce WANIPConnection; only v2 has WANIPv6FirewallControl. */
export const IGD_SEARCH_TARGETS = ['urn:schemas-upnp-org:device:InternetGatewayDevice:2', 'urn:schemas-upnp-org:device:InternetGatewayDevice:1'];

const MAX_REPLY_BYTES = 2048;
const MAX_REPLIES = 16;
/** After the preferred responder (our default gateway) answered, how long to wait for its other replies. */
const GRACE_MS = 250;

export interface SsdpReply {
  /** The responder's address (canonical). */
  from: string;
  location: HttpUrl;
  st: string;
  server: string;
}

export interface SsdpSearchOptions {
  family: Family;
  /** Our address: the search goes out of its interface and replies come back to it. */
  localAddress: string;
  /** The interface (IPv6: ff02::c needs one). */
  ifname?: string;
  timeoutMs: number;
  /**
   * Stop early once this host (the default gateway) has answered. Without it, shortly after the
   * first reply (an IPv6 gateway known by its link-local address answers from a global one).
   */
  preferFrom?: string;
  /** Repeats of the M-SEARCH burst (UDP may drop one), spaced evenly over the first half of the wait. */
  repeats?: number;
  /** Ends the search early (the mapper stopping). */
  signal?: AbortSignal;
}

export interface SsdpResult {
  replies: SsdpReply[];
  /** Replies we refused, and why (for the log and the verdict). */
  refused: string[];
}

export function mSearch(family: Family, st: string, mx = 2): Buffer {
  const host = family === 4 ? `${SSDP_GROUP[4]}:${SSDP_PORT}` : `[FF02::C]:${SSDP_PORT}`;
  return Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${host}\r\nMAN: "ssdp:discover"\r\nMX: ${mx}\r\nST: ${st}\r\nUSER-AGENT: Linux UPnP/1.1 sixswarm\r\n\r\n`);
}

/** Parses one reply; a string says why it is refused, undefined that it is not a search reply at all. */
export function parseSsdpReply(msg: Buffer, from: string): SsdpReply | string | undefined {
  if (msg.length > MAX_REPLY_BYTES) return `a ${msg.length}-byte SSDP reply from ${from} (over ${MAX_REPLY_BYTES})`;
  const lines = msg.toString('latin1').split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/i.test(lines[0] ?? '')) return undefined;
  const h = new Map<string, string>();
  for (const line of lines.slice(1, 40)) {
    const colon = line.indexOf(':');
    if (colon > 0) h.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const loc = h.get('location');
  if (!loc) return `an SSDP reply from ${from} without LOCATION`;
  let location: HttpUrl;
  try {
    location = parseHttpUrl(loc);
  } catch (e) {
    return `SSDP reply from ${from}: ${(e as Error).message}`;
  }
  const sender = canonicalIp(from)!;
  if (location.host !== sender) return `SSDP reply from ${sender} points at another host (${location.host}): refused`;
  return { from: sender, location, st: (h.get('st') ?? '').slice(0, 200), server: (h.get('server') ?? '').slice(0, 200) };
}

export function ssdpSearch(o: SsdpSearchOptions): Promise<SsdpResult> {
  return new Promise((resolve) => {
    const replies: SsdpReply[] = [];
    const refused: string[] = [];
    const socket = createSocket({ type: o.family === 4 ? 'udp4' : 'udp6' });
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      o.signal?.removeEventListener('abort', finish);
      socket.close();
      resolve({ replies, refused });
    };
    const preferred = o.preferFrom ? canonicalIp(o.preferFrom) : undefined;
    o.signal?.addEventListener('abort', finish, { once: true });
    socket.on('error', (e) => {
      refused.push(`SSDP socket: ${e.message}`);
      finish();
    });
    socket.on('message', (msg, rinfo) => {
      if (done || replies.length + refused.length >= MAX_REPLIES) return;
      const r = parseSsdpReply(msg, rinfo.address.replace(/%.*$/, ''));
      if (r === undefined) return;
      if (typeof r === 'string') {
        refused.push(r);
        return;
      }
      if (replies.some((x) => x.location.host === r.location.host && x.location.port === r.location.port && x.location.path === r.location.path)) return;
      replies.push(r);
      if (preferred ? r.from === preferred : replies.length === 1) timers.push(setTimeout(finish, GRACE_MS));
    });
    socket.bind({ address: o.localAddress, port: 0 }, () => {
      if (done) return;
      try {
        if (o.family === 4) socket.setMulticastInterface(o.localAddress);
        else if (o.ifname) socket.setMulticastInterface(`::%${o.ifname}`);
        socket.setMulticastTTL(2);
      } catch (e) {
        refused.push(`SSDP socket: ${(e as Error).message}`);
        return finish();
      }
      const group = o.family === 4 ? SSDP_GROUP[4] : o.ifname ? `${SSDP_GROUP[6]}%${o.ifname}` : SSDP_GROUP[6];
      const repeats = o.repeats ?? 2;
      for (let k = 0; k < repeats; k++) {
        timers.push(
          setTimeout(() => {
            if (done) return;
            for (const st of IGD_SEARCH_TARGETS) socket.send(mSearch(o.family, st), SSDP_PORT, group, () => {});
          }, (k * o.timeoutMs) / (2 * repeats)),
        );
      }
      timers.push(setTimeout(finish, o.timeoutMs));
    });
  });
}
