/**
 * SOAP 1.1 actions as UPnP uses them: one envelope per call, the reply's out-arguments by name,
 * a fault's UPnPError code and description, the error codes of WANIPConnection (v1, v2) and
 * WANIPv6FirewallControl with what each means for a user.
 */
import { PortMapError } from '../errors.js';
import { formatUrl, httpRequest, type HttpUrl } from './http.js';
import { child, descendants, escapeXml, parseXml, XmlError } from './xml.js';

/** SOAP replies are a few hundred bytes; 16 KiB and 5 s bound a hostile one. */
export const SOAP_LIMITS = { maxBytes: 16 * 1024, timeoutMs: 5000, maxDepth: 16, maxElements: 200 };

const ERRORS: Record<number, string> = {
  401: 'Invalid Action: the gateway does not offer this action at this service',
  402: 'Invalid Args',
  501: 'Action Failed',
  606: 'Action not authorized: the gateway allows this only for the address that asks (or not at all)',
  701: 'PinholeSpaceExhausted: the gateway has no room for more pinholes',
  702: 'FirewallDisabled: the gateway has no IPv6 firewall (inbound IPv6 is open already)',
  703: 'InboundPinholeNotAllowed: the gateway does not allow inbound pinholes',
  704: 'NoSuchEntry: the pinhole is gone',
  705: 'ProtocolNotSupported',
  706: 'InternalPortWildcardingNotAllowed',
  707: 'ProtocolWildcardingNotAllowed',
  708: 'WildCardNotPermittedInSrcIP',
  709: 'NoTrafficReceived',
  713: 'SpecifiedArrayIndexInvalid',
  714: 'NoSuchEntryInArray: the mapping is gone',
  715: 'WildCardNotPermittedInSrcIP',
  716: 'WildCardNotPermittedInExtPort',
  718: 'ConflictInMappingEntry: the external port is mapped to another host',
  724: 'SamePortValuesRequired: the gateway maps only to the same internal port',
  725: 'OnlyPermanentLeasesSupported',
  726: 'RemoteHostOnlySupportsWildcard',
  727: 'ExternalPortOnlySupportsWildcard',
  728: 'NoPortMapsAvailable: the gateway has no free external port',
  729: 'ConflictWithOtherMechanisms: the port is used by another mechanism on the gateway',
  732: 'WildCardNotPermittedInIntPort',
};

export function upnpErrorText(code: number): string {
  return ERRORS[code] ?? `error ${code}`;
}

export interface SoapCall {
  controlUrl: HttpUrl;
  serviceType: string;
  action: string;
  args: ReadonlyArray<readonly [string, string | number]>;
  localAddress?: string;
  zone?: string;
  signal?: AbortSignal;
}

export function soapEnvelope(serviceType: string, action: string, args: SoapCall['args']): string {
  const inner = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  return (
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${serviceType}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`
  );
}

/** Runs one action; resolves with its out-arguments, rejects with PortMapError (`refused` with the UPnP code for a fault). */
export async function soapCall(c: SoapCall): Promise<Map<string, string>> {
  const res = await httpRequest({
    url: c.controlUrl,
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: `"${c.serviceType}#${c.action}"` },
    body: soapEnvelope(c.serviceType, c.action, c.args),
    timeoutMs: SOAP_LIMITS.timeoutMs,
    maxBytes: SOAP_LIMITS.maxBytes,
    ...(c.localAddress ? { localAddress: c.localAddress } : {}),
    ...(c.zone ? { zone: c.zone } : {}),
    ...(c.signal ? { signal: c.signal } : {}),
  });
  const where = `${c.action} at ${formatUrl(c.controlUrl)}`;
  let doc;
  try {
    doc = res.body.trim() ? parseXml(res.body, SOAP_LIMITS) : undefined;
  } catch (e) {
    if (res.status !== 200) throw new PortMapError('upnp', 'refused', `${where}: HTTP ${res.status}`);
    throw new PortMapError('upnp', 'bad-reply', `${where}: ${e instanceof XmlError ? e.message : String(e)}`);
  }
  if (res.status !== 200) {
    const err = doc && descendants(doc, 'UPnPError')[0];
    const code = Number(err && child(err, 'errorCode')?.text);
    if (Number.isInteger(code) && code > 0) {
      throw new PortMapError('upnp', 'refused', `${where}: the gateway refused: ${upnpErrorText(code)} (UPnP error ${code})`, { code });
    }
    throw new PortMapError('upnp', 'refused', `${where}: HTTP ${res.status}`);
  }
  const reply = doc && descendants(doc, `${c.action}Response`)[0];
  if (!reply) throw new PortMapError('upnp', 'bad-reply', `${where}: no ${c.action}Response in the reply`);
  return new Map(reply.children.map((e) => [e.name, e.text]));
}
