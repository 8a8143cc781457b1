/**
 * Hostile uTP peers against a real listener over UDP on loopback: garbage and packets for
 * connections that do not exist, a SYN flood from a hundred source addresses, a peer that
 * advertises no receive window for ever, the same packet ten thousand times, packets in reverse
 * order, and ACKs of data never sent. What the listener holds and sends stays bounded, nothing
 * crashes, and an honest peer is served meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/transport/transport.js';
import { ST_DATA, ST_FIN, ST_STATE, ST_SYN } from '../../src/utp/packet.js';
import { waitUntil } from '../support/peers.js';
import { RawUtpPeer } from '../support/utp-raw.js';
import { listeningUtp, LOOPBACK, sha1 } from '../support/utp.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A uTP listener on loopback that keeps every stream it accepts, reading all of it. */
async function listener(family: 4 | 6) {
  const streams: { t: Transport; chunks: Buffer[]; ended?: string }[] = [];
  const { net, port } = await listeningUtp(family, (t) => {
    const s: { t: Transport; chunks: Buffer[]; ended?: string } = { t, chunks: [] };
    streams.push(s);
    t.start({ data: (c) => s.chunks.push(Buffer.from(c)), drain: () => {}, close: (r) => (s.ended = r) });
  });
  cleanups.push(() => net.close());
  const stats = async () => (await net.stats())[family]!;
  return { net, port, streams, stats };
}

/** An honest engine-side peer: dials the listener over uTP and sends `data`; resolves once the listener has it all. */
async function honestTransfer(family: 4 | 6, port: number, streams: { chunks: Buffer[] }[], data: Buffer): Promise<void> {
  const { net } = await listeningUtp(family, (t) => t.close());
  cleanups.push(() => net.close());
  const before = streams.length;
  const t = await net.dial({ host: LOOPBACK[family], port }, { signal: AbortSignal.timeout(20_000) });
  t.start({ data: () => {}, drain: () => {}, close: () => {} });
  t.write(data);
  await waitUntil(() => streams.length > before && Buffer.concat(streams[before]!.chunks).length === data.length, 30_000, () => 'the honest peer\'s data arrived');
  expect(sha1(Buffer.concat(streams[before]!.chunks))).toBe(sha1(data));
  t.close();
}

const rawPeer = async (family: 4 | 6, port: number, bind?: string) => {
  const p = await RawUtpPeer.open(family, { host: LOOPBACK[family], port }, bind);
  cleanups.push(() => p.close());
  return p;
};

describe('a uTP listener under attack', () => {
  it('takes garbage and packets for unknown connections at no cost, with few RESETs, and still serves an honest peer', async () => {
    const l = await listener(6);
    const bad = await rawPeer(6, l.port);
    const rss0 = process.memoryUsage().rss;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) bad.sendRaw(randomBytes(Math.floor(Math.random() * 1500)));
      for (let i = 0; i < 100; i++) {
        // Looks like uTP (version 1, a known type) but is random past the first byte.
        const b = randomBytes(20 + Math.floor(Math.random() * 200));
        b[0] = (Math.floor(Math.random() * 5) << 4) | 1;
        bad.sendRaw(b);
      }
      for (let i = 0; i < 100; i++) bad.send({ type: ST_DATA, id: Math.floor(Math.random() * 65536), seq: i, ack: i, payload: randomBytes(100) });
      await new Promise((r) => setImmediate(r));
    }
    await honestTransfer(6, l.port, l.streams, randomBytes(4 * 1024 * 1024));
    const s = await l.stats();
    expect(s.datagramsIn).toBeGreaterThan(5000);
    // RESETs to one source: a few per second at most, never one per packet.
    expect(s.resetsSent).toBeLessThan(20);
    expect(bad.received.length).toBeLessThan(20 + 8); // RESETs, and answers to the few random SYNs it may have sent
    expect(s.halfOpen).toBeLessThanOrEqual(8); // one host holds 8 half-open at most
    expect(l.streams.filter((x) => x.chunks.length > 0)).toHaveLength(1); // only the honest peer got a stream
    expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 1024 * 1024);
  });

  it('keeps the half-open table bounded under a SYN flood from 100 addresses, and an honest peer connects meanwhile', async () => {
    const l = await listener(4);
    const flooders = await Promise.all(Array.from({ length: 100 }, (_, i) => rawPeer(4, l.port, `127.0.1.${i + 1}`)));
    // About 10,000 SYNs a second, new ids each time (the flood runs in this process too, and
    // must leave CPU to the listener and the honest peer).
    let flooding = true;
    let sent = 0;
    const flood = (async () => {
      let id = 0;
      while (flooding) {
        for (const f of flooders) for (let k = 0; k < 2; k++) f.send({ type: ST_SYN, id: id++ & 0xffff, seq: 1, ack: 0 });
        sent += flooders.length * 2;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let honestMs: number;
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = Date.now();
      await honestTransfer(4, l.port, l.streams, randomBytes(1024 * 1024));
      honestMs = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      flooding = false;
      await flood;
    }
    const s = await l.stats();
    expect(sent).toBeGreaterThan(10_000);
    // What reached the listener beyond each source's rate was refused (the kernel may drop some first).
    expect(s.synsRefused).toBeGreaterThan(1000);
    expect(s.halfOpen).toBeLessThanOrEqual(1024);
    // Each source got at most its SYN budget of answers: no amplification, no reflection flood.
    const seconds = 30;
    for (const f of flooders) expect(f.received.length).toBeLessThan(40 + 20 * seconds);
    expect(honestMs).toBeLessThan(10_000);
  });

  it('sends a peer that advertises no window one probe packet per 15 s, and holds only what was written', { timeout: 60_000 }, async () => {
    const l = await listener(6);
    const p = await rawPeer(6, l.port);
    const c = await p.connect(7000, Buffer.from('hello'), 0);
    await waitUntil(() => l.streams.length === 1, 5000, () => 'the stream was accepted');
    const stream = l.streams[0]!;
    stream.t.write(randomBytes(1024 * 1024));
    await new Promise((r) => setTimeout(r, 3000));
    expect(p.received.filter((r) => r.type === ST_DATA)).toHaveLength(0);
    expect(stream.t.queuedBytes).toBe(1024 * 1024);
    // Still window 0 (a keep-alive of ours): after 15 s one packet may test whether the window opened.
    p.send({ type: ST_STATE, id: c.sendId, seq: c.nextSeq, ack: c.ackNr, window: 0 });
    await waitUntil(() => p.received.some((r) => r.type === ST_DATA), 20_000, () => 'a zero-window probe');
    await new Promise((r) => setTimeout(r, 1000));
    expect(p.received.filter((r) => r.type === ST_DATA).length).toBeLessThanOrEqual(2);
    expect(stream.t.queuedBytes).toBeGreaterThan(1024 * 1024 - 3000);
  });

  it('delivers a packet sent ten thousand times once, and answers with far fewer ACKs', async () => {
    const l = await listener(6);
    const p = await rawPeer(6, l.port);
    const c = await p.connect(7100, Buffer.from('hello'));
    await waitUntil(() => l.streams.length === 1, 5000, () => 'the stream was accepted');
    const before = (await l.stats()).datagramsOut;
    const payload = randomBytes(1000);
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 100; i++) p.send({ type: ST_DATA, id: c.sendId, seq: c.nextSeq, ack: c.ackNr, payload });
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(Buffer.concat(l.streams[0]!.chunks)).toEqual(Buffer.concat([Buffer.from('hello'), payload]));
    expect((await l.stats()).datagramsOut - before).toBeLessThan(2500);
  });

  it('puts packets sent in reverse order back in order, telling what it holds by selective ACK', async () => {
    const l = await listener(4);
    const p = await rawPeer(4, l.port);
    const c = await p.connect(7200, Buffer.from('<'));
    await waitUntil(() => l.streams.length === 1, 5000, () => 'the stream was accepted');
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(`part ${String(i).padStart(2, '0')};`));
    for (let i = parts.length - 1; i >= 0; i--) {
      p.send({ type: ST_DATA, id: c.sendId, seq: c.nextSeq + i, ack: c.ackNr, payload: parts[i] });
      // Before the gap is filled, the listener says what it holds.
      if (i === 1) await waitUntil(() => p.received.some((r) => r.sack !== undefined && r.sack[0] === 0xff), 5000, () => 'a selective ACK of all held');
    }
    await waitUntil(() => Buffer.concat(l.streams[0]!.chunks).length === 1 + parts.length * 8, 5000, () => 'every part');
    expect(Buffer.concat(l.streams[0]!.chunks).toString()).toBe(`<${parts.join('')}`);
    // Held then: the 49 packets after the gap at nextSeq (bit 0 is ack + 2 = nextSeq + 1), nothing past them.
    const sack = p.received.filter((r) => r.sack).at(-1)!.sack!;
    expect([...sack]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0]);
  });

  it('ignores ACKs of packets never sent, and sends again what was not acknowledged', async () => {
    const l = await listener(6);
    const p = await rawPeer(6, l.port);
    const c = await p.connect(7300, Buffer.from('hello'));
    await waitUntil(() => l.streams.length === 1, 5000, () => 'the stream was accepted');
    l.streams[0]!.t.write(Buffer.from('reply'));
    const first = await p.wait((r) => r.type === ST_DATA, 5000, 'our reply');
    // An ACK far past anything sent: ignored, so the reply stays unacknowledged and goes again.
    p.send({ type: ST_STATE, id: c.sendId, seq: c.nextSeq, ack: (first.seq + 500) & 0xffff });
    await waitUntil(() => p.received.filter((r) => r.type === ST_DATA && r.seq === first.seq).length >= 2, 10_000, () => 'a retransmission');
    // A proper ACK ends that.
    p.send({ type: ST_STATE, id: c.sendId, seq: c.nextSeq, ack: first.seq });
    await new Promise((r) => setTimeout(r, 2000));
    const copies = p.received.filter((r) => r.type === ST_DATA && r.seq === first.seq).length;
    await new Promise((r) => setTimeout(r, 2000));
    expect(p.received.filter((r) => r.type === ST_DATA && r.seq === first.seq).length).toBe(copies);
    expect(l.streams[0]!.ended).toBeUndefined();
  });
});

describe('a uTP listener whose reader has not started', () => {
  it('advertises only the room the early reader has, and ends a peer that ignores it', async () => {
    const held: Transport[] = [];
    const { net, port } = await listeningUtp(6, (t) => held.push(t)); // never started
    cleanups.push(() => net.close());
    const p = await rawPeer(6, port);
    const c = await p.connect(7400, Buffer.from('hello'));
    const answer = await p.wait((r) => r.type === ST_STATE && r.ack === ((c.nextSeq - 1) & 0xffff), 5000, 'the ACK of hello');
    expect(answer.window).toBe(256 * 1024 - 5);
    // 300 KiB pushed regardless of the window: more than the early reader keeps.
    for (let i = 0; i < 300; i++) p.send({ type: ST_DATA, id: c.sendId, seq: (c.nextSeq + i) & 0xffff, ack: c.ackNr, payload: Buffer.alloc(1024) });
    await p.wait((r) => r.type === ST_FIN, 5000, 'our FIN: the stream was closed');
    expect(held[0]!.closed).toBe(true);
    // Never more room advertised than the early reader had.
    expect(Math.max(...p.received.filter((r) => r.type === ST_STATE && r.ack !== 1000).map((r) => r.window))).toBeLessThanOrEqual(256 * 1024 - 5);
  });
});
