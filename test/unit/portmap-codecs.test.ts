/**
 * The port-mapping wire formats and small pure pieces: PCP (RFC 6887) and NAT-PMP (RFC 6886)
 * messages byte by byte, the epoch rules, the routing-table readers and the CGNAT check.
 */
import { describe, expect, test } from 'vitest';
import { behindAnotherNat, verdictText } from '../../src/portmap/index.js';
import { EpochClock } from '../../src/portmap/epoch.js';
import { parseRoute4, parseRoute6 } from '../../src/portmap/gateway.js';
import * as natpmp from '../../src/portmap/natpmp/codec.js';
import * as pcp from '../../src/portmap/pcp/codec.js';

describe('PCP codec', () => {
  const nonce = Buffer.from('0102030405060708090a0b0c', 'hex');

  test('a MAP request for IPv4 is 60 bytes with the client address v4-mapped', () => {
    const b = pcp.encodeMapRequest({ lifetime: 7200, clientAddress: '192.168.1.10', nonce, protocol: 6, internalPort: 6881, suggestedExternalPort: 6881, suggestedExternalAddress: '0.0.0.0' });
    expect(b.length).toBe(60);
    expect(b.subarray(0, 8).toString('hex')).toBe('0201000000001c20');
    expect(b.subarray(8, 24).toString('hex')).toBe('00000000000000000000ffffc0a8010a');
    expect(b.subarray(24, 36)).toEqual(nonce);
    expect(b[36]).toBe(6);
    expect(b.readUInt16BE(40)).toBe(6881);
    expect(b.readUInt16BE(42)).toBe(6881);
    expect(b.subarray(44, 60).toString('hex')).toBe('00000000000000000000ffff00000000');
  });

  test('a MAP request for an IPv6 pinhole carries the address as is', () => {
    const b = pcp.encodeMapRequest({ lifetime: 0, clientAddress: '2001:db8:1::10', nonce, protocol: 17, internalPort: 6881, suggestedExternalPort: 0, suggestedExternalAddress: '::' });
    expect(b.subarray(8, 24).toString('hex')).toBe('20010db8000100000000000000000010');
    expect(b.readUInt32BE(4)).toBe(0);
    expect(b.subarray(44, 60).every((x) => x === 0)).toBe(true);
  });

  test('an ANNOUNCE request is the 24-byte header alone', () => {
    expect(pcp.encodeAnnounceRequest('192.168.1.10').toString('hex')).toBe('020000000000000000000000000000000000ffffc0a8010a');
  });

  function mapResponse(o: { result?: number; lifetime?: number; epoch?: number; port?: number; addr?: string; len?: number } = {}): Buffer {
    const b = Buffer.alloc(o.len ?? 60);
    b[0] = 2;
    b[1] = 0x81;
    b[3] = o.result ?? 0;
    b.writeUInt32BE(o.lifetime ?? 3600, 4);
    b.writeUInt32BE(o.epoch ?? 100, 8);
    if (b.length >= 60) {
      nonce.copy(b, 24);
      b[36] = 6;
      b.writeUInt16BE(6881, 40);
      b.writeUInt16BE(o.port ?? 6881, 42);
      pcp.addressField(o.addr ?? '198.51.100.2').copy(b, 44);
    }
    return b;
  }

  test('decodes a MAP response', () => {
    const r = pcp.decodePcpResponse(mapResponse({ lifetime: 120, epoch: 7, port: 6882 }));
    expect(r).toMatchObject({ version: 2, opcode: 1, resultCode: 0, lifetime: 120, epoch: 7, map: { protocol: 6, internalPort: 6881, externalPort: 6882, externalAddress: '198.51.100.2' } });
    expect(r.map!.nonce).toEqual(nonce);
  });

  test('refuses truncated, oversized, unaligned and request-shaped datagrams', () => {
    expect(() => pcp.decodePcpResponse(Buffer.alloc(1))).toThrow(/no PCP response/);
    expect(() => pcp.decodePcpResponse(mapResponse().subarray(0, 20))).toThrow(/at least 24 bytes/);
    expect(() => pcp.decodePcpResponse(mapResponse({ len: 1104 }))).toThrow(/at most 1100/);
    expect(() => pcp.decodePcpResponse(Buffer.concat([mapResponse(), Buffer.alloc(2)]))).toThrow(/multiple of 4/);
    const req = mapResponse();
    req[1] = 1;
    expect(() => pcp.decodePcpResponse(req)).toThrow(/R bit clear/);
    expect(() => pcp.decodePcpResponse(mapResponse({ len: 40 }))).toThrow(/successful MAP response of 40 bytes/);
  });

  test('an error MAP reply without a body still decodes (its code and lifetime are what matter)', () => {
    expect(pcp.decodePcpResponse(mapResponse({ result: 8, lifetime: 30, len: 24 }))).toMatchObject({ resultCode: 8, lifetime: 30 });
  });

  test("a NAT-PMP server's unsupported-version reply comes back as version 0", () => {
    const b = Buffer.from('0081000100000064', 'hex');
    expect(pcp.decodePcpResponse(b)).toMatchObject({ version: 0, opcode: 1, resultCode: 1, epoch: 100 });
  });

  test('every result code has a reason', () => {
    expect(pcp.pcpResultText(2)).toMatch(/NOT_AUTHORIZED/);
    expect(pcp.pcpResultText(12)).toMatch(/ADDRESS_MISMATCH/);
    expect(pcp.pcpResultText(99)).toBe('unknown result code 99');
  });
});

describe('NAT-PMP codec', () => {
  test('requests', () => {
    expect(natpmp.encodeExternalAddressRequest().toString('hex')).toBe('0000');
    expect(natpmp.encodeMapRequest({ opcode: natpmp.OP_MAP_TCP, internalPort: 6881, suggestedExternalPort: 6881, lifetime: 7200 }).toString('hex')).toBe('000200001ae11ae100001c20');
    expect(natpmp.encodeMapRequest({ opcode: natpmp.OP_MAP_UDP, internalPort: 6881, suggestedExternalPort: 0, lifetime: 0 }).toString('hex')).toBe('000100001ae1000000000000');
  });

  test('replies', () => {
    expect(natpmp.decodeResponse(Buffer.from('008000000000002ac6336402', 'hex'))).toEqual({ opcode: 0, resultCode: 0, epoch: 42, externalAddress: '198.51.100.2' });
    expect(natpmp.decodeResponse(Buffer.from('0082000000000010' + '1ae11ae2' + '00000e10', 'hex'))).toEqual({ opcode: 2, resultCode: 0, epoch: 16, internalPort: 6881, externalPort: 6882, lifetime: 3600 });
    expect(natpmp.decodeResponse(Buffer.from('0082000200000010', 'hex'))).toEqual({ opcode: 2, resultCode: 2, epoch: 16 });
  });

  test('refuses what it cannot act on', () => {
    expect(() => natpmp.decodeResponse(Buffer.from('0080', 'hex'))).toThrow(/2-byte datagram/);
    expect(() => natpmp.decodeResponse(Buffer.from('0280000000000000', 'hex'))).toThrow(/version 2/);
    expect(() => natpmp.decodeResponse(Buffer.from('0002000000000000', 'hex'))).toThrow(/request, not a reply/);
    expect(() => natpmp.decodeResponse(Buffer.from('0082000000000010', 'hex'))).toThrow(/successful mapping reply of 8 bytes/);
    expect(() => natpmp.decodeResponse(Buffer.from('0080000000000010', 'hex'))).toThrow(/successful external-address reply of 8 bytes/);
    expect(() => natpmp.decodeResponse(Buffer.from('0085000000000010', 'hex'))).toThrow(/unknown opcode 5/);
    expect(natpmp.natpmpResultText(3)).toMatch(/Network Failure/);
  });
});

describe('epoch', () => {
  test('PCP: a server epoch that went back, or ran far from our clock, means lost state', () => {
    const c = new EpochClock('pcp');
    expect(c.observe(100, 0)).toBe(false);
    expect(c.observe(110, 10_000)).toBe(false);
    expect(c.observe(111, 10_500)).toBe(false); // within the 2 s slack
    expect(c.observe(5, 11_000)).toBe(true); // went back
    expect(c.observe(15, 21_000)).toBe(false);
    expect(c.observe(16, 121_000)).toBe(true); // 100 s passed here, 1 s there
    expect(c.observe(1000, 122_000)).toBe(true); // jumped ahead
  });

  test('NAT-PMP: below the previous epoch plus 7/8 of our elapsed time, less 2 s', () => {
    const c = new EpochClock('natpmp');
    expect(c.observe(100, 0)).toBe(false);
    expect(c.observe(186, 100_000)).toBe(false); // expected >= 100 + 87.5 - 2 = 185.5
    expect(c.observe(200, 200_000)).toBe(true); // expected >= 186 + 87.5 - 2
    c.reset();
    expect(c.observe(0, 300_000)).toBe(false);
  });
});

describe('routing tables', () => {
  test('/proc/net/route: the default route with the lowest metric (little-endian hex)', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    ].join('\n');
    expect(parseRoute4(text, true)).toEqual({ family: 4, address: '192.168.0.1', ifname: 'eth0', target: '192.168.0.1', metric: 100 });
    expect(parseRoute4(text.replace('0100A8C0', '00000000').replace('0101A8C0', '00000000'), true)).toBeUndefined();
  });

  test('/proc/net/ipv6_route: a link-local next hop gets its interface as scope; reject routes do not count', () => {
    const z = '0'.repeat(32);
    const text = [
      `${z} 00 ${z} 00 ${z} ffffffff 00000001 00000000 00200200 lo`,
      `20010db8000100000000000000000000 40 ${z} 00 ${z} 00000100 00000001 00000000 00000001 eth0`,
      `${z} 00 ${z} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0`,
    ].join('\n');
    expect(parseRoute6(text)).toEqual({ family: 6, address: 'fe80::1', ifname: 'eth0', target: 'fe80::1%eth0', metric: 1024 });
    expect(parseRoute6(`${z} 00 ${z} 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003 eth0`)).toMatchObject({ target: '2001:db8::1' });
  });
});

describe('verdicts', () => {
  test('CGNAT: an external address that is private or in 100.64/10', () => {
    expect(behindAnotherNat('100.64.1.2')).toMatch(/carrier-grade NAT/);
    expect(behindAnotherNat('10.0.0.2')).toMatch(/private: another NAT router/);
    expect(behindAnotherNat('192.168.0.2')).toMatch(/private/);
    expect(behindAnotherNat('8.8.8.8')).toBeUndefined();
    expect(behindAnotherNat('100.128.0.1')).toBeUndefined();
  });

  test('one line per verdict', () => {
    expect(verdictText(4, { state: 'mapped', protocol: 'pcp', gateway: '192.168.1.1', external: { address: '198.51.100.2', port: 6881 }, udp: { address: '198.51.100.2', port: 6881 }, leaseLeftSeconds: 3540 })).toBe('mapped by PCP: 198.51.100.2:6881 (TCP+UDP, 59 min left)');
    expect(verdictText(6, { state: 'pinholed', protocol: 'upnp', gateway: 'fe80::1', external: { address: '2001:db8::10', port: 6881 }, leaseLeftSeconds: null })).toBe('pinhole opened by UPnP: [2001:db8::10]:6881 (TCP, permanent)');
    expect(verdictText(4, { state: 'unreachable', reason: 'refused', detail: 'natpmp: the gateway refused' })).toBe('not reachable: natpmp: the gateway refused');
  });
});
