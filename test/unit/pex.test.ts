/**
 * ut_pex in memory: the codec (round trip, every address check, its bounds) and one connection's
 * rules with a clock of the test's own (the first message and the minute between messages, the
 * 50-entry lists, added and dropped kept apart, what a partner is told and not told; on the way
 * in: the lenient minute, the caps per message and per partner, the littering partner).
 */
import { ENV } from '../../src/util/environment.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/bencode/index.js';
import { BDict } from '../../src/bencode/index.js';
import { PEX_FLAGS, decodePex, partnerScope, encodePex, MAX_PEX_BYTES, type DecodeRules, type PexPeer } from '../../src/ext/ut-pex/codec.js';
import { MAX_READ_PER_MESSAGE, MAX_TAKEN_PER_MESSAGE, PARTNER_BURST, PexConnection } from '../../src/ext/ut-pex/connection.js';
import { PexTorrent, type PexSwarm, type SwarmPeerFacts } from '../../src/ext/ut-pex/torrent.js';
import { type Family } from '../../src/net/address.js';
import { encodeCompactPeer, type PeerAddress } from '../../src/net/compact.js';
import type { PeerAddressHint, PeerSource } from '../../src/swarm/peer-pool.js';
import type { ExtensionPeer } from '../../src/wire/extensions.js';
import { ProtocolError } from '../../src/wire/frame-decoder.js';

const OUR_PORT = 6881;
const OUR_V6 = '2001:db8::1';

const rules = (o: Partial<DecodeRules> = {}): DecodeRules => ({
  partner: 'global',
  isSelf: (host, port) => port === OUR_PORT && host === OUR_V6,
  maxEntries: 10_000,
  ...o,
});
const peer = (host: string, port: number, flags = 0): PexPeer => ({ host, port, family: host.includes(':') ? 6 : 4, flags });
const blob = (list: { host: string; port: number }[]) => Buffer.concat(list.map(encodeCompactPeer));
const message = (d: Record<string, Buffer>) => encode(d);

describe('ut_pex codec', () => {
  it('round-trips added (with flags) and dropped of both families, every key present as libtorrent sends them', () => {
    const added = [peer('203.0.113.5', 6881, PEX_FLAGS.seed | PEX_FLAGS.reachable), peer('2001:db8:5::7', 51413, PEX_FLAGS.encryption), peer('198.51.100.9', 1)];
    const dropped: PeerAddress[] = [{ host: '203.0.113.77', port: 9, family: 4 }, { host: '2001:db8:9::9', port: 99, family: 6 }];
    const bytes = encodePex(added, dropped);
    const d = decode(bytes) as BDict;
    expect([...d.keys()]).toEqual(['added', 'added.f', 'added6', 'added6.f', 'dropped', 'dropped6']);
    expect(d.get('added')).toEqual(blob([added[0]!, added[2]!]));
    expect(d.get('added.f')).toEqual(Buffer.from([0x12, 0]));
    expect(d.get('added6')).toEqual(blob([added[1]!]));
    expect(d.get('added6.f')).toEqual(Buffer.from([0x01]));
    const back = decodePex(bytes, rules());
    expect(back).toEqual({ added: [added[0], added[2], added[1]], dropped, filtered: {}, unread: 0 });
    // An empty message is a valid one.
    expect(decodePex(encodePex([], []), rules())).toEqual({ added: [], dropped: [], filtered: {}, unread: 0 });
  });

  it('refuses every address a partner must not hand on, and counts why', () => {
    const good4 = peer('203.0.113.5', 6881);
    const good6 = peer('2001:db8:5::7', 6881);
    const bytes = message({
      added: blob([good4, peer('224.0.0.1', 1), peer('0.0.0.0', 1), peer('240.0.0.1', 1), peer('169.254.1.1', 1), peer('127.0.0.1', 5000), peer('203.0.113.6', 0), good4, peer('203.0.113.99', 1)]),
      'added.f': Buffer.alloc(9),
      added6: blob([good6, peer('fe80::1', 1), peer('ff02::1', 1), peer('::', 1), peer('::1', 5000), peer('::ffff:203.0.113.5', 1), peer(OUR_V6, OUR_PORT), peer('2001:db8:6::1', 0)]),
      'added6.f': Buffer.alloc(8),
      dropped: blob([peer('203.0.113.99', 1)]),
    });
    const d = decodePex(bytes, rules());
    expect(d.added).toEqual([good4, good6]);
    expect(d.filtered).toEqual({ unusable: 7, loopback: 2, 'port-0': 2, duplicate: 1, 'added-and-dropped': 1, 'wrong-family': 1, self: 1 });
    // From a partner that is on loopback itself, loopback peers are its neighbours and ours.
    const local = decodePex(bytes, rules({ partner: 'loopback' }));
    expect(local.added.map((p) => p.host)).toEqual(['203.0.113.5', '127.0.0.1', '2001:db8:5::7', '::1']);
    expect(local.filtered.loopback).toBeUndefined();
  });

  it('takes private, CGNAT and unique-local addresses only from a partner in that scope (a stranger cannot point us at the LAN)', () => {
    const lan = [peer('192.168.1.1', 80), peer('10.0.0.7', 6881), peer('100.64.3.4', 6881), peer('fd00::5', 6881)];
    const bytes = message({ added: blob([peer('203.0.113.5', 6881), ...lan.slice(0, 3)]), 'added.f': Buffer.alloc(4), added6: blob([lan[3]!]), 'added6.f': Buffer.alloc(1) });
    const fromInternet = decodePex(bytes, rules({ partner: 'global' }));
    expect(fromInternet.added.map((p) => p.host)).toEqual(['203.0.113.5']);
    expect(fromInternet.filtered).toEqual({ 'foreign-scope': 4 });
    expect(decodePex(bytes, rules({ partner: 'local' })).added).toHaveLength(5);
    expect(decodePex(bytes, rules({ partner: 'loopback' })).added).toHaveLength(5);
    expect([partnerScope('192.168.1.9'), partnerScope('100.64.0.1'), partnerScope('fd12::1'), partnerScope('::1'), partnerScope('2001:db8::1')]).toEqual(['local', 'local', 'local', 'loopback', 'global']);
  });

  it('refuses documentation addresses unless the test topology says they are its Internet', () => {
    const bytes = message({ added6: blob([peer('2001:db8::77', 6881)]), 'added6.f': Buffer.alloc(1) });
    const saved = process.env[ENV.documentationAsGlobal];
    try {
      delete process.env[ENV.documentationAsGlobal];
      expect(decodePex(bytes, rules()).filtered).toEqual({ unusable: 1 });
    } finally {
      process.env[ENV.documentationAsGlobal] = saved;
    }
    expect(decodePex(bytes, rules()).added).toHaveLength(1);
  });

  it('tells the families apart by the flags: IPv6 entries in added and IPv4 entries in added6 are refused whole', () => {
    // Three 18-byte entries also tile `added` as nine 6-byte ones; three flag bytes say what was meant.
    const six = [peer('2001:db8::5', 1), peer('2001:db8::6', 2), peer('2001:db8::7', 3)];
    expect(decodePex(message({ added: blob(six), 'added.f': Buffer.alloc(3) }), rules())).toMatchObject({ added: [], filtered: { 'wrong-family': 3 } });
    const four = [peer('203.0.113.1', 1), peer('203.0.113.2', 2), peer('203.0.113.3', 3)];
    expect(decodePex(message({ added6: blob(four), 'added6.f': Buffer.alloc(3) }), rules())).toMatchObject({ added: [], filtered: { 'wrong-family': 3 } });
    // IPv4 entries that cannot tile an IPv6 field: 2 x 6 bytes.
    expect(decodePex(message({ added6: blob(four.slice(0, 2)) }), rules())).toMatchObject({ added: [], filtered: { 'wrong-family': 2 } });
    // A length that fits neither size.
    expect(decodePex(message({ added: Buffer.alloc(7), dropped6: Buffer.alloc(5) }), rules())).toMatchObject({ added: [], filtered: { malformed: 3 } });
    // Flags of the wrong length are ignored, not the peers.
    expect(decodePex(message({ added: blob([four[0]!]), 'added.f': Buffer.from([2, 2]) }), rules()).added).toEqual([four[0]]);
  });

  it('reads at most maxEntries entries of a huge message and only counts the rest', () => {
    const many = Array.from({ length: 5000 }, (_, i) => peer(`203.0.${113 - (i >> 8 & 1)}.${i & 255}`, 1000 + i));
    const d = decodePex(message({ added: blob(many), 'added.f': Buffer.alloc(5000) }), rules({ maxEntries: MAX_READ_PER_MESSAGE }));
    expect(d.added).toHaveLength(MAX_READ_PER_MESSAGE);
    expect(d.unread).toBe(5000 - MAX_READ_PER_MESSAGE);
  });

  it('throws ProtocolError (never anything else) on broken bencode, a non-dictionary, a field of the wrong type, or an oversized message', () => {
    const bad = [
      Buffer.from('l-3:e'),
      Buffer.from('d5:added'),
      Buffer.from('le'),
      Buffer.from('i5e'),
      encode({ added: 5 }),
      encode({ 'added6.f': [1, 2] }),
      Buffer.concat([Buffer.from(`d5:added${MAX_PEX_BYTES}:`), Buffer.alloc(MAX_PEX_BYTES), Buffer.from('e')]),
      encode({ x: Array.from({ length: 300 }, (_, i) => i) }),
      Buffer.alloc(0),
    ];
    for (const b of bad) expect(() => decodePex(b, rules()), b.subarray(0, 20).toString()).toThrow(ProtocolError);
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(1 + (i % 64));
      try {
        decodePex(b, rules());
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
      }
    }
  });
});

/** A swarm as PEX sees it: a list of peers, and what PEX did to it. */
class SwarmView implements PexSwarm {
  list: SwarmPeerFacts[] = [];
  readonly taken: { addrs: PeerAddressHint[]; source: PeerSource }[] = [];
  readonly droppedFrom: string[] = [];
  readonly warnings: string[] = [];
  peers(): Iterable<SwarmPeerFacts> {
    return this.list;
  }
  addPeers(addrs: PeerAddressHint[], source: PeerSource): number {
    this.taken.push({ addrs, source });
    return addrs.length;
  }
  dropFrom(from: string): number {
    this.droppedFrom.push(from);
    return this.taken.filter((t) => t.source.from === from).reduce((n, t) => n + t.addrs.length, 0);
  }
  selfCheck() {
    return rules().isSelf;
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
}

let ids = 0;
function facts(host: string, o: Partial<SwarmPeerFacts> = {}): SwarmPeerFacts {
  return { id: (++ids).toString(16).padStart(40, '0'), host, family: (host.includes(':') ? 6 : 4) as Family, remotePort: 6881, outgoing: true, seed: false, prefersEncryption: false, utp: false, holepunch: false, ...o };
}

/** One PEX connection to a partner at `host`, with the test's clock and every payload it sent. */
function partner(view: SwarmView, host: string, o: { id?: string; clock?: { now: number } } = {}) {
  const torrent = new PexTorrent(view);
  const clock = o.clock ?? { now: 1_000_000 };
  const sent: Buffer[] = [];
  const ext: ExtensionPeer = {
    remote: { host, port: 40000, family: host.includes(':') ? 6 : 4 },
    peerId: Buffer.from(o.id ?? 'ff'.repeat(20), 'hex'),
    outgoing: false,
    transport: 'tcp',
    ext: undefined,
    close: () => {},
    useful: () => {},
  };
  const conn = new PexConnection(torrent, ext, (p) => (sent.push(Buffer.from(p)), true), () => clock.now);
  const last = () => decodePex(sent.at(-1)!, rules({ partner: 'loopback' }));
  return { torrent, conn, clock, sent, last };
}

describe('one PEX connection: sending', () => {
  it('sends the current set at once, with the right flags, IPv6 peers in added6 to an IPv4 partner, not the partner itself', () => {
    const view = new SwarmView();
    const self = facts('198.51.100.40', { id: 'ff'.repeat(20), outgoing: false, remotePort: 40000, listenPort: 6000 });
    view.list = [
      facts('2001:db8::10', { seed: true }), // we dialed it: reachable
      facts('203.0.113.11', { outgoing: false, remotePort: 5000, listenPort: 5000, prefersEncryption: true }), // came in from its listening port: reachable
      facts('203.0.113.12', { outgoing: false, remotePort: 41234, listenPort: 7000, utp: true }), // came in from another port (over uTP): not known reachable
      facts('203.0.113.13', { outgoing: false, remotePort: 41235 }), // no listening port: never passed on
      facts('::1', { remotePort: 7777 }), // loopback: nothing to a partner elsewhere
      facts('fe80::5', { remotePort: 7778 }), // link-local: nothing to anyone
      facts('0.0.0.0', { remotePort: 7779 }),
      self,
    ];
    const p = partner(view, '198.51.100.40');
    expect(p.sent).toHaveLength(0);
    p.conn.onExtendedHandshake();
    expect(p.sent).toHaveLength(1);
    expect(p.last().added).toEqual([
      peer('203.0.113.11', 5000, PEX_FLAGS.reachable | PEX_FLAGS.encryption),
      peer('203.0.113.12', 7000, PEX_FLAGS.utp),
      peer('2001:db8::10', 6881, PEX_FLAGS.reachable | PEX_FLAGS.seed),
    ]);
    // Only a peer that speaks uTP is told as one.
    expect(p.last().added.filter((e) => e.flags & PEX_FLAGS.utp).map((e) => e.host)).toEqual(['203.0.113.12']);
    expect(p.last().filtered).toEqual({}); // nothing in it that a partner would refuse
    expect(p.torrent.messagesOut).toBe(1);
    // A partner on loopback does hear about loopback peers.
    const q = partner(view, '::1');
    q.conn.onTick(q.clock.now);
    expect(q.last().added.map((e) => e.host).sort()).toEqual(['2001:db8::10', '203.0.113.11', '203.0.113.12', '::1']);
    expect(q.last().filtered).toEqual({});
  });

  it('sends at most 50 added and 50 dropped per message, one message a minute, never adding and dropping one peer together', () => {
    const view = new SwarmView();
    view.list = Array.from({ length: 120 }, (_, i) => facts(`203.0.113.${i + 1}`));
    const p = partner(view, '2001:db8::99');
    p.conn.onExtendedHandshake();
    expect(p.last().added).toHaveLength(50);
    const told = new Set(p.last().added.map((e) => e.host));
    // Nothing more within the minute, whatever changes.
    view.list = view.list.slice(60);
    for (let s = 1; s < 60; s++) {
      p.clock.now += 1000;
      p.conn.onTick(p.clock.now);
    }
    expect(p.sent).toHaveLength(1);
    p.clock.now += 1000;
    p.conn.onTick(p.clock.now);
    expect(p.sent).toHaveLength(2);
    const second = p.last();
    // The first 50 told are all gone now: 50 dropped; the 60 left were never told: 50 of them added.
    expect(second.dropped).toHaveLength(50);
    expect(second.added).toHaveLength(50);
    expect(second.dropped.every((d) => told.has(d.host))).toBe(true);
    expect(second.added.some((a) => second.dropped.some((d) => d.host === a.host))).toBe(false);
    // The rest a minute later; then nothing, since nothing changes.
    p.clock.now += 60_000;
    p.conn.onTick(p.clock.now);
    expect(p.last()).toMatchObject({ added: expect.any(Array), dropped: [] });
    expect(p.last().added).toHaveLength(10);
    p.clock.now += 120_000;
    p.conn.onTick(p.clock.now);
    expect(p.sent).toHaveLength(3);
  });

  it('a peer that leaves and comes back within the minute is neither dropped nor added; an empty set sends nothing', () => {
    const view = new SwarmView();
    const p = partner(view, '2001:db8::99');
    p.conn.onExtendedHandshake();
    expect(p.sent).toHaveLength(0); // nothing to tell, and the minute has not started
    const a = facts('203.0.113.1');
    const b = facts('203.0.113.2');
    view.list = [a];
    p.clock.now += 1000;
    p.conn.onTick(p.clock.now); // the first message goes as soon as there is something in it
    expect(p.last().added.map((e) => e.host)).toEqual(['203.0.113.1']);
    view.list = [b];
    p.clock.now += 10_000;
    p.conn.onTick(p.clock.now);
    view.list = [a, b];
    p.clock.now += 50_000;
    p.conn.onTick(p.clock.now);
    expect(p.sent).toHaveLength(2);
    expect(p.last()).toMatchObject({ added: [{ host: '203.0.113.2' }], dropped: [] });
  });
});

describe('one PEX connection: receiving', () => {
  const flood = (n: number, from = 0) => {
    const list = Array.from({ length: n }, (_, i) => peer(`203.0.${100 + ((from + i) >> 8)}.${(from + i) & 255}`, 1 + ((from + i) % 60000)));
    return message({ added: blob(list), 'added.f': Buffer.alloc(n) });
  };

  it('takes at most 200 of a message and caps the rest, ignores one a second later, accepts one a little under a minute later', () => {
    const view = new SwarmView();
    const p = partner(view, '2001:db8::99');
    p.conn.onMessage(flood(5000));
    const c = p.conn.partner.counts;
    expect(view.taken).toHaveLength(1);
    expect(view.taken[0]!.addrs).toHaveLength(MAX_TAKEN_PER_MESSAGE);
    expect(view.taken[0]!.source).toEqual({ kind: 'pex', from: '[2001:db8::99]:40000' });
    expect(c).toMatchObject({ messages: 1, taken: 200, capped: 4800, filtered: 0, littering: false });
    p.clock.now += 1000;
    p.conn.onMessage(flood(10, 5000));
    expect(c).toMatchObject({ messages: 1, ignored: 1, taken: 200 });
    p.clock.now += 54_000;
    p.conn.onMessage(flood(10, 6000));
    expect(c).toMatchObject({ messages: 2, ignored: 1, taken: 210 });
    expect(p.torrent.summary()).toMatchObject({ partners: 1, messagesIn: 2, taken: 210, capped: 4800, ignored: 1, littering: [] });
  });

  it('hands the swarm flag 0x01 as a wish to be dialed encrypted, 0x04 as a peer to dial over uTP first', () => {
    const view = new SwarmView();
    const p = partner(view, '2001:db8::99');
    const flags = [PEX_FLAGS.encryption | PEX_FLAGS.seed, PEX_FLAGS.seed | PEX_FLAGS.utp];
    p.conn.onMessage(message({ added: blob([peer('203.0.113.1', 1), peer('203.0.113.2', 2)]), 'added.f': Buffer.from(flags) }));
    expect(view.taken[0]!.addrs).toEqual([
      { host: '203.0.113.1', port: 1, prefersEncryption: true, utp: false },
      { host: '203.0.113.2', port: 2, prefersEncryption: false, utp: true },
    ]);
  });

  it('lets one partner give a burst of 500 candidates, then 50 a minute', () => {
    const view = new SwarmView();
    const p = partner(view, '2001:db8::99');
    const c = p.conn.partner.counts;
    for (let i = 0; i < 3; i++) {
      p.conn.onMessage(flood(200, i * 200));
      p.clock.now += 50_000;
    }
    // 200 + 200 + the 100 left of the burst, plus what 100 s earned (83).
    expect(c.taken).toBe(PARTNER_BURST + Math.floor((100_000 / 60_000) * 50));
    p.clock.now += 60_000;
    const before = c.taken;
    p.conn.onMessage(flood(200, 1000));
    expect(c.taken - before).toBeLessThanOrEqual(Math.ceil((110_000 / 60_000) * 50) + 1);
  });

  it('a partner that sends more unusable addresses than usable ones loses its candidates and is not heard again', () => {
    const view = new SwarmView();
    const p = partner(view, '2001:db8::99');
    p.conn.onMessage(message({ added: blob([peer('203.0.113.1', 1), peer('203.0.113.2', 2)]), 'added.f': Buffer.alloc(2) }));
    expect(view.taken).toHaveLength(1);
    p.clock.now += 60_000;
    const junk = [peer('fe80::1', 1), peer('ff02::1', 1), peer('::', 1), ...Array.from({ length: 30 }, (_, i) => peer(`2001:db8::${i + 1}`, 0))];
    p.conn.onMessage(message({ added6: blob([...junk, peer('2001:db8:7::7', 7)]), 'added6.f': Buffer.alloc(junk.length + 1) }));
    const c = p.conn.partner.counts;
    expect(c).toMatchObject({ littering: true, taken: 2, filtered: 33, reasons: { unusable: 3, 'port-0': 30 } });
    expect(view.taken).toHaveLength(1); // nothing of the littering message was taken
    expect(view.droppedFrom).toEqual(['[2001:db8::99]:40000']);
    expect(view.warnings).toEqual([expect.stringMatching(/^PEX partner \[2001:db8::99\]:40000 sends unusable peer addresses \(3 unusable, 30 port-0\): its 2 candidates were dropped/)]);
    p.clock.now += 60_000;
    p.conn.onMessage(flood(5));
    expect(c).toMatchObject({ ignored: 1, taken: 2 });
    expect(p.torrent.summary().littering).toEqual(['[2001:db8::99]:40000']);
    // Gone, it is still remembered in the summary.
    p.conn.onClose();
    expect(p.torrent.summary()).toMatchObject({ partners: 0, taken: 2, filtered: 33, littering: ['[2001:db8::99]:40000'] });
  });

  it('a broken message is a ProtocolError (it closes that peer only)', () => {
    const p = partner(new SwarmView(), '2001:db8::99');
    expect(() => p.conn.onMessage(Buffer.from('l-3:e'))).toThrow(ProtocolError);
  });
});
