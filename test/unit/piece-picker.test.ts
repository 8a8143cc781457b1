/**
 * The piece picker: rarest pieces first, started pieces finished before new ones, duplicate
 * requests only in endgame (and at most three per block), released blocks requested again, and
 * blocks assembled into whole pieces for verification.
 */
import { describe, expect, it } from 'vitest';
import { PiecePicker } from '../../src/swarm/piece-picker.js';
import { Bitfield } from '../../src/util/bitfield.js';
import { BLOCK_SIZE, type BlockRef } from '../../src/wire/messages.js';

const BLOCKS_PER_PIECE = 4;
const PIECE = BLOCKS_PER_PIECE * BLOCK_SIZE;

function peer(pieces: number, has: (i: number) => boolean = () => true): Bitfield {
  const b = new Bitfield(pieces);
  for (let i = 0; i < pieces; i++) if (has(i)) b.set(i);
  return b;
}

function picker(pieces: number, opts: { pieceSize?: (i: number) => number; have?: Bitfield; maxBytes?: number } = {}) {
  const have = opts.have ?? new Bitfield(pieces);
  return { have, p: new PiecePicker(pieces, opts.pieceSize ?? (() => PIECE), have, opts.maxBytes) };
}

const never = () => false;
const pieceOf = (refs: BlockRef[]) => [...new Set(refs.map((r) => r.index))];

describe('piece picker: rarest first', () => {
  it('starts pieces in order of increasing availability', () => {
    const n = 8;
    const { p } = picker(n);
    // Piece i is held by i + 1 peers (peer k has the pieces >= k), so piece 0 is the rarest.
    const all = peer(n);
    for (let k = 0; k < n; k++) p.addPeer(peer(n, (i) => i >= k));
    expect([...p.availability]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const order: number[] = [];
    for (let k = 0; k < n; k++) order.push(...pieceOf(p.pick(all, BLOCKS_PER_PIECE, never)));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('breaks ties between equally rare pieces at random', () => {
    const firsts = new Set<number>();
    for (let round = 0; round < 60; round++) {
      const { p } = picker(6);
      const all = peer(6);
      p.addPeer(all);
      p.addPeer(all);
      firsts.add(p.pick(all, 1, never)[0]!.index);
    }
    expect(firsts.size).toBeGreaterThan(1);
  });

  it('only picks pieces the peer has and we still want', () => {
    const have = peer(6, (i) => i === 0 || i === 1);
    const { p } = picker(6, { have });
    const them = peer(6, (i) => i !== 5);
    p.addPeer(them);
    const picked = p.pick(them, 100, never);
    expect(pieceOf(picked).sort()).toEqual([2, 3, 4]);
    expect(picked).toHaveLength(3 * BLOCKS_PER_PIECE);
    expect(p.interesting(peer(6, (i) => i < 2))).toBe(false);
    expect(p.interesting(them)).toBe(true);
  });

  it('tracks availability as peers come and go, never below zero', () => {
    const { p } = picker(3);
    const a = peer(3, (i) => i > 0);
    p.addPeer(a);
    p.addPeer(peer(3));
    p.removePeer(a);
    expect([...p.availability]).toEqual([1, 1, 1]);
    p.removePeer(a);
    p.removePeer(a);
    expect([...p.availability]).toEqual([1, 0, 0]);
  });
});

describe('piece picker: pieces in progress first', () => {
  it('finishes a started piece before starting a rarer one', () => {
    const { p } = picker(4);
    const a = peer(4), b = peer(4), c = peer(4, (i) => i < 3);
    for (const x of [a, b, c]) p.addPeer(x); // piece 3 is the rarest (2 holders)
    const first = p.pick(a, 2, never);
    expect(first).toEqual([
      { index: 3, begin: 0, length: BLOCK_SIZE },
      { index: 3, begin: BLOCK_SIZE, length: BLOCK_SIZE },
    ]);
    const second = p.pick(c, 2, never); // c lacks piece 3: starts another
    expect(second[0]!.index).not.toBe(3);
    const third = p.pick(b, 4, never);
    expect(third).toEqual([
      { index: 3, begin: 2 * BLOCK_SIZE, length: BLOCK_SIZE },
      { index: 3, begin: 3 * BLOCK_SIZE, length: BLOCK_SIZE },
      { index: second[0]!.index, begin: 2 * BLOCK_SIZE, length: BLOCK_SIZE },
      { index: second[0]!.index, begin: 3 * BLOCK_SIZE, length: BLOCK_SIZE },
    ]);
    expect(p.inProgress.size).toBe(2);
  });

  it('sizes the blocks of a short last piece', () => {
    const last = 20_000;
    const { p } = picker(2, { pieceSize: (i) => (i === 1 ? last : PIECE) });
    const them = peer(2, (i) => i === 1);
    p.addPeer(them);
    expect(p.pick(them, 10, never)).toEqual([
      { index: 1, begin: 0, length: BLOCK_SIZE },
      { index: 1, begin: BLOCK_SIZE, length: last - BLOCK_SIZE },
    ]);
  });

  it('does not start new pieces past the memory bound (verifying pieces count), but always allows one', () => {
    const { p } = picker(4, { maxBytes: PIECE });
    const a = peer(4, (i) => i === 0), b = peer(4, (i) => i === 1);
    p.addPeer(a);
    p.addPeer(b);
    expect(p.pick(a, 100, never)).toHaveLength(BLOCKS_PER_PIECE);
    expect(p.pick(b, 100, never)).toEqual([]);
    for (let k = 0; k < BLOCKS_PER_PIECE; k++) p.receive(0, k * BLOCK_SIZE, Buffer.alloc(BLOCK_SIZE), 'a');
    expect(p.takeComplete(0)).toBeDefined();
    // Still being checked and written: its memory is still in use, so nothing new starts yet.
    expect(p.pick(b, 100, never)).toEqual([]);
    p.verified(0);
    expect(pieceOf(p.pick(b, 100, never))).toEqual([1]);
  });
});

describe('piece picker: piece memory', () => {
  it('copies blocks into the piece (the sender may reuse its buffer) and reuses a piece\'s memory only once it is verified', () => {
    const { p } = picker(4, { maxBytes: 2 * PIECE });
    const all = peer(4);
    p.addPeer(all);
    const fill = (index: number, byte: number) => {
      const scratch = Buffer.alloc(BLOCK_SIZE); // one reused "read buffer", as with a shared socket buffer
      for (let k = 0; k < BLOCKS_PER_PIECE; k++) {
        scratch.fill(byte + k);
        p.receive(index, k * BLOCK_SIZE, scratch, 'x');
        scratch.fill(0xee);
      }
      return p.takeComplete(index)!;
    };
    const first = pieceOf(p.pick(all, BLOCKS_PER_PIECE, never))[0]!;
    const a = fill(first, 1);
    expect(Buffer.concat(a.blocks())).toEqual(Buffer.concat([1, 2, 3, 4].map((v) => Buffer.alloc(BLOCK_SIZE, v))));
    // While `a` is being checked and written its memory is not handed out again.
    const second = pieceOf(p.pick(all, BLOCKS_PER_PIECE, never))[0]!;
    const b = fill(second, 10);
    expect(b.data.buffer).not.toBe(a.data.buffer);
    expect(a.data[0]).toBe(1);
    p.verified(first);
    const third = pieceOf(p.pick(all, BLOCKS_PER_PIECE, never))[0]!;
    const c = fill(third, 20);
    expect(c.data.buffer).toBe(a.data.buffer); // reused: no fresh allocation per piece
    expect(c.data).toEqual(Buffer.concat([20, 21, 22, 23].map((v) => Buffer.alloc(BLOCK_SIZE, v))));
    expect(b.data).toEqual(Buffer.concat([10, 11, 12, 13].map((v) => Buffer.alloc(BLOCK_SIZE, v))));
  });
});

describe('piece picker: endgame', () => {
  it('requests no block twice while some wanted piece is not started', () => {
    const { p } = picker(3, { pieceSize: () => BLOCK_SIZE });
    const a = peer(3), b = peer(3, (i) => i < 2);
    p.addPeer(a);
    p.addPeer(b);
    expect(p.pick(b, 10, never)).toHaveLength(2);
    expect(p.inEndgame()).toBe(false);
    expect(p.pick(b, 10, never)).toEqual([]); // b has nothing unrequested, and piece 2 is not started
  });

  it('hands out the last blocks to several peers, at most three times each, never twice to one peer', () => {
    const { p } = picker(2, { pieceSize: () => BLOCK_SIZE });
    const peers = [peer(2), peer(2), peer(2), peer(2)];
    for (const x of peers) p.addPeer(x);
    const asked = peers.map(() => new Set<string>());
    const pick = (k: number) => {
      const key = (r: BlockRef) => `${r.index}/${r.begin}`;
      const got = p.pick(peers[k]!, 10, (r) => asked[k]!.has(key(r)));
      for (const r of got) asked[k]!.add(key(r));
      return got;
    };
    expect(pick(0)).toHaveLength(2);
    expect(p.inEndgame()).toBe(true);
    expect(pick(0)).toEqual([]); // already asked this peer for both
    expect(pick(1)).toHaveLength(2);
    expect(pick(2)).toHaveLength(2);
    expect(pick(3)).toEqual([]); // three requests out per block already
    // A released duplicate makes room for one more.
    p.release({ index: 0, begin: 0, length: BLOCK_SIZE });
    expect(pick(3)).toEqual([{ index: 0, begin: 0, length: BLOCK_SIZE }]);
    // The first copy in wins; the others are duplicates, and the piece is complete once.
    expect(p.receive(0, 0, Buffer.alloc(BLOCK_SIZE, 1), 'peer1')).toBe('new');
    expect(p.receive(0, 0, Buffer.alloc(BLOCK_SIZE, 2), 'peer0')).toBe('duplicate');
    const done = p.takeComplete(0)!;
    expect(done.senders).toEqual(['peer1']);
    expect(Buffer.concat(done.blocks())).toEqual(Buffer.alloc(BLOCK_SIZE, 1));
    expect(done.data).toEqual(Buffer.alloc(BLOCK_SIZE, 1));
    expect(p.receive(0, 0, Buffer.alloc(BLOCK_SIZE), 'peer2')).toBe('duplicate'); // now verifying
  });
});

describe('piece picker: release and receive', () => {
  it('gives a released block to the next peer first', () => {
    const { p } = picker(4);
    const a = peer(4), b = peer(4);
    p.addPeer(a);
    p.addPeer(b);
    const [r] = p.pick(a, 1, never);
    p.release(r!);
    expect(p.pick(b, 1, never)).toEqual([r]);
  });

  it('ignores releases that match no outstanding request', () => {
    const { p } = picker(2);
    const a = peer(2);
    p.addPeer(a);
    const got = p.pick(a, 1, never);
    const r = got[0]!;
    p.release({ index: 1 - r.index, begin: 0, length: BLOCK_SIZE }); // not in progress
    p.release({ ...r, begin: 100 }); // not a block boundary
    p.release({ ...r, begin: 99 * BLOCK_SIZE }); // past the piece
    p.release(r);
    p.release(r); // twice: must not underflow into "requested 255 times"
    const again = p.pick(a, BLOCKS_PER_PIECE, never).filter((x) => x.index === r.index);
    expect(again).toHaveLength(BLOCKS_PER_PIECE);
  });

  it('assembles blocks in any order into the piece and remembers who sent them', () => {
    const { p } = picker(1);
    const a = peer(1);
    p.addPeer(a);
    p.pick(a, BLOCKS_PER_PIECE, never);
    const data = Buffer.alloc(PIECE);
    for (let i = 0; i < PIECE; i++) data[i] = (i * 7) & 0xff;
    for (const k of [2, 0, 3]) {
      expect(p.receive(0, k * BLOCK_SIZE, data.subarray(k * BLOCK_SIZE, (k + 1) * BLOCK_SIZE), k === 3 ? '2001:db8::2' : '192.0.2.1')).toBe('new');
      expect(p.takeComplete(0)).toBeUndefined();
    }
    expect(p.receive(0, BLOCK_SIZE, data.subarray(BLOCK_SIZE, 2 * BLOCK_SIZE), '192.0.2.1')).toBe('new');
    const done = p.takeComplete(0)!;
    expect(Buffer.concat(done.blocks())).toEqual(data);
    // In order, whatever order they came in.
    expect(done.data).toEqual(data);
    expect(done.senders).toEqual(['192.0.2.1', '192.0.2.1', '192.0.2.1', '2001:db8::2']);
    expect(p.takeComplete(0)).toBeUndefined();
  });

  it('refuses blocks that fit no piece in progress', () => {
    const have = peer(3, (i) => i === 2);
    const { p } = picker(3, { have });
    const a = peer(3, (i) => i === 0);
    p.addPeer(a);
    p.pick(a, 1, never);
    expect(p.receive(0, 0, Buffer.alloc(BLOCK_SIZE - 1), 'x')).toBe('unwanted'); // wrong length
    expect(p.receive(0, 10, Buffer.alloc(BLOCK_SIZE), 'x')).toBe('unwanted'); // not on a block boundary
    expect(p.receive(0, BLOCKS_PER_PIECE * BLOCK_SIZE, Buffer.alloc(BLOCK_SIZE), 'x')).toBe('unwanted'); // past the end
    expect(p.receive(1, 0, Buffer.alloc(BLOCK_SIZE), 'x')).toBe('unwanted'); // not started
    expect(p.receive(2, 0, Buffer.alloc(BLOCK_SIZE), 'x')).toBe('duplicate'); // already have it
    expect(p.inProgress.get(0)!.receivedCount).toBe(0);
  });

  it('does not pick a piece being verified, and wants it again if it failed', () => {
    const { p, have } = picker(2, { pieceSize: () => BLOCK_SIZE });
    const a = peer(2);
    p.addPeer(a);
    p.pick(a, 2, never);
    p.receive(0, 0, Buffer.alloc(BLOCK_SIZE), 'x');
    p.receive(1, 0, Buffer.alloc(BLOCK_SIZE), 'x');
    p.takeComplete(0);
    p.takeComplete(1);
    expect(p.wanted(0)).toBe(false);
    expect(p.pick(a, 10, never)).toEqual([]);
    have.set(0); // piece 0 passed its hash
    p.verified(0);
    p.verified(1); // piece 1 failed: wanted again
    expect(p.wanted(0)).toBe(false);
    expect(p.wanted(1)).toBe(true);
    expect(p.pick(a, 10, never)).toEqual([{ index: 1, begin: 0, length: BLOCK_SIZE }]);
  });
});

describe('piece picker: cost per piece, not per torrent', () => {
  /** A peer's bitfield that counts how often the picker asks it. */
  function counted(b: Bitfield): { bits: { has(i: number): boolean }; calls: () => number } {
    let n = 0;
    return { bits: { has: (i) => (n++, b.has(i)) }, calls: () => n };
  }

  it('downloads 8,192 one-block pieces from 8 seeds asking each bitfield O(1) times per piece', () => {
    const n = 8192;
    const { p, have } = picker(n, { pieceSize: () => BLOCK_SIZE });
    const seeds = Array.from({ length: 8 }, () => counted(peer(n)));
    for (const s of seeds) p.addPeer(s.bits);
    const before = seeds.reduce((x, s) => x + s.calls(), 0); // addPeer's one pass each
    const block = Buffer.alloc(BLOCK_SIZE);
    for (let k = 0; have.count < n; k++) {
      const s = seeds[k % seeds.length]!;
      const got = p.pick(s.bits, 4, never);
      for (const r of got) {
        p.receive(r.index, r.begin, block, 'x');
        p.takeComplete(r.index);
        have.set(r.index);
        p.verified(r.index);
        expect(p.interesting(s.bits)).toBe(have.count < n);
      }
    }
    expect(p.inEndgame()).toBe(true);
    // The old picker scanned every piece for each new one: n * n / 2 calls and more.
    const during = seeds.reduce((x, s) => x + s.calls(), 0) - before;
    expect(during).toBeLessThan(20 * n);
  });

  it('counts interest through haves, verification and a failed piece', () => {
    const { p, have } = picker(4, { pieceSize: () => BLOCK_SIZE });
    const a = peer(4, (i) => i === 0);
    p.addPeer(a);
    expect(p.interesting(a)).toBe(true);
    const b = peer(4, () => false);
    p.addPeer(b);
    expect(p.interesting(b)).toBe(false);
    b.set(1);
    p.peerHas(b, 1);
    expect(p.interesting(b)).toBe(true);
    expect(p.availability[1]).toBe(1);
    // Piece 0 completes: a has nothing else, so it is not interesting while 0 is verified...
    p.pick(a, 1, never);
    p.receive(0, 0, Buffer.alloc(BLOCK_SIZE), 'x');
    p.takeComplete(0);
    expect(p.interesting(a)).toBe(false);
    // ...and interesting again once it failed its hash.
    p.verified(0);
    expect(p.interesting(a)).toBe(true);
    expect(pieceOf(p.pick(a, 1, never))).toEqual([0]);
    p.receive(0, 0, Buffer.alloc(BLOCK_SIZE), 'x');
    p.takeComplete(0);
    have.set(0);
    p.verified(0);
    expect(p.interesting(a)).toBe(false);
    expect(p.interesting(b)).toBe(true);
  });
});

describe('piece picker: selection and order', () => {
  it('with a file selection, picks only selected pieces, enters endgame once they are all started, and counts interest in them only', () => {
    const { p } = picker(6, { pieceSize: () => BLOCK_SIZE });
    p.selected = peer(6, (i) => i === 1 || i === 4);
    const a = peer(6), b = peer(6, (i) => i === 0 || i === 5);
    p.addPeer(a);
    p.addPeer(b);
    expect(p.interesting(b)).toBe(false);
    expect(p.inEndgame()).toBe(false);
    expect(pieceOf(p.pick(a, 10, never)).sort()).toEqual([1, 4]);
    expect(p.inEndgame()).toBe(true); // every selected block is requested; unselected ones never count
  });

  it('sequential: starts pieces in index order, skipping what the peer lacks', () => {
    const { p, have } = picker(6, { pieceSize: () => BLOCK_SIZE });
    p.sequential = true;
    have.set(0);
    const a = peer(6, (i) => i !== 2);
    p.addPeer(a);
    expect(pieceOf(p.pick(a, 3, never))).toEqual([1, 3, 4]);
  });
});
