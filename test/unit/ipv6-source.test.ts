/**
 * IPv6 address choice (src/net/ipv6-source.ts): /proc/net/if_inet6's flags, the stable global
 * address to listen on and announce, and RFC 6724 source selection for outgoing connections.
 */
import { describe, expect, test } from 'vitest';
import { chooseListenAddress6, chooseSourceAddress6, isAnnounceable6, parseIfInet6, readInterfaceAddresses6 } from '../../src/net/ipv6-source.js';

// Documentation addresses count as global in the test suite (vitest.config.ts); 2a00::/12 is ordinary global space.
const IF_INET6 = [
  '00000000000000000000000000000001 01 80 10 80       lo',
  'fe80000000000000021122fffe334455 02 40 20 80     eth0',
  '2a00000000000001021122fffe334455 02 40 00 00     eth0', // SLAAC (EUI-64)
  '2a0000000000000111a2b3c4d5e6f708 02 40 00 01     eth0', // temporary (privacy)
  '2a000000000000010000000000000099 02 40 00 a0     eth0', // deprecated, permanent
  '2a000000000000010000000000000077 02 40 00 c0     eth0', // tentative, permanent
  'fd000000000000010000000000000010 02 40 00 80     eth0', // ULA
  '20010000000000000000000000000001 03 20 00 80   teredo', // Teredo
  '20020a00000100000000000000000001 04 30 00 80     sit0', // 6to4
  '2a000000000000020000000000000001 05 40 00 80    wlan0', // static, another interface
].join('\n');

describe('/proc/net/if_inet6', () => {
  const addrs = parseIfInet6(IF_INET6);

  test('flags and kinds', () => {
    const by = (a: string) => addrs.find((x) => x.address === a)!;
    expect(by('fe80::211:22ff:fe33:4455')).toMatchObject({ kind: 'link-local', ifname: 'eth0', ifindex: 2, prefixLength: 64 });
    expect(by('2a00::1:211:22ff:fe33:4455')).toMatchObject({ kind: 'global', temporary: false, deprecated: false, permanent: false });
    expect(by('2a00::1:11a2:b3c4:d5e6:f708')).toMatchObject({ temporary: true });
    expect(by('2a00:0:0:1::99')).toMatchObject({ deprecated: true, permanent: true });
    expect(by('2a00:0:0:1::77')).toMatchObject({ tentative: true });
    expect(by('fd00:0:0:1::10').kind).toBe('ula');
    expect(by('2001::1').kind).toBe('teredo');
    expect(addrs.filter(isAnnounceable6).map((a) => a.address)).toEqual(['2a00::1:211:22ff:fe33:4455', '2a00:0:0:2::1']);
  });

  test('the listening address: stable, global, preferred, on the default route interface', () => {
    expect(chooseListenAddress6(addrs, { ifname: 'eth0' })?.address).toBe('2a00::1:211:22ff:fe33:4455');
    // Another interface only when the default route's has none; hand-configured first.
    expect(chooseListenAddress6(addrs, { ifname: 'wlan0' })?.address).toBe('2a00:0:0:2::1');
    expect(chooseListenAddress6(addrs)?.address).toBe('2a00:0:0:2::1');
    expect(chooseListenAddress6(addrs.filter((a) => a.kind !== 'global' || a.temporary))).toBeUndefined();
  });

  test('the real file of this host parses', () => {
    for (const a of readInterfaceAddresses6()) expect(a.address).toMatch(/:/);
  });
});

describe('RFC 6724 source selection', () => {
  const addrs = parseIfInet6(IF_INET6);

  test('rule 2: a link-local destination gets a link-local source, a global one a global source', () => {
    expect(chooseSourceAddress6(addrs, 'fe80::1')?.address).toBe('fe80::211:22ff:fe33:4455');
    expect(chooseSourceAddress6(addrs, '2a01::1')?.kind).toBe('global');
  });

  test('rule 7: temporary addresses by default (privacy), stable ones when asked', () => {
    expect(chooseSourceAddress6(addrs, '2a01::1', { outgoingIfname: 'eth0' })?.address).toBe('2a00::1:11a2:b3c4:d5e6:f708');
    expect(chooseSourceAddress6(addrs, '2a01::1', { outgoingIfname: 'eth0', preferTemporary: false })?.address).toBe('2a00::1:211:22ff:fe33:4455');
  });

  test('rules 3, 5, 6 and 8: avoid deprecated, prefer the outgoing interface, matching labels, longest prefix', () => {
    const only = (list: string[]) => addrs.filter((a) => list.includes(a.address));
    expect(chooseSourceAddress6(only(['2a00:0:0:1::99', '2a00:0:0:2::1']), '2a00:0:0:1::5')?.address).toBe('2a00:0:0:2::1');
    expect(chooseSourceAddress6(only(['2a00::1:211:22ff:fe33:4455', '2a00:0:0:2::1']), '2a01::1', { outgoingIfname: 'wlan0' })?.address).toBe('2a00:0:0:2::1');
    // To a Teredo peer the Teredo address (label 5) wins over a native one; to a native peer the native one.
    expect(chooseSourceAddress6(only(['2001::1', '2a00:0:0:2::1']), '2001::abcd')?.address).toBe('2001::1');
    expect(chooseSourceAddress6(only(['2001::1', '2a00:0:0:2::1']), '2a01::1')?.address).toBe('2a00:0:0:2::1');
    // ULA to ULA (label 13), global otherwise.
    expect(chooseSourceAddress6(only(['fd00:0:0:1::10', '2a00:0:0:2::1']), 'fd00:9::1')?.address).toBe('fd00:0:0:1::10');
    expect(chooseSourceAddress6(only(['2a00::1:211:22ff:fe33:4455', '2a00:0:0:2::1']), '2a00:0:0:2::77', { preferTemporary: false })?.address).toBe('2a00:0:0:2::1');
    // Tentative addresses never qualify.
    expect(chooseSourceAddress6(only(['2a00:0:0:1::77']), '2a01::1')).toBeUndefined();
    expect(() => chooseSourceAddress6(addrs, '10.0.0.1')).toThrow(/not an IPv6 address/);
  });
});
