/**
 * ut_metadata in one layer: the message codec's bounds, and the torrent-wide exchange's rules
 * (spreading requests, the size most peers claim, blame when a copy from several peers fails).
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/bencode/index.js';
import { decodeMetadataMessage, encodeMetadataMessage, MAX_METADATA, METADATA_PIECE } from '../../src/ext/ut-metadata/codec.js';
import { MetadataExchange, type MetadataSource } from '../../src/ext/ut-metadata/exchange.js';
import { ProtocolError } from '../../src/wire/frame-decoder.js';

describe('ut_metadata codec', () => {
  it('round-trips requests, rejects and data', () => {
    for (const m of [{ type: 'request', piece: 3 }, { type: 'reject', piece: 0 }] as const) expect(decodeMetadataMessage(encodeMetadataMessage(m))).toEqual(m);
    const data = randomBytes(100);
    const m = decodeMetadataMessage(encodeMetadataMessage({ type: 'data', piece: 2, totalSize: 2 * METADATA_PIECE + 100, data }));
    expect(m).toMatchObject({ type: 'data', piece: 2, totalSize: 2 * METADATA_PIECE + 100 });
    expect(m.type === 'data' && m.data.equals(data)).toBe(true);
  });

  it.each([
    ['not bencode', Buffer.from('l-3:e'), /bad ut_metadata message/],
    ['an unknown msg_type', encode({ msg_type: 9, piece: 0 }), /unknown msg_type/],
    ['a negative piece', encode({ msg_type: 0, piece: -1 }), /valid piece index/],
    ['a piece past any metadata', encode({ msg_type: 0, piece: MAX_METADATA / METADATA_PIECE }), /valid piece index/],
    ['trailing bytes on a request', Buffer.concat([encode({ msg_type: 0, piece: 0 }), Buffer.from('x')]), /trailing/],
    ['data without total_size', Buffer.concat([encode({ msg_type: 1, piece: 0 }), Buffer.alloc(10)]), /total_size/],
    ['data larger than the cap', Buffer.concat([encode({ msg_type: 1, piece: 0, total_size: MAX_METADATA + 1 }), Buffer.alloc(10)]), /total_size/],
    ['a data piece of the wrong length', Buffer.concat([encode({ msg_type: 1, piece: 0, total_size: 20_000 }), Buffer.alloc(100)]), /expected 16384/],
    ['a last piece of the wrong length', Buffer.concat([encode({ msg_type: 1, piece: 1, total_size: 20_000 }), Buffer.alloc(16384)]), /expected 3616/],
    ['a piece past total_size', Buffer.concat([encode({ msg_type: 1, piece: 2, total_size: 20_000 }), Buffer.alloc(1)]), /piece 2 of 2/],
  ])('refuses %s with a ProtocolError', (_what, payload, pattern) => {
    expect(() => decodeMetadataMessage(payload)).toThrow(ProtocolError);
    expect(() => decodeMetadataMessage(payload)).toThrow(pattern);
  });
});

/** A peer offering metadata: honest (serves `info`) or lying (serves garbage of the right size). */
class FakeSource implements MetadataSource {
  readonly asked: number[] = [];
  /** Why the exchange closed it, and whether it was blamed. */
  closed?: { reason: string; blamed: boolean };
  constructor(
    readonly label: string,
    readonly size: number,
    readonly host = `192.0.2.${label.length}${label.charCodeAt(0) % 100}`,
  ) {}
  answers = 0;
  request(piece: number): void {
    this.asked.push(piece);
  }
  answered(): void {
    this.answers++;
  }
  close(reason: string, blamed: boolean): void {
    this.closed = { reason, blamed };
  }
}

function answer(ex: MetadataExchange, s: FakeSource, info: Buffer, lie = false, totalSize = info.length): void {
  for (const piece of s.asked.splice(0)) {
    const data = info.subarray(piece * METADATA_PIECE, Math.min(info.length, (piece + 1) * METADATA_PIECE));
    ex.received(s, piece, totalSize, lie ? Buffer.alloc(data.length, 0x33) : data);
  }
}

describe('metadata exchange', () => {
  const info = Buffer.concat([Buffer.from('d4:name'), randomBytes(5 * METADATA_PIECE + 17), Buffer.from('e')]);
  const hash = createHash('sha1').update(info).digest();

  it('asks each peer for one piece at a time, every idle peer at once, the least-asked piece first, and assembles a verified copy', () => {
    const ex = new MetadataExchange(hash);
    const got: Buffer[] = [];
    ex.on('metadata', (i) => got.push(i));
    const a = new FakeSource('a', info.length);
    const b = new FakeSource('b', info.length);
    ex.add(a);
    ex.add(b);
    // One request each (rtorrent stops reading a connection that asks again before its answer), different pieces.
    expect(a.asked).toEqual([0]);
    expect(b.asked).toEqual([1]);
    let rounds = 0;
    while (got.length === 0) {
      answer(ex, a, info);
      expect(a.asked.length).toBeLessThanOrEqual(1);
      answer(ex, b, info);
      rounds++;
    }
    expect(rounds).toBe(3); // six pieces, two peers
    expect(got[0]!.equals(info)).toBe(true);
    expect(ex.metadata?.equals(info)).toBe(true);
    expect(ex.piece(0)?.data.equals(info.subarray(0, METADATA_PIECE))).toBe(true);
  });

  it('with one piece and many peers, asks them all at once: twenty silent peers connected first cost no time', () => {
    const small = Buffer.concat([Buffer.from('d4:name'), randomBytes(9000), Buffer.from('e')]);
    const ex = new MetadataExchange(createHash('sha1').update(small).digest());
    let done: Buffer | undefined;
    ex.on('metadata', (i) => (done = i));
    const silent = Array.from({ length: 20 }, (_, i) => new FakeSource(`silent${i}`, small.length, `198.51.100.${i + 1}`));
    for (const s of silent) ex.add(s);
    const honest = new FakeSource('honest', small.length, '203.0.113.9');
    ex.add(honest);
    expect(honest.asked).toEqual([0]);
    answer(ex, honest, small);
    expect(done?.equals(small)).toBe(true);
    // The silent ones asked once each; nothing more once the metadata is in.
    expect(silent.every((s) => s.asked.length === 1)).toBe(true);
  });

  it('fetches the size most peers claim; a lone peer claiming another size is not asked, and one answering with another size is asked no more', () => {
    const ex = new MetadataExchange(hash);
    const odd = new FakeSource('odd', 999);
    const a = new FakeSource('a', info.length);
    const b = new FakeSource('b', info.length);
    const c = new FakeSource('c', info.length);
    ex.add(a);
    ex.add(b);
    ex.add(odd);
    expect(odd.asked).toEqual([]);
    answer(ex, a, info, false, info.length + 1); // its first wrong answer is its last
    expect(a.asked).toEqual([]);
    ex.add(c);
    answer(ex, b, info);
    answer(ex, c, info);
    expect(a.asked).toEqual([]);
  });

  it('when a copy from several peers fails, takes the next from one peer, then drops exactly the liar', () => {
    const ex = new MetadataExchange(hash);
    const failed: string[][] = [];
    let done: Buffer | undefined;
    ex.on('failed', (peers) => failed.push(peers));
    ex.on('metadata', (i) => (done = i));
    const honest = new FakeSource('honest', info.length);
    const liar = new FakeSource('liar', info.length);
    ex.add(liar);
    ex.add(honest);
    // First copy: both contribute; the liar's pieces are garbage, so the hash fails with no one to blame yet.
    for (let round = 0; round < 6 && failed.length === 0; round++) {
      answer(ex, liar, info, true);
      answer(ex, honest, info);
    }
    expect(failed).toEqual([[]]);
    // Now a single peer is asked for every piece.
    const askedNow = [liar, honest].filter((s) => s.asked.length > 0);
    expect(askedNow).toHaveLength(1);
    for (let round = 0; round < 20 && !done; round++) {
      answer(ex, liar, info, true);
      answer(ex, honest, info);
    }
    expect(done?.equals(info)).toBe(true);
    expect(liar.closed).toEqual({ reason: expect.stringMatching(/does not match the info hash/), blamed: true });
    expect(honest.closed).toBeUndefined();
    expect(failed.at(-1)).toEqual(['liar']);
  });

  it('a peer that never answers holds nothing up and is closed after the timeout (to be redialed, not asked again on that connection); a dropped liar\'s host is never asked again, from any port', () => {
    const ex = new MetadataExchange(hash);
    let done: Buffer | undefined;
    ex.on('metadata', (i) => (done = i));
    const silent = new FakeSource('silent', info.length);
    const other = new FakeSource('other', info.length);
    ex.add(silent);
    ex.add(other);
    // The piece the silent peer holds is asked of the other one too once nothing else is missing.
    for (let round = 0; round < 10 && !done; round++) answer(ex, other, info);
    expect(done?.equals(info)).toBe(true);
    expect(silent.asked).toHaveLength(1);

    const lone = new MetadataExchange(hash);
    const mute = new FakeSource('mute', info.length);
    lone.add(mute);
    const now = Date.now();
    lone.tick(now);
    expect(mute.closed).toBeUndefined();
    lone.tick(now + 11_000);
    expect(mute.closed).toEqual({ reason: 'no answer to a ut_metadata request within 10 s', blamed: false });

    const ex2 = new MetadataExchange(hash);
    const liar = new FakeSource('liar', info.length, '2001:db8:7::1');
    ex2.add(liar);
    for (let round = 0; round < 8 && !liar.closed; round++) answer(ex2, liar, info, true);
    expect(liar.closed?.blamed).toBe(true);
    // It reconnects from another port, even another address of its /64: never asked again.
    const again = new FakeSource('liar-again', info.length, '2001:db8:7::2');
    ex2.add(again);
    expect(again.asked).toEqual([]);
  });
});
