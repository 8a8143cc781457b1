/**
 * The tunnel's wire protocol and bookkeeping, in-process: the IPv6 packet framer, the one-JSON-
 * object handshake scanner, hello/reply validation, prefix math, the assignments file, tokens,
 * the rate limiter and the config.ini reader. The namespace tests cover the same code live.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tunnel } from '../../cli/tunnel.js';
import { tunnelServer } from '../../cli/tunnel-server.js';
import { AssignmentStore, type AssignResult } from '../../src/tunnel/assignments.js';
import { FramingError, isIpv6Packet, PacketFramer } from '../../src/tunnel/framer.js';
import { encodeHello, encodeReply, HandshakeError, JsonObjectScanner, parseHello, parseReply } from '../../src/tunnel/handshake.js';
import { overlappingAddress } from '../../src/tunnel/host.js';
import { kernelHeader, OFFLOAD_FEATURE, offloadProblem, PLAIN_HEADER, segmentCount, VNET_HDR_BYTES, wireHeader } from '../../src/tunnel/offload.js';
import { firstHost, parsePrefix, PrefixRange } from '../../src/tunnel/prefix.js';
import { TokenPolicy } from '../../src/tunnel/tokens.js';
import { InputError } from '../../src/util/errors.js';
import { parseIni } from '../../src/util/ini.js';

/** An IPv6 packet with `payloadLen` payload bytes, its bytes tagged so mix-ups show. */
function packet(payloadLen: number, tag: number): Buffer {
  const p = Buffer.alloc(40 + payloadLen, tag);
  p.writeUInt32BE(0x60000000 | tag, 0);
  p.writeUInt16BE(payloadLen, 4);
  p[6] = 59; // no next header
  p[7] = 64;
  return p;
}

/** Same packets, same order, same bytes (cheaper than a deep toEqual over thousands of splits). */
function expectPackets(got: Buffer[], want: Buffer[], label = ''): void {
  expect(got.map((p) => p.length), label).toEqual(want.map((p) => p.length));
  expect(got.every((p, i) => p.equals(want[i]!)), label).toBe(true);
}

function feed(framer: PacketFramer, chunks: Buffer[]): Buffer[] {
  // Copy each packet at once: the framer returns views valid until the next push.
  return chunks.flatMap((c) => framer.push(c).map((p) => Buffer.from(p)));
}

describe('PacketFramer', () => {
  const packets = [packet(8, 1), packet(1, 2), packet(1240, 3), packet(20, 4)];
  const stream = Buffer.concat(packets);

  it('delimits packets by their header when the stream is split at every possible byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = feed(new PacketFramer(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expectPackets(got, packets, `split at ${cut}`);
    }
  });

  it('reassembles a stream delivered one byte at a time, and in uneven chunks', () => {
    const bytes = [...Array(stream.length).keys()].map((i) => stream.subarray(i, i + 1));
    expectPackets(feed(new PacketFramer(), bytes), packets);
    for (const size of [3, 7, 39, 40, 41, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      expectPackets(feed(new PacketFramer(), chunks), packets, `chunks of ${size}`);
    }
  });

  it('holds a partial packet until the rest arrives, and only that', () => {
    const f = new PacketFramer();
    const big = packet(65535, 9);
    expect(f.push(big.subarray(0, 5))).toEqual([]);
    expect(f.pending).toBe(5);
    expect(f.push(big.subarray(5, 30000))).toEqual([]);
    const done = f.push(Buffer.concat([big.subarray(30000), packet(8, 1)]));
    expect(done.map((p) => p.length)).toEqual([40 + 65535, 48]);
    expect(Buffer.from(done[0]!).equals(big)).toBe(true);
    expect(f.pending).toBe(0);
  });

  it('calls a stream corrupt on a version other than 6, as soon as the first byte shows it', () => {
    const f = new PacketFramer();
    expect(f.push(packet(8, 1))).toHaveLength(1);
    expect(() => f.push(Buffer.from([0x45]))).toThrow(FramingError);
    // Once broken it stays broken: the connection must be dropped.
    expect(() => f.push(packet(8, 1))).toThrow(/corrupt tunnel stream/);

    const g = new PacketFramer();
    expect(g.push(packet(8, 1).subarray(0, 3))).toEqual([]);
    expect(() => g.push(Buffer.concat([packet(8, 1).subarray(3), Buffer.from('GET / HTTP/1.1')]))).toThrow(/IP version 4/);
  });

  it('refuses payload length 0 (jumbograms)', () => {
    const jumbo = packet(8, 1);
    jumbo.writeUInt16BE(0, 4);
    expect(() => new PacketFramer().push(jumbo)).toThrow(/payload length 0/);
    expect(isIpv6Packet(jumbo)).toBe(false);
    expect(isIpv6Packet(packet(8, 1))).toBe(true);
  });

  it('with offload headers: frames header + packet whatever the split, and checks the version behind the header', () => {
    const header = (tag: number) => Buffer.alloc(VNET_HDR_BYTES, tag);
    const frames = packets.map((p, i) => Buffer.concat([header(0x10 + i), p]));
    const stream = Buffer.concat(frames);
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new PacketFramer(VNET_HDR_BYTES);
      expectPackets(feed(f, [stream.subarray(0, cut), stream.subarray(cut)]), frames, `split at ${cut}`);
    }
    const bytes = [...Array(stream.length).keys()].map((i) => stream.subarray(i, i + 1));
    expectPackets(feed(new PacketFramer(VNET_HDR_BYTES), bytes), frames);
    // The header's own bytes are not taken for a version; the byte after it is.
    const f = new PacketFramer(VNET_HDR_BYTES);
    expect(f.push(Buffer.alloc(VNET_HDR_BYTES, 0x45))).toEqual([]);
    expect(() => f.push(Buffer.from([0x45]))).toThrow(/IP version 4/);
  });
});

/** A TCP/IPv6 packet with `payload` bytes after a 20-byte TCP header. */
function tcpPacket(payload: number): Buffer {
  const p = packet(20 + payload, 0);
  p[6] = 6;
  p[40 + 12] = 5 << 4; // data offset: 5 words
  return p;
}

/** A virtio_net_hdr: flags, gso_type, gso_size, csum_start, csum_offset. */
function vnet(flags: number, gsoType: number, gsoSize = 0, csumStart = 0, csumOffset = 0): Buffer {
  const h = Buffer.alloc(VNET_HDR_BYTES);
  h[0] = flags;
  h[1] = gsoType;
  h.writeUInt16LE(60, 2);
  h.writeUInt16LE(gsoSize, 4);
  h.writeUInt16LE(csumStart, 6);
  h.writeUInt16LE(csumOffset, 8);
  return h;
}

describe('offload headers', () => {
  const seg = tcpPacket(64000);

  it('accepts what the kernel produces for TCP over IPv6: a partial checksum, a segment to cut at gso_size', () => {
    expect(offloadProblem(vnet(1, 0, 0, 40, 16), tcpPacket(100))).toBeNull();
    expect(offloadProblem(vnet(1, 4, 1220, 40, 16), seg)).toBeNull();
    expect(wireHeader(PLAIN_HEADER, tcpPacket(10))).toBeNull();
    expect(wireHeader(vnet(1, 4, 1220, 40, 16), seg)).not.toBeNull();
  });

  it('refuses what no honest end sends, so the kernel never checksums or cuts outside a packet', () => {
    expect(offloadProblem(vnet(0x80, 0), seg)).toMatch(/unknown offload flags 0x80/);
    expect(offloadProblem(vnet(1, 3, 1220, 40, 6), seg)).toMatch(/segmentation type 3/); // UDP
    expect(offloadProblem(vnet(1, 5, 1220, 40, 6), seg)).toMatch(/segmentation type 5/);
    expect(offloadProblem(vnet(1, 4, 1220, 40, 16), packet(2000, 1))).toMatch(/not TCP/);
    expect(offloadProblem(vnet(1, 4, 0, 40, 16), seg)).toMatch(/segment size 0/);
    expect(offloadProblem(vnet(0, 4, 1220), seg)).toMatch(/without a partial checksum/);
    expect(offloadProblem(vnet(1, 0, 0, 39, 16), seg)).toMatch(/outside the packet/);
    expect(offloadProblem(vnet(1, 0, 0, 40, 60), tcpPacket(40))).toMatch(/outside the packet/);
    expect(() => wireHeader(vnet(2, 0), seg)).toThrow(/unknown offload flags 0x2/);
  });

  it("clears the kernel's own DATA_VALID flag on what it reads, and leaves out what it cannot carry", () => {
    expect(kernelHeader(vnet(2, 0), tcpPacket(10))).toBeNull();
    const partial = vnet(3, 0, 0, 40, 16);
    expect(kernelHeader(partial, tcpPacket(10))?.[0]).toBe(1);
    expect(kernelHeader(vnet(1, 3, 1200, 40, 6), seg)).toBeUndefined();
  });

  it('counts a segment as the packets it will be cut into (for the packet rate limit)', () => {
    expect(segmentCount(null, seg)).toBe(1);
    expect(segmentCount(vnet(1, 0, 0, 40, 16), seg)).toBe(1);
    expect(segmentCount(vnet(1, 4, 1000, 40, 16), seg)).toBe(64);
    expect(segmentCount(vnet(1, 4, 1220, 40, 16), seg)).toBe(53);
  });
});

describe('handshake', () => {
  it('cuts exactly one JSON object off the stream, whatever the split, and keeps the rest as packets', () => {
    const reply = encodeReply({ kind: 'prefix', prefix: parsePrefix('2001:db8:100::/64') });
    const packets = [packet(8, 1), packet(100, 2)];
    const stream = Buffer.concat([reply, ...packets]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const scanner = new JsonObjectScanner();
      const framer = new PacketFramer();
      let got: Buffer[] = [];
      let prefix: string | undefined;
      for (const chunk of [stream.subarray(0, cut), stream.subarray(cut)]) {
        if (prefix === undefined) {
          const r = scanner.push(chunk);
          if (!r) continue;
          const parsed = parseReply(r.value);
          prefix = parsed.kind === 'prefix' ? parsed.prefix.text : 'error';
          got = got.concat(feed(framer, [r.rest]));
        } else {
          got = got.concat(feed(framer, [chunk]));
        }
      }
      expect(prefix, `split at ${cut}`).toBe('2001:db8:100::/64');
      expectPackets(got, packets, `split at ${cut}`);
    }
  });

  it('is not fooled by braces and escaped quotes inside strings', () => {
    const text = ' \n{"Id":"a}b\\"{[","Token":"x"}{"next":1}';
    const r = new JsonObjectScanner().push(Buffer.from(text));
    expect(r?.value).toEqual({ Id: 'a}b"{[', Token: 'x' });
    expect(r?.rest.toString()).toBe('{"next":1}');
  });

  it('bounds the handshake size', () => {
    const s = new JsonObjectScanner(4096);
    const big = Buffer.from(`{"Id":"${'a'.repeat(5000)}"}`);
    expect(() => s.push(big.subarray(0, 4000))).not.toThrow();
    expect(() => s.push(big.subarray(4000))).toThrow(/larger than 4096 bytes/);
    // Exactly at the bound is fine.
    const exact = Buffer.from(`{"Id":"${'b'.repeat(4096 - 9)}"}`);
    expect(exact.length).toBe(4096);
    expect(new JsonObjectScanner(4096).push(exact)?.value).toEqual({ Id: 'b'.repeat(4087) });
    expect(() => new JsonObjectScanner(4096).push(Buffer.from(`{"Id":"${'b'.repeat(4096 - 8)}"}`))).toThrow(/larger than/);
  });

  it('rejects what is not one JSON object', () => {
    expect(() => new JsonObjectScanner().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(HandshakeError);
    expect(() => new JsonObjectScanner().push(Buffer.from('["Id"]'))).toThrow(/not a JSON object/);
    expect(() => new JsonObjectScanner().push(Buffer.from('{"Id":}'))).toThrow(/not valid JSON/);
    expect(() => new JsonObjectScanner().push(Buffer.from('{"Id":"x"]'))).toThrow(/not valid JSON/);
  });

  it('validates the hello like the original server reads it (Go: field names case-insensitive)', () => {
    expect(parseHello({ Id: '00:11:22:aa:bb:cc' })).toEqual({ id: '00:11:22:aa:bb:cc' });
    expect(parseHello({ id: 'x', token: 't' })).toEqual({ id: 'x', token: 't' });
    expect(parseHello({ Id: 'x', Token: null })).toEqual({ id: 'x' });
    expect(() => parseHello({})).toThrow(/no "Id"/);
    expect(() => parseHello({ Id: 5 })).toThrow(/no "Id"/);
    expect(() => parseHello({ Id: '' })).toThrow(/no "Id"/);
    expect(() => parseHello({ Id: 'a\nb' })).toThrow(/printable/);
    expect(() => parseHello({ Id: 'a\u009b2Jb' })).toThrow(/printable/); // C1: a terminal escape in the server's log
    expect(() => parseHello({ Id: 'a'.repeat(257) })).toThrow(/printable/);
    expect(parseHello({ Id: 'x'.repeat(128) }).id).toHaveLength(128);
    expect(parseHello({ Id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8' }).id).toBe('6ba7b810-9dad-11d1-80b4-00c04fd430c8');
    // Printable ASCII only: no bidi override, no lone surrogate, nothing beyond ASCII, no spaces, 128 at most.
    for (const id of ['\u202eevil', 'a\ud800b', 'caf\u00e9', 'two words', 'x'.repeat(129)]) {
      expect(() => parseHello({ Id: id }), JSON.stringify(id)).toThrow('"Id" refused: an Id is 1-128 printable ASCII characters without spaces');
    }
  });

  it('refuses an Id of invalid UTF-8 as it arrives on the wire (it decodes to U+FFFD)', () => {
    const wire = Buffer.concat([Buffer.from('{"Id":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const scanned = new JsonObjectScanner().push(wire)!;
    expect(() => parseHello(scanned.value)).toThrow(/printable ASCII/);
    expect(() => parseHello({ Id: 'a', Token: 7 })).toThrow(/Token/);
    expect(encodeHello({ id: 'ab' }).toString()).toBe('{"Id":"ab"}');
    expect(encodeHello({ id: 'ab', token: 't' }).toString()).toBe('{"Id":"ab","Token":"t"}');
  });

  it('negotiates offload only when both ends name the same kind: the original (and unknown kinds) get plain packets', () => {
    const hello = encodeHello({ id: 'ab', offload: true });
    expect(hello.toString()).toBe(`{"Id":"ab","Offload":"${OFFLOAD_FEATURE}"}`);
    expect(parseHello(JSON.parse(hello.toString()) as Record<string, unknown>)).toEqual({ id: 'ab', offload: true });
    expect(parseHello({ Id: 'ab', Offload: 'vnet-tcp7' })).toEqual({ id: 'ab' });
    expect(parseHello({ Id: 'ab', Offload: true })).toEqual({ id: 'ab' });
    const prefix = parsePrefix('2001:db8:100::/64');
    const reply = encodeReply({ kind: 'prefix', prefix, offload: true });
    expect(parseReply(JSON.parse(reply.toString()) as Record<string, unknown>)).toMatchObject({ kind: 'prefix', offload: true });
    // What the original server sends: no Offload field.
    expect(parseReply({ Prefix: '2001:db8:100::/64' })).toMatchObject({ kind: 'prefix', offload: false });
    expect(encodeReply({ kind: 'prefix', prefix }).toString()).toBe('{"Prefix":"2001:db8:100::/64"}');
  });

  it('refuses a prefix that is not global unicast: link-local, multicast, ULA, loopback, special', () => {
    for (const [prefix, kind] of [
      ['fe80::/64', 'link-local'],
      ['ff00::/64', 'multicast'],
      ['ff02::/64', 'multicast'],
      ['fd00:1:2:3::/64', 'ula'],
      ['::/64', 'unspecified'],
      ['2002:c000:201::/64', '6to4'],
      ['2001:0:1:2::/64', 'teredo'],
      ['4000::/64', 'reserved'],
    ] as const) {
      expect(() => parseReply({ Prefix: prefix }), prefix).toThrow(HandshakeError);
      expect(() => parseReply({ Prefix: prefix }), prefix).toThrow(`(${kind}), not a global unicast /64; refusing it`);
    }
    // Documentation space counts as global on purpose (test topologies use it as their Internet).
    expect(parseReply({ Prefix: '2001:db8:1::/64' })).toMatchObject({ kind: 'prefix' });
    expect(parseReply({ Prefix: '2a01:4f8:1:2::/64' })).toMatchObject({ kind: 'prefix' });
  });

  it('validates the reply: a /64, or an error to show', () => {
    expect(parseReply({ Prefix: '2001:DB8:0100:0000::/64' })).toMatchObject({ kind: 'prefix', prefix: { text: '2001:db8:100::/64' } });
    // Host bits from a server are masked rather than refused.
    expect(parseReply({ Prefix: '2001:db8:100::1/64' })).toMatchObject({ prefix: { text: '2001:db8:100::/64' } });
    expect(() => parseReply({ Prefix: '2001:db8:100::/56' })).toThrow(/needs a \/64/);
    expect(() => parseReply({ Prefix: '10.0.0.0/8' })).toThrow(/bad prefix/);
    expect(parseReply({ Error: 'invalid token\r\n\u0007\u009bx' })).toEqual({ kind: 'error', message: 'invalid token\\x0d\\x0a\\x07\\x9bx' });
    expect(parseReply({ Error: 'e'.repeat(500) })).toEqual({ kind: 'error', message: 'e'.repeat(200) });
    expect(() => parseReply({ Prefix: '\u001b[2J/64' })).toThrow(/bad prefix: "\\x1b\[2J\/64" is not an IPv6 prefix/);
    expect(() => parseReply({ Hello: 1 })).toThrow(/neither "Prefix" nor "Error"/);
    expect(encodeReply({ kind: 'error', message: 'no' }).toString()).toBe('{"Error":"no"}');
  });
});

describe('prefixes', () => {
  it('parses, canonicalises and refuses host bits in configuration', () => {
    expect(parsePrefix('2001:0db8:0100::/56').text).toBe('2001:db8:100::/56');
    expect(() => parsePrefix('2001:db8:100::1/56')).toThrow(/bits set past \/56.*2001:db8:100::\/56/);
    expect(() => parsePrefix('2001:db8::/129')).toThrow(/0-128/);
    expect(() => parsePrefix('192.0.2.0/24')).toThrow(/not an IPv6 prefix/);
    expect(firstHost(parsePrefix('2001:db8:100:5::/64'))).toBe('2001:db8:100:5::1');
  });

  it('hands out /64s of a range in order, first free', () => {
    const range = new PrefixRange('2001:db8:100::/62');
    expect(range.size).toBe(4n);
    const taken = new Set<bigint>();
    const got: string[] = [];
    for (;;) {
      const p = range.firstFree((k) => taken.has(k));
      if (!p) break;
      taken.add(p.key);
      got.push(p.text);
    }
    expect(got).toEqual(['2001:db8:100::/64', '2001:db8:100:1::/64', '2001:db8:100:2::/64', '2001:db8:100:3::/64']);
    taken.delete(parsePrefix('2001:db8:100:1::/64').key);
    expect(range.firstFree((k) => taken.has(k))?.text).toBe('2001:db8:100:1::/64');
    expect(range.contains(parsePrefix('2001:db8:100:4::/64').key)).toBe(false);
    // A caller that knows everything before some key is taken starts there.
    expect(range.firstFree(() => false, parsePrefix('2001:db8:100:2::/64').key)?.text).toBe('2001:db8:100:2::/64');
    expect(range.firstFree(() => false, parsePrefix('2001:db8:100:4::/64').key)).toBeUndefined();
    expect(() => new PrefixRange('2001:db8::/96')).toThrow(/smaller than one \/64/);
  });
});

describe('the host as the tunnel client sees it', () => {
  it('finds an interface address that overlaps a /64 (in it, or on a link prefix containing it)', async () => {
    // Loopback's ::1/128 is the one IPv6 address every Linux host has.
    expect(await overlappingAddress(parsePrefix('::/64'), 'sixtun-test')).toBe('::1/128 on lo');
    expect(await overlappingAddress(parsePrefix('::/64'), 'lo')).toBeUndefined(); // our own device does not count
    expect(await overlappingAddress(parsePrefix('2001:db8:7777:1::/64'), 'sixtun-test')).toBeUndefined();
  });
});

describe('help texts', () => {
  it('tunnel and tunnel-server list every option and their exit codes', () => {
    for (const option of ['--server HOST:PORT', '--id ID', '--token T', '--mtu N', '--ifname NAME', '--json', '-h, --help']) expect(tunnel.help).toContain(option);
    expect(tunnel.help).toMatch(/Exit codes: 0 stopped by a signal, 1 .*, 2 bad options/s);
    for (const option of [
      '--listen ADDR:PORT', '--prefix-range P/LEN', '--assignments FILE', '--max-assignments N', '--config FILE', '--tokens FILE', '--token T',
      '--max-clients N', '--client-rate BYTES/s', '--client-pps N', '--mtu N', '--ifname NAME', '--json', '-h, --help',
    ]) {
      expect(tunnelServer.help).toContain(option);
    }
    expect(tunnelServer.help).toMatch(/Exit codes: 0 stopped by a signal, 1 runtime failure .*, 2 bad options/s);
  });
});

describe('AssignmentStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sixswarm-assign-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const none = () => false;
  const text = async (p: Promise<AssignResult>) => (await p).prefix.text;
  const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Record<string, { Prefix: string; LastSeen?: string; Source?: string }>;

  it('assigns first free, persists atomically with last-seen times, and returns the same prefix after a reload', async () => {
    const file = join(dir, 'assignments.json');
    const range = new PrefixRange('2001:db8:100::/56');
    const store = await AssignmentStore.load(range, file);
    const before = Date.now();
    const [a, b] = await Promise.all([text(store.assign('aa:aa', none)), text(store.assign('bb:bb', none))]);
    expect([a, b].sort()).toEqual(['2001:db8:100:1::/64', '2001:db8:100::/64']);
    expect(await text(store.assign('aa:aa', none))).toBe(a);
    const saved = await readJson(file);
    expect(saved).toEqual({ 'aa:aa': { Prefix: a, LastSeen: expect.any(String) }, 'bb:bb': { Prefix: b, LastSeen: expect.any(String) } });
    expect(Date.parse(saved['aa:aa']!.LastSeen!)).toBeGreaterThanOrEqual(before - 1);
    expect(await readdir(dir)).toEqual(['assignments.json']); // no temp files left behind

    const again = await AssignmentStore.load(range, file);
    expect(again.get('bb:bb')?.text).toBe(b);
    expect(await text(again.assign('cc:cc', none))).toBe('2001:db8:100:2::/64');
  });

  it("reads the original server's format (Id -> prefix string), those Ids counting as never seen", async () => {
    const file = join(dir, 'original.json');
    await writeFile(file, JSON.stringify({ old: '2001:db8:100::/64', newer: { Prefix: '2001:db8:100:1::/64', LastSeen: '2024-01-01T00:00:00.000Z' } }));
    const store = await AssignmentStore.load(new PrefixRange('2001:db8:100::/63'), file);
    expect(store.get('old')?.text).toBe('2001:db8:100::/64');
    // The range is full: the never-seen Id is the first whose prefix is reused.
    expect(await store.assign('fresh', none)).toEqual({ prefix: expect.objectContaining({ text: '2001:db8:100::/64' }), reused: { id: 'old', seen: 0 } });
    expect(Object.keys(await readJson(file))).toEqual(['newer', 'fresh']);
  });

  it('when full, reuses the prefix of the Id seen least recently that is not connected', async () => {
    const file = join(dir, 'lru.json');
    const store = await AssignmentStore.load(new PrefixRange('2001:db8:100::/56'), file, { maxAssignments: 3 });
    expect(store.maxAssignments).toBe(3);
    for (const id of ['a', 'b', 'c']) await store.assign(id, none);
    store.seen('a'); // a came back (or left) after b and c: now b is the least recently seen
    const connected = new Set(['b']);
    const d = await store.assign('d', (id) => connected.has(id));
    expect(d).toMatchObject({ prefix: { text: '2001:db8:100:2::/64' }, reused: { id: 'c' } }); // b is connected: skipped
    expect(store.get('c')).toBeUndefined();
    expect(store.size).toBe(3);
    connected.clear();
    expect(await store.assign('e', none)).toMatchObject({ prefix: { text: '2001:db8:100:1::/64' }, reused: { id: 'b' } });
    // The file holds the current holders, least recently seen first, and a reload keeps that order.
    await store.flush();
    expect(Object.entries(await readJson(file)).map(([id, v]) => [id, v.Prefix])).toEqual([
      ['a', '2001:db8:100::/64'],
      ['d', '2001:db8:100:2::/64'],
      ['e', '2001:db8:100:1::/64'],
    ]);
    const reloaded = await AssignmentStore.load(new PrefixRange('2001:db8:100::/56'), file, { maxAssignments: 3 });
    expect((await reloaded.assign('f', none)).reused?.id).toBe('a');
  });

  it('a source host at its cap of Ids cycles through its own prefixes: a returning Id of another host keeps its prefix', async () => {
    const file = join(dir, 'capped.json');
    const range = new PrefixRange('2001:db8:100::/56'); // 256 /64s
    const store = await AssignmentStore.load(range, file);
    const returning = await text(store.assign('returning', none, { host: '198.51.100.1', max: 16 }));
    const flood = { host: '203.0.113.9', max: 16 };
    const given = new Set<string>();
    for (let i = 0; i < 300; i++) given.add(await text(store.assign(`fresh-${i}`, none, flood)));
    expect(given.size).toBe(16); // its own 16, over and over
    expect(store.heldBy('203.0.113.9')).toBe(16);
    expect(await text(store.assign('returning', none, { host: '198.51.100.1', max: 16 }))).toBe(returning);
    // Kept across a restart: the file says which host brought each Id.
    const saved = await readJson(file);
    expect(saved.returning).toMatchObject({ Source: '198.51.100.1' });
    const reloaded = await AssignmentStore.load(range, file);
    expect(reloaded.heldBy('203.0.113.9')).toBe(16);
    expect((await reloaded.assign('fresh-300', none, flood)).reused?.id).toBe('fresh-284');
    // All of its Ids connected: a new one is refused, and says what to do.
    await expect(reloaded.assign('fresh-301', () => true, flood)).rejects.toThrow(/the 16 Ids this address may hold without a token are all connected; .* a new one needs a token/);
    // Without a cap (or with tokens, where the server passes none), the old behaviour.
    expect((await reloaded.assign('uncapped', none)).reused).toBeUndefined();
  });

  it('last-seen times reach the file on flush()', async () => {
    const file = join(dir, 'seen.json');
    const store = await AssignmentStore.load(new PrefixRange('2001:db8:100::/56'), file);
    await store.assign('x', none);
    await store.assign('y', none);
    const first = (await readJson(file)).x!.LastSeen!;
    await new Promise((r) => setTimeout(r, 5));
    store.seen('x');
    await store.flush();
    const saved = await readJson(file);
    expect(Object.keys(saved)).toEqual(['y', 'x']);
    expect(Date.parse(saved.x!.LastSeen!)).toBeGreaterThan(Date.parse(first));
  });

  it('caps the assignments at the range size and at 65536 by default', async () => {
    expect((await AssignmentStore.load(new PrefixRange('2001:db8:100::/60'))).maxAssignments).toBe(16);
    expect((await AssignmentStore.load(new PrefixRange('2001:db8::/32'))).maxAssignments).toBe(65_536);
    expect((await AssignmentStore.load(new PrefixRange('2001:db8:100::/60'), undefined, { maxAssignments: 100 })).maxAssignments).toBe(16);
    await expect(AssignmentStore.load(new PrefixRange('2001:db8::/32'), undefined, { maxAssignments: 70_000 })).rejects.toThrow(/1 to 65536/);
  });

  it('hands out a /32 range quickly (the free-prefix scan does not restart from the range start)', async () => {
    const store = await AssignmentStore.load(new PrefixRange('2001:db8::/32'), undefined, { maxAssignments: 20_000 });
    const started = Date.now();
    for (let i = 0; i < 20_000; i++) await store.assign(`id${i}`, none);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(store.get('id19999')?.text).toBe('2001:db8:0:4e1f::/64');
  });

  it('treats an absent or empty (touched) file as no assignments', async () => {
    const range = new PrefixRange('2001:db8:100::/56');
    expect((await AssignmentStore.load(range, join(dir, 'absent.json'))).size).toBe(0);
    await writeFile(join(dir, 'empty.json'), '');
    expect((await AssignmentStore.load(range, join(dir, 'empty.json'))).size).toBe(0);
  });

  it('refuses a malformed file rather than risk giving a prefix away twice', async () => {
    const range = new PrefixRange('2001:db8:100::/56');
    const cases: Array<[string, RegExp]> = [
      ['{"a": ', /not valid JSON/],
      ['[1]', /JSON object/],
      ['{"a": 5}', /neither a prefix string nor an object/],
      ['{"a": {"LastSeen": "2024-01-01T00:00:00Z"}}', /no "Prefix" string/],
      ['{"a": {"Prefix": "2001:db8:100::/64", "LastSeen": "yesterday"}}', /"LastSeen" that is not a date/],
      ['{"a": "2001:db8:100::/56"}', /not a \/64/],
      ['{"a": "2001:db8:100::/64", "b": {"Prefix": "2001:db8:100::/64"}}', /assigned twice/],
    ];
    for (const [content, message] of cases) {
      await writeFile(join(dir, 'bad.json'), content);
      await expect(AssignmentStore.load(range, join(dir, 'bad.json'))).rejects.toThrow(message);
      await expect(AssignmentStore.load(range, join(dir, 'bad.json'))).rejects.toBeInstanceOf(InputError);
    }
  });

  it('keeps entries outside the range in the file but hands out only prefixes inside it', async () => {
    const file = join(dir, 'a.json');
    await writeFile(file, JSON.stringify({ old: '2001:db8:9999::/64', kept: '2001:db8:100::/64' }));
    const store = await AssignmentStore.load(new PrefixRange('2001:db8:100::/56'), file);
    expect(store.foreignIds).toEqual(['old']);
    expect(await text(store.assign('new', none))).toBe('2001:db8:100:1::/64');
    expect(await readJson(file)).toEqual({ old: '2001:db8:9999::/64', kept: { Prefix: '2001:db8:100::/64' }, new: { Prefix: '2001:db8:100:1::/64', LastSeen: expect.any(String) } });
    expect(await text(store.assign('old', none))).toBe('2001:db8:100:2::/64');
  });

  it('says so when the range is exhausted and every Id holding a prefix is connected', async () => {
    const store = await AssignmentStore.load(new PrefixRange('2001:db8:100::/63'));
    await store.assign('a', none);
    await store.assign('b', none);
    await expect(store.assign('c', () => true)).rejects.toThrow(/no free \/64 left in 2001:db8:100::\/63: all 2 assigned prefixes are in use/);
    expect(await store.assign('c', (id) => id === 'a')).toMatchObject({ reused: { id: 'b' } });
  });

  it('a failed write takes nothing away: the reused Id keeps its prefix and its place', async () => {
    const file = join(dir, 'sub', 'a.json'); // its folder does not exist: every write fails
    const store = await AssignmentStore.load(new PrefixRange('2001:db8:100::/63'), file);
    await expect(store.assign('a', none)).rejects.toThrow(/cannot store the assignment/);
    expect(store.size).toBe(0);
    await mkdir(join(dir, 'sub'));
    await store.assign('a', none);
    await store.assign('b', none);
    await rm(join(dir, 'sub'), { recursive: true });
    await expect(store.assign('c', none)).rejects.toThrow(/cannot store the assignment/);
    expect(store.get('a')?.text).toBe('2001:db8:100::/64');
    expect(store.get('c')).toBeUndefined();
    await mkdir(join(dir, 'sub'));
    expect((await store.assign('c', none)).reused?.id).toBe('a'); // still first in line
  });
});

describe('TokenPolicy', () => {
  it('reads "ID TOKEN" lines and "* TOKEN" shared tokens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sixswarm-tokens-'));
    try {
      const file = join(dir, 'tokens');
      await writeFile(file, '# comment\n\naa:bb secret-a\n* shared\n');
      const p = await TokenPolicy.fromFile(file);
      expect(p.check('aa:bb', 'secret-a')).toEqual({ ok: true });
      expect(p.check('aa:bb', 'shared')).toEqual({ ok: true });
      expect(p.check('cc:dd', 'shared')).toEqual({ ok: true });
      expect(p.check('cc:dd', 'secret-a')).toEqual({ ok: false, reason: 'invalid token for this Id' });
      expect(p.check('aa:bb', undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/requires a token/) });
      await writeFile(file, 'aa:bb\n');
      await expect(TokenPolicy.fromFile(file)).rejects.toThrow(/line 1: expected "ID TOKEN"/);
      await writeFile(file, '# nothing\n');
      await expect(TokenPolicy.fromFile(file)).rejects.toThrow(/holds no tokens/);
      await writeFile(file, 'caf\u00e9 secret\n');
      await expect(TokenPolicy.fromFile(file)).rejects.toThrow(/line 1: no client could present this Id: an Id is 1-128 printable ASCII/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets everyone in when no token is configured', () => {
    expect(new TokenPolicy().check('x', undefined)).toEqual({ ok: true });
  });
});

describe('parseIni', () => {
  it("reads the original's config.ini", () => {
    const ini = parseIni('; tunnel\n[Server]\nlocalhost = 192.0.2.1\nlistenport=14629 ; the port\nprefixrange = 2001:db8:100::/56\n\n[client]\nremotehost = x\n');
    expect(ini.get('server')?.get('listenport')).toBe('14629');
    expect(ini.get('server')?.get('prefixrange')).toBe('2001:db8:100::/56');
    expect(ini.get('client')?.get('remotehost')).toBe('x');
    expect(() => parseIni('[server]\nnonsense\n', 'config.ini')).toThrow(/config.ini, line 2/);
  });
});
