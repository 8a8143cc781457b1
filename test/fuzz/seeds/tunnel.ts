/** Seeds of the tunnel corpora: packet streams (plain and behind offload headers) and handshakes, valid and broken once. */
import { encodeHello, encodeReply } from '../../../src/tunnel/handshake.js';
import { parsePrefix } from '../../../src/tunnel/prefix.js';
import { ipv6Packet } from '../targets/tunnel.js';
import { patched, seed, truncations, type Seed } from './seed.js';

/** A virtio_net_hdr: flags, gso type, header length, gso size, checksum start and offset (little endian). */
function vnet(flags: number, gso: number, gsoSize = 0, csumStart = 0, csumOffset = 0): Buffer {
  const h = Buffer.alloc(10);
  h[0] = flags;
  h[1] = gso;
  h.writeUInt16LE(60, 2);
  h.writeUInt16LE(gsoSize, 4);
  h.writeUInt16LE(csumStart, 6);
  h.writeUInt16LE(csumOffset, 8);
  return h;
}

/** A TCP segment of `payload` bytes (a 20-byte TCP header, data offset 5). */
function tcpPacket(payload: number): Buffer {
  const p = ipv6Packet(20 + payload, 6);
  p[40 + 12] = 5 << 4;
  return p;
}

export function tunnelSeeds(): Seed[] {
  const stream = Buffer.concat([ipv6Packet(20), ipv6Packet(1), ipv6Packet(1240), ipv6Packet(8000)]);
  return [
    seed('valid-one-packet', ipv6Packet(20)),
    seed('valid-stream', stream),
    seed('ipv4-packet', patched(ipv6Packet(20), 0, [0x45])),
    seed('ipv4-after-a-packet', Buffer.concat([ipv6Packet(8), patched(ipv6Packet(8), 0, [0x45])])),
    seed('payload-length-0', patched(ipv6Packet(8), 4, [0, 0])),
    seed('header-only', ipv6Packet(20).subarray(0, 40)),
    seed('payload-length-65535-short', patched(ipv6Packet(100), 4, [0xff, 0xff])),
    ...truncations('stream', stream, [1, 5, 6, 40, 60, 61, 101, 102, 1381]),
  ];
}

export function tunnelOffloadSeeds(): Seed[] {
  const gso = Buffer.concat([vnet(1, 4, 1220, 40, 16), tcpPacket(4000)]);
  const stream = Buffer.concat([Buffer.alloc(10), ipv6Packet(20), vnet(1, 0, 0, 40, 16), tcpPacket(100), gso]);
  return [
    seed('valid-plain', Buffer.concat([Buffer.alloc(10), ipv6Packet(20)])),
    seed('valid-stream', stream),
    seed('unknown-flags', Buffer.concat([vnet(2, 0), ipv6Packet(20)])),
    seed('gso-tcpv4', Buffer.concat([vnet(1, 1, 1220, 40, 16), tcpPacket(100)])),
    seed('gso-size-0', Buffer.concat([vnet(1, 4, 0, 40, 16), tcpPacket(100)])),
    seed('gso-without-checksum', Buffer.concat([vnet(0, 4, 1220), tcpPacket(100)])),
    seed('gso-not-tcp', Buffer.concat([vnet(1, 4, 1220, 40, 16), ipv6Packet(100, 17)])),
    seed('checksum-outside', Buffer.concat([vnet(1, 0, 0, 40, 200), tcpPacket(100)])),
    seed('checksum-in-ip-header', Buffer.concat([vnet(1, 0, 0, 8, 0), tcpPacket(100)])),
    seed('gso-size-1', Buffer.concat([vnet(1, 4, 1, 40, 16), tcpPacket(4000)])),
    seed('ipv4-behind-a-header', Buffer.concat([Buffer.alloc(10), patched(ipv6Packet(20), 0, [0x45])])),
    ...truncations('stream', stream, [10, 11, 16, 50, 70, 80, 90]),
  ];
}

export function tunnelHandshakeSeeds(): Seed[] {
  const prefix = parsePrefix('2a00:1:2:3::/64');
  const hello = encodeHello({ id: '02:00:00:aa:bb:cc', token: 'secret', offload: true });
  return [
    seed('valid-hello', encodeHello({ id: '02:00:00:aa:bb:cc' })),
    seed('valid-hello-token-offload', hello),
    seed('valid-reply-prefix', encodeReply({ kind: 'prefix', prefix })),
    seed('valid-reply-prefix-offload', encodeReply({ kind: 'prefix', prefix, offload: true })),
    seed('valid-reply-error', encodeReply({ kind: 'error', message: 'no address left' })),
    seed('hello-then-packets', Buffer.concat([hello, Buffer.from([0x60, 0, 0, 0, 0, 8])])),
    seed('whitespace-first', ` \r\n\t${hello.toString()}`),
    seed('lower-case-keys', '{"id":"a","prefix":"2a00:1:2:3::/64","offload":"vnet-tcp6"}'),
    seed('both-cases', '{"Id":"a","id":"b","ID":"c"}'),
    seed('escaped-quote-in-string', '{"Id":"a\\"}","x":"\\\\"}'),
    seed('not-an-object', '[1,2]'),
    seed('a-string', '"x"'),
    seed('invalid-json', '{"Id":}'),
    seed('nested-deep', `{"x":${'['.repeat(2000)}${']'.repeat(2000)}}`),
    seed('unterminated-past-4096', `{"Id":"${'a'.repeat(4100)}`),
    seed('id-with-space', '{"Id":"a b"}'),
    seed('id-129-chars', `{"Id":"${'i'.repeat(129)}"}`),
    seed('id-not-a-string', '{"Id":5}'),
    seed('token-1025-chars', `{"Id":"a","Token":"${'t'.repeat(1025)}"}`),
    seed('token-a-number', '{"Id":"a","Token":1}'),
    seed('prefix-48', '{"Prefix":"2a00:1:2::/48"}'),
    seed('prefix-link-local', '{"Prefix":"fe80::/64"}'),
    seed('prefix-ula', '{"Prefix":"fd00:1:2:3::/64"}'),
    seed('prefix-host-bits', '{"Prefix":"2a00:1:2:3::1/64"}'),
    seed('prefix-garbage', '{"Prefix":"not a prefix/64"}'),
    seed('error-escape-sequence', '{"Error":"\\u001b[2Jx"}'),
    seed('neither', '{"x":1}'),
    seed('proto-key', '{"__proto__":{"Id":"x"},"constructor":1}'),
    ...truncations('hello', hello),
  ];
}
