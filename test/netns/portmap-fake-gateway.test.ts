/**
 * The whole PortMapper against small fake gateways in the natlab namespaces (no miniupnpd): a LAN
 * host answering SSDP with a LOCATION on another host, a description whose control URL is on
 * another host (that host must never hear from us), an old IGDv1 router that only takes permanent
 * leases, a PCP gateway that grants a CGNAT address,
 * one that grants nothing usable, and one that speaks NAT-PMP only and says so. Nothing that the
 * gateway did not grant is advertised.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { LAB, natlabUnavailable, useNatLab, type NatLab } from '../support/natlab.js';
import type { NsProcess } from '../support/netns.js';

const skip = natlabUnavailable({ miniupnpd: false });

/**
 * SSDP responder: answers every M-SEARCH with LOCATION argv[1]; serves argv[2] (a description)
 * over HTTP on :5000 when given, and answers SOAP there like an IGDv1 router that takes only
 * permanent leases (AddPortMapping with a lease: 725 OnlyPermanentLeasesSupported).
 */
const FAKE_IGD = String.raw`
const dgram = require('dgram'), http = require('http');
const [location, description] = process.argv.slice(1);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
s.on('message', (m, r) => {
  if (!m.toString().startsWith('M-SEARCH')) return;
  console.log('M-SEARCH from ' + r.address);
  s.send('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:fake\r\nLOCATION: ' + location + '\r\n\r\n', r.port, r.address);
});
s.bind(1900, () => { s.addMembership('239.255.255.250'); if (!description) console.log('ready'); });
const soap = (a, status, body) => { a.writeHead(status, { 'content-type': 'text/xml; charset="utf-8"' }); a.end('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' + body + '</s:Body></s:Envelope>'); };
if (description) http.createServer((q, a) => {
  console.log('HTTP ' + q.method + ' ' + q.url);
  if (q.method === 'GET') { a.writeHead(200, { 'content-type': 'text/xml' }); return a.end(description); }
  let body = ''; q.on('data', (d) => (body += d)); q.on('end', () => {
    const action = String(q.headers.soapaction).replace(/.*#|"/g, '');
    const lease = (/<NewLeaseDuration>(\d+)</.exec(body) || [])[1];
    console.log('SOAP ' + action + (lease ? ' lease=' + lease : ''));
    if (action === 'GetExternalIPAddress') return soap(a, 200, '<u:GetExternalIPAddressResponse xmlns:u="x"><NewExternalIPAddress>198.51.100.2</NewExternalIPAddress></u:GetExternalIPAddressResponse>');
    if (action === 'AddPortMapping' && lease !== '0') return soap(a, 500, '<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>725</errorCode><errorDescription>OnlyPermanentLeasesSupported</errorDescription></UPnPError></detail></s:Fault>');
    soap(a, 200, '<u:' + action + 'Response xmlns:u="x"/>');
  });
}).listen(5000, () => console.log('ready'));
`;

/** Logs every HTTP request it gets: the third party that must never hear from us. */
const VICTIM = String.raw`
require('http').createServer((q, a) => { console.log('VICTIM ' + q.method + ' ' + q.url); a.end(); }).listen(Number(process.argv[1]), () => console.log('ready'));
`;

/** A PCP / NAT-PMP gateway on 192.168.1.1:5351 whose MAP replies follow argv[1] (JSON). */
const FAKE_PCP = String.raw`
const o = JSON.parse(process.argv[1]);
const s = require('dgram').createSocket('udp4');
const t0 = Date.now();
s.on('message', (m, r) => {
  const epoch = Math.floor((Date.now() - t0) / 1000) + 1000;
  if (m[0] !== 2) {
    if (o.natpmp) {
      // A NAT-PMP gateway: external address, and mappings as asked.
      const b = Buffer.alloc(m[1] === 0 ? 12 : 16);
      b[1] = 128 + m[1]; b.writeUInt32BE(epoch, 4);
      if (m[1] === 0) Buffer.from(o.natpmp.split('.').map(Number)).copy(b, 8);
      else { m.copy(b, 8, 4, 6); m.copy(b, 10, 6, 8); m.copy(b, 12, 8, 12); }
      return s.send(b, r.port, r.address);
    }
    return;
  }
  if (o.natpmp) {
    // RFC 6887 section 9: a NAT-PMP server answers PCP with its "unsupported version".
    const b = Buffer.from([0, 128 + m[1], 0, 1, 0, 0, 0, 0]); b.writeUInt32BE(epoch, 4);
    return s.send(b, r.port, r.address);
  }
  const b = Buffer.alloc(m[1] === 1 ? 60 : 24);
  b[0] = 2; b[1] = 0x80 | m[1]; b.writeUInt32BE(epoch, 8);
  if (m[1] === 1) {
    b.writeUInt32BE(m.readUInt32BE(4) === 0 ? 0 : o.lifetime, 4);
    m.copy(b, 24, 24, 44);
    if (o.port !== undefined) b.writeUInt16BE(o.port, 42);
    Buffer.from([0,0,0,0,0,0,0,0,0,0,255,255, ...o.external.split('.').map(Number)]).copy(b, 44);
  }
  s.send(b, r.port, r.address);
});
s.bind(5351, '192.168.1.1', () => console.log('ready'));
`;

let lab: NatLab;
const procs: NsProcess[] = [];

async function run(ns: NatLab['router'], script: string, args: string[]): Promise<NsProcess> {
  const p = ns.spawn(process.execPath, ['-e', script, ...args]);
  procs.push(p);
  await p.waitForLine((l) => l === 'ready');
  return p;
}

describe.skipIf(skip)('PortMapper against fake gateways', () => {
  useNatLab((l) => (lab = l));
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop('SIGKILL');
  });

  test('an SSDP reply pointing at another host is refused; that host hears nothing', async () => {
    const victim = await run(lab.wan, VICTIM, ['8080']);
    const fake = await run(lab.lan2, FAKE_IGD, [`http://${LAB.wan4}:8080/rootDesc.xml`]);
    const { m, started } = await lab.startMapper({ port: 43001, protocols: ['upnp'], families: { 4: true, 6: false } });
    const v4 = (started.status as Record<string, Record<string, unknown>>)['4']!;
    expect(fake.lines.some((l) => l.startsWith('M-SEARCH'))).toBe(true);
    expect(v4).toMatchObject({ state: 'unreachable', reason: 'refused' });
    expect(String(v4.detail)).toContain(`SSDP reply from ${LAB.lan2_4} points at another host (${LAB.wan4}): refused`);
    expect((started.advertised as Record<string, unknown>)['4']).toBeNull();
    await m.stop();
    expect(victim.lines.filter((l) => l.startsWith('VICTIM'))).toEqual([]);
  });

  test("a description whose control URL is on another host is refused; that host hears nothing", async () => {
    const victim = await run(lab.wan, VICTIM, ['8081']);
    const description = `<?xml version="1.0"?><root><device><friendlyName>Fake</friendlyName><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>http://${LAB.wan4}:8081/ctl</controlURL></service></serviceList></device></root>`;
    const fake = await run(lab.lan2, FAKE_IGD, [`http://${LAB.lan2_4}:5000/rootDesc.xml`, description]);
    const { m, started } = await lab.startMapper({ port: 43002, protocols: ['upnp'], families: { 4: true, 6: false } });
    const v4 = (started.status as Record<string, Record<string, unknown>>)['4']!;
    expect(fake.lines).toContain('HTTP GET /rootDesc.xml');
    expect(v4).toMatchObject({ state: 'unreachable' });
    expect(String(v4.detail)).toContain(`control URL http://${LAB.wan4}:8081/ctl is on another host than the gateway ${LAB.lan2_4}: refused`);
    await m.stop();
    expect(victim.lines.filter((l) => l.startsWith('VICTIM'))).toEqual([]);
  });

  test('an IGDv1 router (WANPPPConnection:1, relative control URL) that takes only permanent leases: mapped permanently, deleted on stop', async () => {
    const description = `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>Old router</friendlyName><deviceList><device><deviceList><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>ctl/ppp</controlURL></service></serviceList></device></deviceList></device></deviceList></device></root>`;
    const fake = await run(lab.lan2, FAKE_IGD, [`http://${LAB.lan2_4}:5000/igd/desc.xml`, description]);
    const { m, status } = await lab.startMapper({ port: 43006, protocols: ['upnp'], families: { 4: true, 6: false }, lifetimeSeconds: 600 });
    expect(status['4']).toMatchObject({ state: 'mapped', protocol: 'upnp', external: { address: LAB.routerWan4, port: 43006 }, leaseLeftSeconds: null });
    expect(m.mappings().filter((e) => e.change === 'granted').map((e) => e.lifetimeSeconds)).toEqual([0, 0]);
    await m.stop();
    expect(fake.lines.filter((l) => l.startsWith('SOAP') || l.startsWith('HTTP POST'))).toEqual([
      'HTTP POST /igd/ctl/ppp',
      'SOAP GetExternalIPAddress',
      'HTTP POST /igd/ctl/ppp',
      'SOAP AddPortMapping lease=600',
      'HTTP POST /igd/ctl/ppp',
      'SOAP AddPortMapping lease=0',
      'HTTP POST /igd/ctl/ppp',
      'SOAP AddPortMapping lease=0',
      'HTTP POST /igd/ctl/ppp',
      'SOAP DeletePortMapping',
      'HTTP POST /igd/ctl/ppp',
      'SOAP DeletePortMapping',
    ]);
  });

  test('a PCP gateway that grants a CGNAT address: the verdict says so and nothing is advertised', async () => {
    await run(lab.router, FAKE_PCP, [JSON.stringify({ external: '100.64.12.34', lifetime: 600 })]);
    const { m, started } = await lab.startMapper({ port: 43003, protocols: ['pcp'], families: { 4: true, 6: false } });
    const v4 = (started.status as Record<string, Record<string, unknown>>)['4']!;
    expect(v4).toMatchObject({ state: 'cgnat', protocol: 'pcp', external: { address: '100.64.12.34', port: 43003 } });
    expect(String(v4.reason)).toMatch(/100\.64\.0\.0\/10: your provider's carrier-grade NAT/);
    expect((started.advertised as Record<string, unknown>)['4']).toBeNull();
    await m.stop();
  });

  test('a PCP gateway whose grants are unusable (lifetime 0, port 0): not reachable, nothing advertised', async () => {
    for (const [behaviour, why] of [
      [{ external: LAB.routerWan4, lifetime: 0 }, /lifetime of 0 s/],
      [{ external: LAB.routerWan4, lifetime: 600, port: 0 }, /external port 0/],
    ] as const) {
      const gw = await run(lab.router, FAKE_PCP, [JSON.stringify(behaviour)]);
      const { m, started } = await lab.startMapper({ port: 43004, protocols: ['pcp'], families: { 4: true, 6: false } });
      const v4 = (started.status as Record<string, Record<string, unknown>>)['4']!;
      expect(v4).toMatchObject({ state: 'unreachable', reason: 'refused', protocol: 'pcp' });
      expect(String(v4.detail)).toMatch(why);
      expect((started.advertised as Record<string, unknown>)['4']).toBeNull();
      expect(m.mappings().filter((e) => e.change === 'granted')).toEqual([]);
      await m.stop();
      await gw.stop('SIGKILL');
    }
  });

  test('a gateway that answers PCP with NAT-PMP\'s "unsupported version": NAT-PMP at once, without waiting out PCP', async () => {
    await run(lab.router, FAKE_PCP, [JSON.stringify({ natpmp: LAB.routerWan4 })]);
    const { m, started } = await lab.startMapper({ port: 43005, families: { 4: true, 6: false } });
    const v4 = (started.status as Record<string, Record<string, unknown>>)['4']!;
    expect(v4).toMatchObject({ state: 'mapped', protocol: 'natpmp', external: { address: LAB.routerWan4, port: 43005 } });
    // PCP's full schedule would be 3.75 s; the UPnP probe (no IGD here) is not waited for either.
    expect(started.ms as number).toBeLessThan(1500);
    expect(m.logs()).toMatch(/pcp: the gateway speaks NAT-PMP, not PCP/);
    await m.stop();
  });
});
