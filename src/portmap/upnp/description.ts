/**
 * An Internet Gateway Device's description (the XML at SSDP's LOCATION): which WAN connection
 * and IPv6 firewall services it offers and where their control URLs are. Fetched with hard
 * bounds (size, time, depth, element count); a control URL on another host than the one that
 * answered SSDP is refused, like such a LOCATION.
 */
import { PortMapError } from '../errors.js';
import { formatUrl, httpRequest, resolveUrl, type HttpUrl } from './http.js';
import { child, descendants, parseXml, XmlError } from './xml.js';

export const WAN_IP_CONNECTION_2 = 'urn:schemas-upnp-org:service:WANIPConnection:2';
export const WAN_IP_CONNECTION_1 = 'urn:schemas-upnp-org:service:WANIPConnection:1';
export const WAN_PPP_CONNECTION_1 = 'urn:schemas-upnp-org:service:WANPPPConnection:1';
export const WAN_IPV6_FIREWALL_CONTROL_1 = 'urn:schemas-upnp-org:service:WANIPv6FirewallControl:1';

/** The services we use, best first for IPv4 port mapping. */
const WANTED = [WAN_IP_CONNECTION_2, WAN_IP_CONNECTION_1, WAN_PPP_CONNECTION_1, WAN_IPV6_FIREWALL_CONTROL_1];

/**
 * Real descriptions run 3-30 KiB (miniupnpd's is 4); 128 KiB leaves room and bounds a hostile
 * one. 5 s for the whole fetch (a gateway on the LAN answers in milliseconds).
 */
export const DESCRIPTION_LIMITS = { maxBytes: 128 * 1024, timeoutMs: 5000, maxDepth: 32, maxElements: 4000, maxServices: 64 };

export interface IgdService {
  serviceType: string;
  controlUrl: HttpUrl;
}

export interface IgdDescription {
  location: HttpUrl;
  friendlyName: string;
  /** Wanted services only, in WANTED order, each with a control URL on the responder. */
  services: IgdService[];
  /** Services skipped, and why (another host's control URL). */
  refused: string[];
}

export function parseDescription(xml: string, location: HttpUrl): IgdDescription {
  let doc;
  try {
    doc = parseXml(xml, DESCRIPTION_LIMITS);
  } catch (e) {
    throw new PortMapError('upnp', 'bad-reply', `device description at ${formatUrl(location)}: ${e instanceof XmlError ? e.message : String(e)}`);
  }
  // URLBase (UPnP 1.0) replaces LOCATION as the base of relative URLs.
  let base = location;
  const urlBase = child(doc, 'URLBase')?.text;
  const refused: string[] = [];
  if (urlBase) {
    try {
      base = resolveUrl(location, urlBase);
    } catch (e) {
      refused.push(`URLBase: ${(e as Error).message}`);
    }
  }
  const device = child(doc, 'device');
  const friendlyName = (device && child(device, 'friendlyName')?.text) || '';
  const found: IgdService[] = [];
  for (const s of descendants(doc, 'service').slice(0, DESCRIPTION_LIMITS.maxServices)) {
    const serviceType = child(s, 'serviceType')?.text ?? '';
    const control = child(s, 'controlURL')?.text ?? '';
    if (!WANTED.includes(serviceType) || !control) continue;
    let controlUrl: HttpUrl;
    try {
      controlUrl = resolveUrl(base, control);
    } catch (e) {
      refused.push(`${serviceType}: ${(e as Error).message}`);
      continue;
    }
    if (controlUrl.host !== location.host) {
      refused.push(`${serviceType}: control URL ${formatUrl(controlUrl)} is on another host than the gateway ${location.host}: refused`);
      continue;
    }
    found.push({ serviceType, controlUrl });
  }
  found.sort((a, b) => WANTED.indexOf(a.serviceType) - WANTED.indexOf(b.serviceType));
  return { location, friendlyName: friendlyName.slice(0, 100), services: found, refused };
}

export async function fetchDescription(location: HttpUrl, o: { localAddress?: string; zone?: string; signal?: AbortSignal }): Promise<IgdDescription> {
  const res = await httpRequest({
    url: location,
    method: 'GET',
    timeoutMs: DESCRIPTION_LIMITS.timeoutMs,
    maxBytes: DESCRIPTION_LIMITS.maxBytes,
    ...o,
  });
  if (res.status !== 200) throw new PortMapError('upnp', 'bad-reply', `device description at ${formatUrl(location)}: HTTP ${res.status}`);
  return parseDescription(res.body, location);
}
