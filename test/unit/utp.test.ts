/**
 * uTP's parts in memory: the packet codec (and what it refuses), wrapping sequence and
 * timestamp arithmetic, the delay history, LEDBAT's response to delay and loss, the receiver's
 * ordering, selective ACK bitmask and budget, the sender's windows, selective ACK, fast
 * retransmission, timeouts and FIN, and the MTU search.
 */
import { describe, expect, it } from 'vitest';
import { DelayHistory } from '../../src/utp/delay-history.js';
import { Ledbat, TARGET_DELAY_US } from '../../src/utp/ledbat.js';
import { MtuSearch } from '../../src/utp/mtu.js';
import type { OutPacket } from '../../src/utp/out-packet.js';
import { Header, HEADER_BYTES, readHeader, seqBefore, seqDistance, ST_DATA, ST_FIN, ST_STATE, u32Before, writeHeader } from '../../src/utp/packet.js';
import { Receiver, ReorderBudget, RECEIVE_BUFFER } from '../../src/utp/receiver.js';
import { Sender } from '../../src/utp/sender.js';

function packet(type: number, ext: Buffer | undefined, payload = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + (ext ? ext.length : 0) + payload.length);
  writeHeader(b, type as 0, ext ? 1 : 0, 0x1234, 0xdeadbeef, 0x01020304, 65536, 0xfffe, 7);
  if (ext) ext.copy(b, HEADER_BYTES);
  payload.copy(b, HEADER_BYTES + (ext ? ext.length : 0));
  return b;
}

describe('uTP packet codec', () => {
  it('reads back what it writes, with a selective ACK and payload', () => {
    const sack = Buffer.from([0, 4, 0b101, 0, 0, 0x80]);
    const b = packet(ST_STATE, sack, Buffer.from('hello'));
    const h = new Header();
    expect(readHeader(b, h)).toBe(true);
    expect(h).toMatchObject({ type: ST_STATE, connectionId: 0x1234, timestamp: 0xdeadbeef, timestampDifference: 0x01020304, window: 65536, seq: 0xfffe, ack: 7 });
    expect(h.sackBytes).toBe(4);
    expect(b.subarray(h.sackOffset, h.sackOffset + 4)).toEqual(Buffer.from([0b101, 0, 0, 0x80]));
    expect(b.subarray(h.payloadOffset).toString()).toBe('hello');
  });

  it('skips unknown extensions and refuses malformed packets', () => {
    const h = new Header();
    // An unknown extension (type 2, 8 bytes) followed by a SACK.
    const b = packet(ST_DATA, Buffer.concat([Buffer.from([1, 8]), Buffer.alloc(8), Buffer.from([0, 4, 1, 2, 3, 4])]));
    b[1] = 2;
    expect(readHeader(b, h)).toBe(true);
    expect(h.sackBytes).toBe(4);
    expect(h.payloadOffset).toBe(b.length);
    expect(readHeader(Buffer.alloc(19), h)).toBe(false); // too short
    const v2 = packet(ST_DATA, undefined);
    v2[0] = (ST_DATA << 4) | 2;
    expect(readHeader(v2, h)).toBe(false); // another version
    const t5 = packet(ST_DATA, undefined);
    t5[0] = (5 << 4) | 1;
    expect(readHeader(t5, h)).toBe(false); // no such type
    const overrun = packet(ST_DATA, Buffer.from([0, 200, 1, 2]));
    expect(readHeader(overrun, h)).toBe(false); // an extension longer than the packet
    const cut = packet(ST_DATA, Buffer.from([1]));
    expect(readHeader(cut, h)).toBe(false); // an extension header cut short
  });

  it('compares sequence numbers and timestamps across the wrap', () => {
    expect(seqBefore(0xfffe, 1)).toBe(true);
    expect(seqBefore(1, 0xfffe)).toBe(false);
    expect(seqDistance(2, 0xffff)).toBe(3);
    expect(u32Before(0xffffff00, 0x100)).toBe(true);
    expect(u32Before(0x100, 0xffffff00)).toBe(false);
  });
});

describe('uTP delay history', () => {
  it('measures queuing delay above the lowest sample, across the 32-bit wrap', () => {
    const d = new DelayHistory();
    d.add(0xfffffff0, 0);
    expect(d.add(0x10, 1)).toBe(0x20); // wrapped: 32 µs above the base
    d.add(0xffffffe0, 2); // a new minimum before the wrap
    expect(d.base).toBe(0xffffffe0);
    expect(d.value).toBe(0); // the lowest of the last three samples
  });

  it('forgets a minimum after 13 minutes (clock drift), and shifts with skew', () => {
    const d = new DelayHistory();
    d.add(1000, 0);
    for (let m = 1; m <= 14; m++) d.add(5000, m * 61_000);
    expect(d.base).toBe(5000);
    d.shift(100);
    expect(d.base).toBe(5100);
  });
});

describe('LEDBAT', () => {
  it('doubles per round trip in slow start, grows by at most 3000 bytes per round trip after, shrinks over the target, halves on loss at most every 100 ms', () => {
    const l = new Ledbat(1400, 1 << 20);
    l.full(0);
    for (let i = 0; i < 50; i++) l.acknowledged(1400, 0, 1);
    expect(l.window).toBe(1400 * 51);
    // Near the target: slow start ends; a round trip's ACKs then add under 3000 bytes.
    l.acknowledged(1400, TARGET_DELAY_US * 0.95, 1);
    expect(l.slowStart).toBe(false);
    const ledbat = l.window;
    for (let acked = 0; acked < ledbat; acked += 1400) l.acknowledged(1400, 0, 1);
    expect(l.window - ledbat).toBeGreaterThan(2500);
    expect(l.window - ledbat).toBeLessThanOrEqual(3000);
    // 20% over the target: a round trip's ACKs take a fifth of the window; 50% over or more, half.
    const grown = l.window;
    for (let acked = 0; acked < grown; acked += 1400) l.acknowledged(1400, TARGET_DELAY_US * 1.2, 2);
    expect(l.window / grown).toBeCloseTo(0.8, 1);
    const less = l.window;
    for (let acked = 0; acked < less; acked += 1400) l.acknowledged(1400, TARGET_DELAY_US * 3, 2);
    expect(l.window / less).toBeCloseTo(0.5, 1);
    const before = l.window;
    l.lost(1000);
    l.lost(1050); // within 100 ms: once only
    expect(l.window).toBe(Math.floor(before / 2));
    expect(l.slowStart).toBe(false);
  });

  it('does not grow when the sender never fills the window', () => {
    const l = new Ledbat(1400, 1 << 20);
    l.full(0);
    l.acknowledged(1400, 0, 5000); // the window was last full 5 s ago
    expect(l.window).toBe(1400);
  });
});

describe('uTP receiver', () => {
  const make = (budget = new ReorderBudget(1 << 20)) => {
    const got: string[] = [];
    const r = new Receiver(100, budget, (b) => got.push(b.toString()));
    return { r, got, budget };
  };

  it('delivers in order, holds what comes ahead of a gap, and ends at the FIN', () => {
    const { r, got } = make();
    expect(r.arrive(false, 102, Buffer.from('c'), false)).toBe('taken');
    expect(r.arrive(false, 104, Buffer.from('e'), false)).toBe('taken');
    const b = Buffer.alloc(8);
    expect(r.writeSack(b, 0)).toBe(4);
    expect(b[0]).toBe(0b101); // 102 and 104 (bit 0 = ack + 2)
    expect(r.arrive(false, 101, Buffer.from('b'), false)).toBe('taken');
    expect(got).toEqual(['b', 'c']);
    expect(r.ackNr).toBe(102);
    expect(r.arrive(false, 101, Buffer.from('b'), false)).toBe('duplicate');
    expect(r.arrive(true, 105, Buffer.alloc(0), false)).toBe('taken');
    expect(r.arrive(false, 106, Buffer.from('x'), false)).toBe('dropped'); // past the FIN
    expect(r.ended).toBe(false);
    r.arrive(false, 103, Buffer.from('d'), false);
    expect(got).toEqual(['b', 'c', 'd', 'e']);
    expect(r.ended).toBe(true);
    expect(r.aheadCount).toBe(0);
  });

  it('bounds what it holds: too far ahead, or over the shared budget, is dropped', () => {
    const budget = new ReorderBudget(3000);
    const { r } = make(budget);
    expect(r.arrive(false, 100 + 2000, Buffer.alloc(10), false)).toBe('dropped');
    expect(r.arrive(false, 103, Buffer.alloc(1400), false)).toBe('taken');
    expect(r.arrive(false, 104, Buffer.alloc(1400), false)).toBe('taken');
    expect(r.arrive(false, 105, Buffer.alloc(1400), false)).toBe('dropped');
    expect(budget.used).toBe(2800);
    expect(r.window(0)).toBe(RECEIVE_BUFFER - 2800);
    r.clear();
    expect(budget.used).toBe(0);
  });

  it('keeps a copy of what it holds from a transient buffer, and passes in-order payload on as transient', () => {
    const got: { text: string; transient: boolean }[] = [];
    const r = new Receiver(0, new ReorderBudget(1 << 20), (b, transient) => got.push({ text: b.toString(), transient }));
    const shared = Buffer.from('bbb');
    r.arrive(false, 2, shared, true);
    shared.write('XXX'); // the batch buffer is reused
    const next = Buffer.from('aaa');
    r.arrive(false, 1, next, true);
    expect(got).toEqual([
      { text: 'aaa', transient: true },
      { text: 'bbb', transient: false },
    ]);
  });

  it('counts packets behind the delivered ones as duplicates across the wrap', () => {
    const got: string[] = [];
    const r = new Receiver(0xffff, new ReorderBudget(1 << 20), (b) => got.push(b.toString()));
    expect(r.arrive(false, 0, Buffer.from('a'), false)).toBe('taken');
    expect(r.arrive(false, 0xffff, Buffer.from('z'), false)).toBe('duplicate');
    expect(got).toEqual(['a']);
  });
});

describe('uTP sender', () => {
  const make = () => {
    const sent: { seq: number; type: number; payload: number; transmissions: number }[] = [];
    const s = new Sender(6, 1000, 42, 1 << 20, (p: OutPacket) => sent.push({ seq: p.buf.readUInt16BE(16), type: p.buf[0]! >> 4, payload: p.payload, transmissions: p.transmissions }));
    return { s, sent };
  };
  const sack = (bits: number[]) => {
    const b = Buffer.alloc(4);
    for (const i of bits) b[i >> 3]! |= 1 << (i & 7);
    return b;
  };

  it('sends no more than the congestion window, then more as ACKs come', () => {
    const { s, sent } = make();
    s.queue.push(Buffer.alloc(20_000), undefined);
    s.fill(0, 0);
    expect(sent.length).toBe(1); // the window starts at one packet
    expect(sent[0]).toMatchObject({ seq: 1000, type: ST_DATA, payload: s.mtu.floor - HEADER_BYTES });
    const acked = s.acknowledge(1000, true, undefined, 0, 0, 1000, 1);
    expect(acked).toBe(s.mtu.floor - HEADER_BYTES);
    s.ledbat.full(1);
    s.ledbat.acknowledged(acked, 0, 1);
    s.fill(2000, 2);
    expect(sent.length).toBeGreaterThan(1);
    expect(s.inFlight).toBeLessThanOrEqual(s.ledbat.window);
  });

  it('resends a packet with three later ones selectively acknowledged, once', () => {
    const { s, sent } = make();
    s.ledbat.window = 100_000;
    s.queue.push(Buffer.alloc(8 * 1000), undefined);
    s.fill(0, 0);
    const n = sent.length;
    expect(n).toBeGreaterThanOrEqual(6);
    // 1000 arrived; 1001 lost; 1002, 1003, 1004 arrived (bits 0..2 are ack + 2 = 1002 on).
    s.acknowledge(1000, true, sack([0, 1, 2]), 0, 4, 1000, 1);
    expect(sent.slice(n).map((p) => p.seq)).toEqual([1001]);
    expect(sent[n]!.transmissions).toBe(2);
    s.acknowledge(1000, true, sack([0, 1, 2]), 0, 4, 1100, 1);
    expect(sent.length).toBe(n + 1); // not again on the same evidence
  });

  it('resends the oldest on three duplicate ACKs, and every packet after a timeout', () => {
    const { s, sent } = make();
    s.ledbat.window = 100_000;
    s.queue.push(Buffer.alloc(5 * 1000), undefined);
    s.fill(0, 0);
    const n = sent.length;
    for (let i = 0; i < 3; i++) s.acknowledge(999, true, undefined, 0, 0, 1000, 1);
    expect(sent.slice(n).map((p) => p.seq)).toEqual([1000]);
    expect(s.tick(0, s.rtoAt - 1)).toBe(false);
    expect(s.tick(0, s.rtoAt)).toBe(true);
    expect(s.timeouts).toBe(1);
    expect(s.ledbat.window).toBe(s.mtu.floor); // starts over from one packet
    s.fill(0, s.rtoAt);
    // One packet (here the first, sent as an MTU probe) may always be in flight.
    expect(s.inFlight).toBeLessThanOrEqual(Math.max(s.ledbat.window, 1452));
  });

  it('ignores ACKs of packets never sent, waits on a zero window, and sends the FIN last', () => {
    const { s, sent } = make();
    s.queue.push(Buffer.alloc(100), undefined);
    s.fill(0, 0);
    expect(s.ackInRange(1005)).toBe(false);
    expect(s.ackInRange(1000)).toBe(true);
    s.acknowledge(1000, true, undefined, 0, 0, 10, 1);
    s.setPeerWindow(0);
    s.queue.push(Buffer.alloc(100), undefined);
    s.fill(0, 10);
    expect(sent.length).toBe(1);
    s.tick(0, 10 + 15_000);
    s.fill(0, 10 + 15_000);
    expect(sent.length).toBe(2); // the zero-window probe
    s.acknowledge(1001, true, undefined, 0, 0, 20, 15_020);
    s.setPeerWindow(1 << 20);
    s.finWanted = true;
    s.fill(0, 15_030);
    expect(sent.at(-1)).toMatchObject({ type: ST_FIN, seq: 1002 });
    s.acknowledge(1002, true, undefined, 0, 0, 30, 15_040);
    expect(s.finAcked).toBe(true);
  });

  it('calls each write back once its bytes are in packets', () => {
    const { s } = make();
    s.ledbat.window = 1 << 20;
    const done: number[] = [];
    s.queue.push(Buffer.alloc(3000), () => done.push(1));
    s.queue.push(Buffer.alloc(10), () => done.push(2));
    s.fill(0, 0);
    expect(done).toEqual([1, 2]);
    expect(s.queue.bytes).toBe(0);
  });
});

describe('uTP MTU search', () => {
  it('probes between the floor and the Ethernet ceiling, and settles', () => {
    const m = new MtuSearch(6);
    expect(m.floor).toBe(1232);
    expect(m.ceiling).toBe(1452);
    const first = m.probeSize(0);
    expect(first).toBe((1232 + 1452) >> 1);
    m.sent(first);
    expect(m.probeSize(0)).toBe(0); // one at a time
    m.acknowledged(0);
    expect(m.floor).toBe(first);
    m.sent(m.probeSize(0));
    m.lost(0);
    while (m.probeSize(0) !== 0) {
      m.sent(m.probeSize(0));
      m.acknowledged(0);
    }
    expect(m.ceiling - m.floor).toBeLessThanOrEqual(16);
    expect(m.probeSize(31 * 60_000)).toBeGreaterThan(0); // searches again after 30 minutes
  });
});

it('sets no selective ACK bit past the furthest packet held (the ring reuses slots)', () => {
  const r = new Receiver(0, new ReorderBudget(1 << 20), () => {});
  // 16 slots: packets 2..16 held, 1 missing. Bits for 17..33 must be clear although their
  // slots hold 1..16's packets.
  for (let seq = 2; seq <= 16; seq++) r.arrive(false, seq, Buffer.alloc(1), false);
  const b = Buffer.alloc(8);
  const n = r.writeSack(b, 0);
  const set: number[] = [];
  for (let i = 0; i < n * 8; i++) if (b[i >> 3]! & (1 << (i & 7))) set.push(i + 2);
  expect(set).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
});

it('counts the FIN acknowledged only once everything before it is', () => {
  const sent: number[] = [];
  const s = new Sender(6, 500, 42, 1 << 20, (p: OutPacket) => sent.push(p.buf.readUInt16BE(16)));
  s.ledbat.window = 1 << 20;
  s.queue.push(Buffer.alloc(5000), undefined);
  s.finWanted = true;
  s.fill(0, 0);
  const fin = s.finSeq;
  expect(fin).toBe(sent.at(-1));
  // Everything but the first packet arrived, the FIN included (selectively acknowledged).
  const bits = Buffer.alloc(4);
  for (let seq = 501; seq <= fin; seq++) bits[(seq - 501) >> 3]! |= 1 << ((seq - 501) & 7);
  s.acknowledge(499, true, bits, 0, 4, 100, 1);
  expect(s.finAcked).toBe(false);
  s.acknowledge(fin, true, undefined, 0, 0, 200, 2);
  expect(s.finAcked).toBe(true);
});
