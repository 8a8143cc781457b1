/**
 * UPnP's pure parts: the bounded XML reader, http:// URLs (addresses only), SSDP replies (and the
 * same-host rule), device descriptions, SOAP envelopes and faults.
 */
import { describe, expect, test } from 'vitest';
import { parseDescription, WAN_IPV6_FIREWALL_CONTROL_1, WAN_IP_CONNECTION_1, WAN_IP_CONNECTION_2 } from '../../src/portmap/upnp/description.js';
import { formatUrl, parseHttpUrl, resolveUrl } from '../../src/portmap/upnp/http.js';
import { soapEnvelope } from '../../src/portmap/upnp/soap.js';
import { mSearch, parseSsdpReply } from '../../src/portmap/upnp/ssdp.js';
import { child, descendants, parseXml } from '../../src/portmap/upnp/xml.js';

const LIMITS = { maxDepth: 16, maxElements: 100 };

describe('XML', () => {
  test('names without prefixes, text with entities and CDATA, attributes and comments skipped', () => {
    const doc = parseXml('<?xml version="1.0"?><!-- hi --><s:Envelope xmlns:s="x"><s:Body a=">"><u:R><A>1 &lt; 2 &amp; &#x33;</A><B><![CDATA[<raw>&amp;]]></B><C/></u:R></s:Body></s:Envelope>', LIMITS);
    expect(doc.name).toBe('Envelope');
    const r = descendants(doc, 'R')[0]!;
    expect(child(r, 'A')!.text).toBe('1 < 2 & 3');
    expect(child(r, 'B')!.text).toBe('<raw>&amp;');
    expect(child(r, 'C')).toEqual({ name: 'C', text: '', children: [] });
  });

  test('malformed input is an error, not a guess', () => {
    expect(() => parseXml('<a><b></a>', LIMITS)).toThrow(/does not close/);
    expect(() => parseXml('<a>', LIMITS)).toThrow(/never closed/);
    expect(() => parseXml('<a></a><b></b>', LIMITS)).toThrow(/more than one root/);
    expect(() => parseXml('<a><!-- x', LIMITS)).toThrow(/unterminated comment/);
    expect(() => parseXml('just text', LIMITS)).toThrow(/no root element/);
  });

  test('depth, element count and DTDs are bounded', () => {
    expect(() => parseXml('<a>'.repeat(17) + '</a>'.repeat(17), LIMITS)).toThrow(/deeper than 16/);
    expect(() => parseXml(`<a>${'<b/>'.repeat(100)}</a>`, LIMITS)).toThrow(/more than 100 elements/);
    const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>';
    expect(() => parseXml(laughs, LIMITS)).toThrow(/internal subset/);
    // An unknown entity stays as written: nothing is expanded that was not declared by XML itself.
    expect(parseXml('<a>&lol2;</a>', LIMITS).text).toBe('&lol2;');
  });

  test('a 100 KiB hostile nesting is refused in milliseconds', () => {
    const t0 = performance.now();
    expect(() => parseXml('<a>'.repeat(30_000), { maxDepth: 32, maxElements: 4000 })).toThrow(/deeper than 32/);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('URLs', () => {
  test('only http://ADDRESS[:PORT]/PATH', () => {
    expect(parseHttpUrl('http://192.168.1.1:5000/rootDesc.xml')).toEqual({ host: '192.168.1.1', port: 5000, path: '/rootDesc.xml' });
    expect(parseHttpUrl('http://[2001:DB8:1::1]:5000/x?y=1')).toEqual({ host: '2001:db8:1::1', port: 5000, path: '/x?y=1' });
    expect(parseHttpUrl('http://10.0.0.1')).toEqual({ host: '10.0.0.1', port: 80, path: '/' });
    expect(() => parseHttpUrl('http://router.lan:5000/x')).toThrow(/by name, not by address/);
    expect(() => parseHttpUrl('https://10.0.0.1/x')).toThrow(/not an http/);
    expect(() => parseHttpUrl('http://10.0.0.1:99999/')).toThrow(/port 99999/);
    expect(() => parseHttpUrl('http://1.2.3/x')).toThrow(/no valid address/);
  });

  test('relative control URLs resolve against the description', () => {
    const base = parseHttpUrl('http://192.168.1.1:5000/dev/rootDesc.xml');
    expect(resolveUrl(base, '/ctl/IPConn')).toEqual({ host: '192.168.1.1', port: 5000, path: '/ctl/IPConn' });
    expect(resolveUrl(base, 'ctl/IPConn')).toEqual({ host: '192.168.1.1', port: 5000, path: '/dev/ctl/IPConn' });
    expect(resolveUrl(base, 'http://192.168.1.1:49000/upnp/control')).toEqual({ host: '192.168.1.1', port: 49000, path: '/upnp/control' });
    expect(formatUrl(parseHttpUrl('http://[fe80::1]:80/a'))).toBe('http://[fe80::1]/a');
  });
});

describe('SSDP', () => {
  const reply = (location: string) => Buffer.from(`HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:x::urn\r\nLOCATION: ${location}\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n\r\n`);

  test('M-SEARCH for each family', () => {
    expect(mSearch(4, 'ssdp:all').toString()).toBe('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 2\r\nST: ssdp:all\r\nUSER-AGENT: Linux UPnP/1.1 sixswarm\r\n\r\n');
    expect(mSearch(6, 'x').toString()).toContain('HOST: [FF02::C]:1900\r\n');
  });

  test('a reply naming the responder itself is taken', () => {
    expect(parseSsdpReply(reply('http://192.168.1.1:5000/rootDesc.xml'), '192.168.1.1')).toMatchObject({ from: '192.168.1.1', location: { host: '192.168.1.1', port: 5000 }, server: 'Debian/12 UPnP/1.1 MiniUPnPd/2.3.1' });
  });

  test('a reply pointing at another host, a hostname, or nothing, is refused with the reason', () => {
    expect(parseSsdpReply(reply('http://203.0.113.5/desc.xml'), '192.168.1.66')).toBe('SSDP reply from 192.168.1.66 points at another host (203.0.113.5): refused');
    expect(parseSsdpReply(reply('http://evil.example/desc.xml'), '192.168.1.66')).toMatch(/by name, not by address/);
    expect(parseSsdpReply(Buffer.from('HTTP/1.1 200 OK\r\nST: x\r\n\r\n'), '192.168.1.1')).toMatch(/without LOCATION/);
    expect(parseSsdpReply(Buffer.alloc(3000, 65), '192.168.1.1')).toMatch(/3000-byte SSDP reply/);
    expect(parseSsdpReply(Buffer.from('NOTIFY * HTTP/1.1\r\n\r\n'), '192.168.1.1')).toBeUndefined();
  });
});

describe('device description', () => {
  const location = parseHttpUrl('http://192.168.1.1:5000/rootDesc.xml');
  const desc = (services: string, base = '') => `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">${base}<device><friendlyName>Router</friendlyName><deviceList><device><deviceList><device><serviceList>${services}</serviceList></device></deviceList></device></deviceList></device></root>`;
  const svc = (type: string, url: string) => `<service><serviceType>${type}</serviceType><serviceId>x</serviceId><controlURL>${url}</controlURL></service>`;

  test('finds the WAN connection and IPv6 firewall services, best first', () => {
    const d = parseDescription(desc(svc(WAN_IP_CONNECTION_1, '/ctl/IPConn1') + svc('urn:schemas-upnp-org:service:Layer3Forwarding:1', '/L3F') + svc(WAN_IPV6_FIREWALL_CONTROL_1, '/ctl/IP6FCtl') + svc(WAN_IP_CONNECTION_2, '/ctl/IPConn')), location);
    expect(d.friendlyName).toBe('Router');
    expect(d.services.map((s) => [s.serviceType.split(':').slice(-2).join(':'), s.controlUrl.path])).toEqual([
      ['WANIPConnection:2', '/ctl/IPConn'],
      ['WANIPConnection:1', '/ctl/IPConn1'],
      ['WANIPv6FirewallControl:1', '/ctl/IP6FCtl'],
    ]);
  });

  test('a control URL (or URLBase) on another host is refused', () => {
    const d = parseDescription(desc(svc(WAN_IP_CONNECTION_1, 'http://203.0.113.9/ctl') + svc(WAN_IPV6_FIREWALL_CONTROL_1, '/ctl/IP6FCtl')), location);
    expect(d.services.map((s) => s.serviceType)).toEqual([WAN_IPV6_FIREWALL_CONTROL_1]);
    expect(d.refused[0]).toMatch(/control URL http:\/\/203\.0\.113\.9\/ctl is on another host than the gateway 192\.168\.1\.1: refused/);
    const viaBase = parseDescription(desc(svc(WAN_IP_CONNECTION_1, '/ctl'), '<URLBase>http://203.0.113.9:80/</URLBase>'), location);
    expect(viaBase.services).toEqual([]);
    expect(viaBase.refused[0]).toMatch(/on another host/);
  });

  test('malformed XML is a bad reply', () => {
    expect(() => parseDescription('<root><device>', location)).toThrow(/device description at http:\/\/192\.168\.1\.1:5000\/rootDesc\.xml: <device> is never closed/);
  });
});

test('SOAP envelope escapes arguments', () => {
  expect(soapEnvelope(WAN_IP_CONNECTION_1, 'AddPortMapping', [['NewPortMappingDescription', 'a<b&"c"'], ['NewExternalPort', 6881]])).toContain('<u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewPortMappingDescription>a&lt;b&amp;&quot;c&quot;</NewPortMappingDescription><NewExternalPort>6881</NewExternalPort></u:AddPortMapping>');
});
