/**
 * ut_holepunch (BEP 55) in memory: the codec (exact layout, both families, every error code,
 * hostile input refused), and the three roles over partners that record what they were sent:
 * the relay's answers and its limits (an asker cannot make it flood a target), the target's
 * refusals (a relay cannot aim our dials at our LAN or at one host over and over), the
 * initiator's rendezvous after a failed dial and what it does with the answer.
 */
import { describe, expect, it } from 'vitest';
import { decodeHolepunch, encodeHolepunch, HP_ERROR, MAX_MESSAGE_BYTES, type HolepunchMessage } from '../../src/ext/ut-holepunch/codec.js';
import { HolepunchConnection } from '../../src/ext/ut-holepunch/connection.js';
import { CONNECTS_PER_PAIR, CONNECTS_PER_RELAY, CONNECTS_PER_TARGET, DIALS_PER_HOST, ERRORS_PER_ASKER, HolepunchTorrent, MESSAGES_PER_ASKER, RENDEZVOUS_PER_ASKER, type HolepunchStep, type HolepunchSwarm } from '../../src/ext/ut-holepunch/torrent.js';
import type { PeerAddress } from '../../src/net/compact.js';
import type { ExtensionHandshake } from '../../src/wire/extension-handshake.js';
import { ProtocolError } from '../../src/wire/frame-decoder.js';

const v4 = (host: string, port: number): PeerAddress => ({ host, port, family: 4 });
const v6 = (host: string, port: number): PeerAddress => ({ host, port, family: 6 });

describe('ut_holepunch codec', () => {
  it('encodes the BEP 55 layout for IPv4 and IPv6 and decodes it back', () => {
    const r = encodeHolepunch({ type: 'rendezvous', peer: v4('203.0.113.7', 6881) });
    expect(r.toString('hex')).toBe('0000' + 'cb007107' + '1ae1' + '00000000');
    const c = encodeHolepunch({ type: 'connect', peer: v6('2001:db8::1', 51413) });
    expect(c.length).toBe(MAX_MESSAGE_BYTES);
    expect(c.toString('hex')).toBe('0101' + '20010db8000000000000000000000001' + 'c8d5' + '00000000');
    for (const m of [
      { type: 'rendezvous', peer: v4('203.0.113.7', 6881) },
      { type: 'connect', peer: v6('2001:db8::1', 51413) },
      ...Object.keys(HP_ERROR).map((error) => ({ type: 'error', peer: v6('2001:db8:ff::20', 1), error })),
    ] as HolepunchMessage[]) {
      expect(decodeHolepunch(encodeHolepunch(m))).toEqual(m);
    }
    const e = encodeHolepunch({ type: 'error', peer: v4('198.51.100.2', 6881), error: 'noSupport' });
    expect(e.readUInt32BE(8)).toBe(3);
  });

  it('refuses anything but an exact message, with a ProtocolError that says what is wrong', () => {
    const good = encodeHolepunch({ type: 'connect', peer: v4('203.0.113.7', 6881) });
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.alloc(0), /0 bytes/],
      [Buffer.from([1]), /1 bytes/],
      [Buffer.concat([good, Buffer.from([0])]), /is 8 or 12 bytes, not 13/],
      [good.subarray(0, 11), /is 8 or 12 bytes, not 11/],
      [good.subarray(0, 7), /is 8 or 12 bytes, not 7/],
      [Buffer.from([3, 0, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0]), /type 3/],
      [Buffer.from([1, 2, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0]), /address type 2/],
      [Buffer.from([1, 1, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0]), /IPv6 address is 20 or 24 bytes, not 12/],
      [encodeHolepunch({ type: 'error', peer: v4('203.0.113.7', 6881), error: 'noSelf' }).subarray(0, 8), /error with an IPv4 address is 12 bytes, not 8/],
      [Buffer.from([2, 0, 1, 2, 3, 4, 0, 1, 0, 0, 0, 5]), /error code 5/],
      [Buffer.from([2, 0, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0]), /error code 0/],
      [Buffer.alloc(1 << 20, 1), /1048576/],
    ];
    for (const [b, why] of cases) expect(() => decodeHolepunch(b)).toThrow(why);
    for (const [b] of cases) expect(() => decodeHolepunch(b)).toThrow(ProtocolError);
    // libtorrent sends rendezvous and connect without err_code.
    expect(decodeHolepunch(good.subarray(0, 8))).toEqual({ type: 'connect', peer: v4('203.0.113.7', 6881) });
    const v6r = encodeHolepunch({ type: 'rendezvous', peer: v6('2001:db8:1::10', 6881) });
    expect(decodeHolepunch(v6r.subarray(0, 20))).toEqual({ type: 'rendezvous', peer: v6('2001:db8:1::10', 6881) });
    // A connect with a non-zero code is read as a connect (libtorrent ignores the field there).
    const odd = Buffer.from(good);
    odd.writeUInt32BE(7, 8);
    expect(decodeHolepunch(odd)).toEqual({ type: 'connect', peer: v4('203.0.113.7', 6881) });
  });

  it('will not encode an address of the wrong family or a port out of range', () => {
    expect(() => encodeHolepunch({ type: 'connect', peer: { host: '2001:db8::1', port: 1, family: 4 } })).toThrow(/IPv4/);
    expect(() => encodeHolepunch({ type: 'connect', peer: v4('203.0.113.7', 70000) })).toThrow(/port/);
  });
});

/** A swarm that records dials and steps; `connectedAt` lists peers connected without ut_holepunch. */
class FakeSwarm implements HolepunchSwarm {
  readonly punches: Array<{ ep: PeerAddress; relay: string; role: string }> = [];
  readonly steps: HolepunchStep[] = [];
  connectedAt: PeerAddress[] = [];
  refuseWith: string | undefined;
  /** How often the relay asked whether a peer is connected: the lookup a flood must not multiply. */
  lookups = 0;
  connected(ep: PeerAddress): boolean {
    this.lookups++;
    return this.connectedAt.some((p) => p.host === ep.host && p.port === ep.port);
  }
  isSelf(host: string, port: number): boolean {
    return host === '203.0.113.1' && port === 6881;
  }
  punch(ep: PeerAddress, relay: string, role: 'initiator' | 'target'): string | undefined {
    if (this.refuseWith) return this.refuseWith;
    this.punches.push({ ep, relay, role });
    return undefined;
  }
  event(e: HolepunchStep): void {
    this.steps.push(e);
  }
}

/** A partner at `remote` (its extended handshake saying it listens on `listenPort`) that records every message sent to it. */
function partner(torrent: HolepunchTorrent, remote: PeerAddress, o: { outgoing?: boolean; listenPort?: number; utp?: boolean } = {}) {
  const sent: HolepunchMessage[] = [];
  const ext: ExtensionHandshake | undefined = o.listenPort ? { m: new Map([['ut_holepunch', 4]]), port: o.listenPort } : undefined;
  const conn = new HolepunchConnection(
    torrent,
    { remote, peerId: Buffer.alloc(20), outgoing: o.outgoing ?? false, transport: o.utp ? 'utp' : 'tcp', ext, close: () => {}, useful: () => {} },
    (payload) => {
      sent.push(decodeHolepunch(Buffer.from(payload)));
      return true;
    },
  );
  const say = (m: HolepunchMessage) => conn.onMessage(encodeHolepunch(m));
  return { conn, sent, say, peer: remote };
}

function setup() {
  const clock = { now: 1_000_000 };
  const swarm = new FakeSwarm();
  const torrent = new HolepunchTorrent(swarm, () => clock.now);
  return { clock, swarm, torrent };
}

describe('ut_holepunch relay', () => {
  it('introduces two partners to each other: the asker where it asked, the target at the asker\'s listening address', () => {
    const { torrent, swarm } = setup();
    // A came in over TCP from a NAT's port 40000 and listens on 6881; B we dialed.
    const a = partner(torrent, v4('198.51.100.2', 40000), { listenPort: 6881 });
    const b = partner(torrent, v4('198.51.100.6', 6881), { outgoing: true });
    a.say({ type: 'rendezvous', peer: v4('198.51.100.6', 6881) });
    expect(b.sent).toEqual([{ type: 'connect', peer: v4('198.51.100.2', 6881) }]);
    expect(a.sent).toEqual([{ type: 'connect', peer: v4('198.51.100.6', 6881) }]);
    expect(swarm.steps).toEqual([{ role: 'relay', step: 'relayed', peer: '198.51.100.6:6881', via: '198.51.100.2:40000' }]);
    // A target known by its listening port (BEP 10 `p`) is found by it too, over IPv6 as well.
    const c = partner(torrent, v6('2001:db8:1::10', 50000), { listenPort: 6881 });
    const d = partner(torrent, v6('2001:db8:2::10', 50001), { listenPort: 6882 });
    d.say({ type: 'rendezvous', peer: v6('2001:db8:1::10', 6881) });
    expect(c.sent).toEqual([{ type: 'connect', peer: v6('2001:db8:2::10', 6882) }]);
    expect(d.sent).toEqual([{ type: 'connect', peer: v6('2001:db8:1::10', 6881) }]);
    // One that came over uTP is reached where its datagrams come from (its NAT's mapping of its listening socket).
    const e = partner(torrent, v4('198.51.100.10', 30000), { listenPort: 6881, utp: true });
    const f = partner(torrent, v4('198.51.100.11', 6881), { outgoing: true });
    e.say({ type: 'rendezvous', peer: v4('198.51.100.11', 6881) });
    expect(f.sent).toEqual([{ type: 'connect', peer: v4('198.51.100.10', 30000) }]);
    expect(torrent.summary()).toMatchObject({ partners: 6, rendezvousIn: 3, relayed: 3, errorsSent: 0 });
  });

  it('answers with the error BEP 55 defines for each case', () => {
    const { torrent, swarm } = setup();
    const a = partner(torrent, v4('198.51.100.2', 6881), { outgoing: true });
    swarm.connectedAt = [v4('198.51.100.9', 6881)];
    const ask = (peer: PeerAddress) => {
      a.sent.length = 0;
      a.say({ type: 'rendezvous', peer });
      return a.sent;
    };
    const err = (peer: PeerAddress, error: string) => [{ type: 'error', peer, error }];
    expect(ask(v4('198.51.100.7', 6881))).toEqual(err(v4('198.51.100.7', 6881), 'notConnected'));
    expect(ask(v4('198.51.100.9', 6881))).toEqual(err(v4('198.51.100.9', 6881), 'noSupport'));
    expect(ask(v4('203.0.113.1', 6881))).toEqual(err(v4('203.0.113.1', 6881), 'noSelf')); // the relay itself
    expect(ask(v4('198.51.100.2', 6881))).toEqual(err(v4('198.51.100.2', 6881), 'noSelf')); // the asker itself
    expect(ask(v4('0.0.0.0', 6881))).toEqual(err(v4('0.0.0.0', 6881), 'noSuchPeer'));
    expect(ask(v4('224.0.0.1', 6881))).toEqual(err(v4('224.0.0.1', 6881), 'noSuchPeer'));
    expect(ask(v4('198.51.100.7', 0))).toEqual(err(v4('198.51.100.7', 0), 'noSuchPeer'));
    // Counted, not reported one by one (libtorrent asks about itself every few seconds).
    expect(swarm.steps).toEqual([]);
    expect(torrent.summary().errorsSent).toBe(7);
  });

  it('bounds what one asker gets relayed, and what all askers together send one target', () => {
    const { torrent, clock } = setup();
    const target = partner(torrent, v4('198.51.100.6', 6881), { outgoing: true });
    const askers = Array.from({ length: 40 }, (_, i) => partner(torrent, v4(`198.51.100.${100 + i}`, 6881), { outgoing: true }));
    // One asker floods: it gets its burst to that target relayed, the rest is dropped without an answer.
    for (let i = 0; i < 1000; i++) askers[0]!.say({ type: 'rendezvous', peer: v4('198.51.100.6', 6881) });
    expect(askers[0]!.sent.length).toBe(CONNECTS_PER_PAIR.burst);
    expect(target.sent.length).toBe(CONNECTS_PER_PAIR.burst);
    // Many askers (a botnet) at one target: the target hears no more than its own burst.
    for (const a of askers.slice(1)) for (let i = 0; i < 5; i++) a.say({ type: 'rendezvous', peer: v4('198.51.100.6', 6881) });
    expect(target.sent.length).toBe(CONNECTS_PER_TARGET.burst);
    // Errors answered are bounded per asker too, on a budget of their own: a flood of bad
    // endpoints (libtorrent asks about itself every few seconds) leaves its introductions alone.
    const c = partner(torrent, v4('198.51.100.99', 6881), { outgoing: true });
    for (let i = 0; i < ERRORS_PER_ASKER.burst + 10; i++) c.say({ type: 'rendezvous', peer: v4('198.51.100.99', 6881) });
    expect(c.sent.length).toBe(ERRORS_PER_ASKER.burst);
    const other = partner(torrent, v4('198.51.100.98', 6881), { outgoing: true });
    c.say({ type: 'rendezvous', peer: v4('198.51.100.98', 6881) });
    expect(c.sent.at(-1)).toEqual({ type: 'connect', peer: v4('198.51.100.98', 6881) });
    expect(other.sent).toEqual([{ type: 'connect', peer: v4('198.51.100.99', 6881) }]);
    // A minute later each has its rate again.
    clock.now += 60_000;
    askers[1]!.say({ type: 'rendezvous', peer: v4('198.51.100.6', 6881) });
    expect(target.sent.length).toBe(CONNECTS_PER_TARGET.burst + 1);
    expect(torrent.summary().relayLimited).toBeGreaterThan(1000);
  });

  it('lets no asker lock others out of a target: a flood uses up only its own share', () => {
    const { torrent } = setup();
    const target = partner(torrent, v4('198.51.100.6', 6881), { outgoing: true });
    const flooder = partner(torrent, v4('203.0.113.50', 6881), { outgoing: true });
    for (let i = 0; i < 1000; i++) flooder.say({ type: 'rendezvous', peer: v4('198.51.100.6', 6881) });
    const flooded = target.sent.length;
    const honest = Array.from({ length: 10 }, (_, i) => partner(torrent, v4(`203.0.113.${60 + i}`, 6881), { outgoing: true }));
    for (const h of honest) h.say({ type: 'rendezvous', peer: v4('198.51.100.6', 6881) });
    for (const h of honest) expect(h.sent).toEqual([{ type: 'connect', peer: v4('198.51.100.6', 6881) }]);
    expect(target.sent.length).toBe(flooded + honest.length);
    // One asker's rendezvous to many targets are bounded all together.
    const targets = Array.from({ length: 20 }, (_, i) => partner(torrent, v4(`198.51.100.${100 + i}`, 6881), { outgoing: true }));
    const many = partner(torrent, v4('203.0.113.90', 6881), { outgoing: true });
    for (const t of targets) many.say({ type: 'rendezvous', peer: t.peer });
    expect(targets.filter((t) => t.sent.length > 0).length).toBe(RENDEZVOUS_PER_ASKER.burst);
  });

  it('drops a flood of rendezvous before any lookup: the work it costs is bounded, however many peers we have', () => {
    const { torrent, swarm, clock } = setup();
    for (let i = 0; i < 200; i++) partner(torrent, v4(`198.51.100.${i + 1}`, 6881), { outgoing: true });
    const flooder = partner(torrent, v4('203.0.113.50', 6881), { outgoing: true });
    // Addresses of no partner: each would be looked up among all our peers.
    for (let i = 0; i < 10_000; i++) flooder.say({ type: 'rendezvous', peer: v4(`192.0.2.${i % 250}`, 1000 + i) });
    expect(swarm.lookups).toBe(MESSAGES_PER_ASKER.burst);
    expect(torrent.summary()).toMatchObject({ rendezvousIn: 10_000, relayLimited: 10_000 - ERRORS_PER_ASKER.burst });
    // Another asker is not held up by it, and the flooder gets its rate back over time.
    const honest = partner(torrent, v4('203.0.113.51', 6881), { outgoing: true });
    honest.say({ type: 'rendezvous', peer: v4('198.51.100.1', 6881) });
    expect(honest.sent).toEqual([{ type: 'connect', peer: v4('198.51.100.1', 6881) }]);
    clock.now += 10_000;
    for (let i = 0; i < 10_000; i++) flooder.say({ type: 'rendezvous', peer: v4('192.0.2.1', 1000 + i) });
    expect(swarm.lookups).toBe(MESSAGES_PER_ASKER.burst + MESSAGES_PER_ASKER.perMinute / 6);
  });
});

describe('ut_holepunch target and initiator', () => {
  it('dials over uTP at once when a relay says connect, within limits per relay and per host', () => {
    const { torrent, swarm } = setup();
    const relay = partner(torrent, v4('203.0.113.20', 6881), { outgoing: true });
    relay.say({ type: 'connect', peer: v4('198.51.100.2', 6881) });
    expect(swarm.punches).toEqual([{ ep: v4('198.51.100.2', 6881), relay: '203.0.113.20:6881', role: 'target' }]);
    expect(swarm.steps.at(-1)).toMatchObject({ role: 'target', step: 'dialing', peer: '198.51.100.2:6881' });
    // Many hosts: the relay's own budget ends it.
    for (let i = 0; i < 1000; i++) relay.say({ type: 'connect', peer: v4(`198.51.100.${10 + (i % 200)}`, 6881) });
    expect(swarm.punches.length).toBe(CONNECTS_PER_RELAY.burst);
    // One host named over and over by many relays is dialed a few times, not a thousand.
    for (let i = 0; i < 100; i++) partner(torrent, v4(`203.0.113.${100 + i}`, 6881), { outgoing: true }).say({ type: 'connect', peer: v4('198.51.100.3', 1000 + i) });
    expect(swarm.punches.filter((p) => p.ep.host === '198.51.100.3').length).toBe(DIALS_PER_HOST.burst);
    expect(torrent.summary()).toMatchObject({ connectsIn: 1101, punches: CONNECTS_PER_RELAY.burst + DIALS_PER_HOST.burst });
    expect(torrent.summary().connectsRefused).toBe(1101 - CONNECTS_PER_RELAY.burst - DIALS_PER_HOST.burst);
  });

  it('never dials where a relay could not have pointed it in PEX (our LAN, loopback, ourselves)', () => {
    const { torrent, swarm } = setup();
    const relay = partner(torrent, v6('2001:db8:ff::20', 6881), { outgoing: true });
    for (const peer of [v4('192.168.1.1', 80), v4('127.0.0.1', 6881), v6('fd00::1', 6881), v6('fe80::1', 6881), v6('::1', 6881), v4('203.0.113.1', 6881), v4('198.51.100.2', 0), v4('224.0.0.251', 5353)]) {
      relay.say({ type: 'connect', peer });
    }
    expect(swarm.punches).toEqual([]);
    // A relay on our LAN may name LAN peers.
    const lan = partner(torrent, v4('192.168.1.20', 6881), { outgoing: true });
    lan.say({ type: 'connect', peer: v4('192.168.1.30', 6881) });
    expect(swarm.punches.map((p) => p.ep.host)).toEqual(['192.168.1.30']);
  });

  it('asks the partner that told it of a peer after a failed dial, once a minute per peer, and acts on the answer', () => {
    const { torrent, swarm, clock } = setup();
    const relay = partner(torrent, v4('203.0.113.20', 6881), { outgoing: true });
    const target = v4('198.51.100.2', 6881);
    expect(torrent.dialFailed(target, '203.0.113.99:6881')).toBe(false); // not a partner of ours
    expect(torrent.dialFailed(target, '203.0.113.20:6881')).toBe(true);
    expect(relay.sent).toEqual([{ type: 'rendezvous', peer: target }]);
    expect(torrent.dialFailed(target, '203.0.113.20:6881')).toBe(false);
    // Its connect is acted on even past the relay's unsolicited budget: we asked.
    relay.say({ type: 'connect', peer: target });
    expect(swarm.punches).toEqual([{ ep: target, relay: '203.0.113.20:6881', role: 'initiator' }]);
    // An error answer is reported; one for something we did not ask about is ignored.
    clock.now += 61_000;
    expect(torrent.dialFailed(target, '203.0.113.20:6881')).toBe(true);
    relay.say({ type: 'error', peer: target, error: 'notConnected' });
    relay.say({ type: 'error', peer: v4('198.51.100.77', 6881), error: 'noSupport' });
    expect(torrent.summary().errorsIn).toEqual({ notConnected: 1 });
    expect(swarm.steps.filter((s) => s.step === 'failed')).toEqual([
      { role: 'initiator', step: 'failed', peer: '198.51.100.2:6881', via: '203.0.113.20:6881', reason: 'the relay is not connected to that peer' },
    ]);
  });

  it('forgets a partner that left: its pending rendezvous and its place as a relay', () => {
    const { torrent } = setup();
    const relay = partner(torrent, v4('203.0.113.20', 6881), { outgoing: true });
    relay.conn.onClose();
    expect(torrent.dialFailed(v4('198.51.100.2', 6881), '203.0.113.20:6881')).toBe(false);
    expect(torrent.summary().partners).toBe(0);
  });
});
