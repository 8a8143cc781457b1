/**
 * Address classification (what may be announced or dialed), canonical text (RFC 5952), subnet
 * membership, and the compact 6/18-byte peer codecs with their length checks.
 */
import { ENV } from '../../src/util/environment.js';
import { describe, expect, it } from 'vitest';
import { bytesToIp, canonicalIp, classify, familyOf, ipToBytes, isDialable, isGlobalUnicast, subnetMatcher, unmapIp, type AddressKind } from '../../src/net/address.js';
import { CompactError, decodeCompactIp, decodeCompactPeers, encodeCompactPeer, encodeCompactPeers } from '../../src/net/compact.js';

describe('classify', () => {
  const cases: [string, AddressKind, 4 | 6][] = [
    // IPv6
    ['2a00:1450:4001:81b::200e', 'global', 6],
    ['2001:db8::1', 'global', 6], // documentation range: the test topologies' "Internet"
    ['2001:1::1', 'global', 6], // 2001:1::/32 is not Teredo
    ['3fff:ffff::1', 'global', 6],
    ['fe80::1', 'link-local', 6],
    ['fe80::1%eth0', 'link-local', 6],
    ['febf:ffff::1', 'link-local', 6],
    ['fc00::1', 'ula', 6],
    ['fd12:3456:789a::1', 'ula', 6],
    ['::1', 'loopback', 6],
    ['::', 'unspecified', 6],
    ['2001::1', 'teredo', 6],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo', 6],
    ['2002:c000:204::1', '6to4', 6],
    ['2002::', '6to4', 6],
    ['::ffff:192.0.2.1', 'v4-mapped', 6],
    ['::ffff:c000:201', 'v4-mapped', 6],
    ['ff02::1', 'multicast', 6],
    ['ff0e::1:3', 'multicast', 6],
    ['fec0::1', 'reserved', 6], // deprecated site-local
    ['4000::1', 'reserved', 6],
    ['::2', 'reserved', 6],
    // IPv4
    ['8.8.8.8', 'global', 4],
    ['192.0.2.1', 'global', 4],
    ['172.32.0.1', 'global', 4],
    ['100.128.0.1', 'global', 4],
    ['10.1.2.3', 'private', 4],
    ['172.16.0.1', 'private', 4],
    ['172.31.255.255', 'private', 4],
    ['192.168.1.1', 'private', 4],
    ['100.64.0.1', 'private', 4], // carrier-grade NAT
    ['100.127.255.255', 'private', 4],
    ['127.0.0.1', 'loopback', 4],
    ['127.255.0.9', 'loopback', 4],
    ['169.254.10.20', 'link-local', 4],
    ['224.0.0.1', 'multicast', 4],
    ['239.255.255.250', 'multicast', 4],
    ['0.0.0.0', 'unspecified', 4],
    ['0.1.2.3', 'reserved', 4],
    ['240.0.0.1', 'reserved', 4],
    ['255.255.255.255', 'reserved', 4],
  ];

  it.each(cases)('%s is %s (IPv%i)', (ip, kind, family) => {
    expect(classify(ip)).toMatchObject({ kind, family });
    expect(familyOf(ip)).toBe(family);
  });

  it('rejects what is not an IP literal', () => {
    for (const s of ['', 'example.com', '1.2.3', '1.2.3.256', '::g', '[::1]', '1:2:3:4:5:6:7:8:9', '12345::', ' ::1', '01.2.3.4', '::ffff:1.2.3.04']) {
      expect(classify(s), s).toBeUndefined();
      expect(ipToBytes(s), s).toBeUndefined();
    }
  });

  it('only global unicast addresses count as our own public address', () => {
    expect(isGlobalUnicast('2001:db8::5')).toBe(true);
    expect(isGlobalUnicast('203.0.113.7')).toBe(true);
    for (const ip of ['fe80::1', 'fd00::1', '::1', '2001::1', '2002::1', '::ffff:1.2.3.4', '10.0.0.1', '127.0.0.1', 'junk']) expect(isGlobalUnicast(ip), ip).toBe(false);
  });

  it('dials loopback, private and global peers but never unspecified, multicast, reserved or v4-mapped ones', () => {
    for (const ip of ['127.0.0.2', '::1', '10.0.0.1', 'fd00::1', '2001:db8::1', '8.8.4.4']) expect(isDialable(ip), ip).toBe(true);
    for (const ip of ['0.0.0.0', '::', '224.0.0.1', 'ff02::1', '240.0.0.1', '::ffff:1.2.3.4', 'not-an-ip']) expect(isDialable(ip), ip).toBe(false);
  });

  it('folds IPv4-mapped socket addresses back to IPv4 and leaves others alone', () => {
    expect(unmapIp('::ffff:192.0.2.9')).toBe('192.0.2.9');
    expect(unmapIp('::FFFF:192.0.2.9')).toBe('192.0.2.9');
    expect(unmapIp('::ffff:c000:209')).toBe('::ffff:c000:209');
    expect(unmapIp('2001:db8::1')).toBe('2001:db8::1');
    expect(unmapIp('192.0.2.9')).toBe('192.0.2.9');
  });
});

describe('canonical text (RFC 5952)', () => {
  const hex = (s: string) => Buffer.from(s.replace(/:/g, ''), 'hex');

  it.each([
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // 4.2.1: compress, 4.1: no leading zeros
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'], // 4.2.2: a single 0 group is not compressed
    ['2001:0000:0000:0001:0000:0000:0000:0001', '2001:0:0:1::1'], // 4.2.3: the longest run
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // 4.2.3: the first of equal runs
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0001:0000:0000:0000:0000:0000:0000:0000', '1::'],
    ['fe80:0000:0000:0000:abcd:ef01:0000:0000', 'fe80::abcd:ef01:0:0'],
    ['ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'], // 4.3: lower case
  ])('%s -> %s', (full, text) => {
    expect(bytesToIp(hex(full))).toBe(text);
    expect(ipToBytes(text)).toEqual(hex(full));
  });

  it('canonicalizes any spelling of the same address to one text', () => {
    expect(canonicalIp('2001:DB8:0::0:1')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1'); // the zone is not part of the address
    expect(canonicalIp('::ffff:192.0.2.1')).toBe(canonicalIp('::ffff:c000:201'));
    expect(ipToBytes(canonicalIp('::ffff:192.0.2.1')!)).toEqual(hex('0000:0000:0000:0000:0000:ffff:c000:0201'));
    expect(canonicalIp('1:2:3:4:5:6:1.2.3.4')).toBe('1:2:3:4:5:6:102:304'); // dotted tail on any address
    expect(canonicalIp('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIp('nope')).toBeUndefined();
  });

  it('formats IPv4 bytes as a dotted quad and refuses other lengths', () => {
    expect(bytesToIp(Uint8Array.from([192, 0, 2, 255]))).toBe('192.0.2.255');
    for (const n of [0, 3, 5, 15, 17]) expect(() => bytesToIp(new Uint8Array(n)), `${n} bytes`).toThrow(RangeError);
  });

  it('round-trips random addresses through bytes and text', () => {
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(16);
      // Sparse random groups, so zero runs of every length appear.
      for (let g = 0; g < 8; g++) if (Math.random() < 0.5) b.writeUInt16BE(Math.floor(Math.random() * 65536), g * 2);
      const text = bytesToIp(b);
      expect(ipToBytes(text)).toEqual(b);
      expect(text).not.toMatch(/::.*::|:0\d|[A-F]/);
      expect(canonicalIp(text)).toBe(text);
    }
  });
});

describe('compact peer codecs', () => {
  it('encodes and decodes 6-byte IPv4 entries', () => {
    const blob = encodeCompactPeers([{ host: '192.0.2.1', port: 6881 }, { host: '198.51.100.7', port: 1 }], 4);
    expect(blob.toString('hex')).toBe('c00002011ae1' + 'c63364070001');
    expect(decodeCompactPeers(blob, 4)).toEqual([
      { host: '192.0.2.1', port: 6881, family: 4 },
      { host: '198.51.100.7', port: 1, family: 4 },
    ]);
  });

  it('encodes and decodes 18-byte IPv6 entries in canonical text', () => {
    const blob = encodeCompactPeers([{ host: '2001:DB8:0:0::1', port: 65535 }], 6);
    expect(blob).toHaveLength(18);
    expect(decodeCompactPeers(blob, 6)).toEqual([{ host: '2001:db8::1', port: 65535, family: 6 }]);
  });

  it('skips peers of the other family when encoding one family', () => {
    const mixed = [{ host: '192.0.2.1', port: 1 }, { host: '2001:db8::2', port: 2 }];
    expect(decodeCompactPeers(encodeCompactPeers(mixed, 4), 4).map((p) => p.host)).toEqual(['192.0.2.1']);
    expect(decodeCompactPeers(encodeCompactPeers(mixed, 6), 6).map((p) => p.host)).toEqual(['2001:db8::2']);
  });

  it('rejects blobs whose length is not a multiple of the entry size', () => {
    for (const n of [1, 5, 7, 17]) expect(() => decodeCompactPeers(Buffer.alloc(n), 4), `${n} bytes as IPv4`).toThrow(CompactError);
    for (const n of [1, 6, 12, 17, 19, 35]) expect(() => decodeCompactPeers(Buffer.alloc(n), 6), `${n} bytes as IPv6`).toThrow(CompactError);
    // 18 bytes are three IPv4 entries, and 36 bytes six: only the family decides how they are read.
    expect(decodeCompactPeers(Buffer.alloc(18), 4)).toHaveLength(3);
    expect(decodeCompactPeers(Buffer.alloc(36), 6)).toHaveLength(2);
    expect(decodeCompactPeers(Buffer.alloc(0), 6)).toEqual([]);
  });

  it('stops at maxPeers', () => {
    expect(decodeCompactPeers(Buffer.alloc(6 * 100), 4, 10)).toHaveLength(10);
  });

  it('decodes entries of a blob that is a view into a larger buffer', () => {
    const big = Buffer.concat([Buffer.from('xxxxx'), encodeCompactPeer({ host: '2001:db8::9', port: 80 }), Buffer.from('yy')]);
    expect(decodeCompactPeers(big.subarray(5, 23), 6)).toEqual([{ host: '2001:db8::9', port: 80, family: 6 }]);
  });

  it('refuses to encode a bad address or port', () => {
    expect(() => encodeCompactPeer({ host: 'example.com', port: 1 })).toThrow(CompactError);
    expect(() => encodeCompactPeer({ host: '::1', port: 65536 })).toThrow(CompactError);
    expect(() => encodeCompactPeer({ host: '::1', port: -1 })).toThrow(CompactError);
    expect(() => encodeCompactPeer({ host: '::1', port: 1.5 })).toThrow(CompactError);
  });

  it('decodes bare 4- and 16-byte addresses and nothing else', () => {
    expect(decodeCompactIp(Uint8Array.from([203, 0, 113, 9]))).toBe('203.0.113.9');
    expect(decodeCompactIp(ipToBytes('2001:db8::7')!)).toBe('2001:db8::7');
    for (const n of [0, 1, 6, 15, 17, 18]) expect(decodeCompactIp(new Uint8Array(n)), `${n} bytes`).toBeUndefined();
  });
});

describe('documentation and benchmarking ranges', () => {
  const ranges = ['192.0.2.2', '198.51.100.7', '203.0.113.200', '198.18.0.1', '198.19.255.254', '2001:db8::1', '2001:db8:ffff::2'];
  const neighbours = ['192.0.3.1', '198.51.101.1', '203.0.114.1', '198.20.0.1', '198.17.255.255', '2001:db9::1', '2001:db7::1'];

  it('are never a global address on a real host: they are never advertised as ours', () => {
    const saved = process.env[ENV.documentationAsGlobal];
    delete process.env[ENV.documentationAsGlobal];
    try {
      for (const ip of ranges) {
        expect(classify(ip)?.kind, ip).toBe('documentation');
        expect(isGlobalUnicast(ip), ip).toBe(false);
        expect(isDialable(ip), ip).toBe(true);
      }
      for (const ip of neighbours) expect(classify(ip)?.kind, ip).toBe('global');
    } finally {
      if (saved !== undefined) process.env[ENV.documentationAsGlobal] = saved;
    }
  });

  it('stand in for the Internet only when the test suite says so', () => {
    expect(process.env[ENV.documentationAsGlobal]).toBe('1'); // vitest.config.ts
    for (const ip of ranges) expect(classify(ip)?.kind, ip).toBe('global');
  });
});

describe('subnetMatcher', () => {
  it('tells addresses in any of the networks, at whole and partial byte prefixes, each family apart', () => {
    const on = subnetMatcher([
      { address: '192.168.77.10', prefix: 24 },
      { address: '10.1.2.3', prefix: 20 },
      { address: '2001:db8:77::10', prefix: 64 },
      { address: 'fe80::1', prefix: 200 }, // no such prefix: ignored
    ]);
    for (const ip of ['192.168.77.1', '192.168.77.255', '10.1.15.9', '10.1.0.0', '2001:db8:77::ffff', '2001:db8:77:0:1:2:3:4', '2001:db8:77::5%eth0']) expect(on(ip), ip).toBe(true);
    for (const ip of ['192.168.78.1', '10.1.16.0', '2001:db8:78::1', '::ffff:192.168.77.1', 'fe80::1', 'nonsense', '']) expect(on(ip), ip).toBe(false);
    expect(subnetMatcher([])('192.168.77.1')).toBe(false);
    expect(subnetMatcher([{ address: '0.0.0.0', prefix: 0 }])('203.0.113.9')).toBe(true);
  });
});
