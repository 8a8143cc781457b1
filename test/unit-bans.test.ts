/** Blame for failed pieces: only the peers whose blocks were wrong are convicted. */
import { describe, expect, it } from 'vitest';
import { BanList } from '../src/swarm/bans.js';
import { BLOCK_SIZE } from '../src/wire/messages.js';

/** A piece of four blocks, as the picker hands it over. */
const good = [0, 1, 2, 3].map(() => Buffer.alloc(BLOCK_SIZE, 7));
function corrupt(blocks: number[]): Buffer[] {
  const piece = good.map((b) => Buffer.from(b));
  for (const k of blocks) piece[k]![5]! ^= 0xff;
  return piece;
}

describe('BanList', () => {
  it('convicts a sole sender at once and bans it on the second offence', () => {
    const bans = new BanList();
    expect(bans.pieceFailed(0, corrupt([1]), ['10.0.0.9', '10.0.0.9', '10.0.0.9', '10.0.0.9'])).toEqual([]);
    expect(bans.isBanned('10.0.0.9')).toBe(false);
    expect(bans.pieceFailed(1, corrupt([0]), ['10.0.0.9', '10.0.0.9', '10.0.0.9', '10.0.0.9'])).toEqual(['10.0.0.9']);
    expect(bans.isBanned('10.0.0.9')).toBe(true);
  });

  it('never bans an honest peer that shared failed pieces with a liar', () => {
    const bans = new BanList();
    const senders = ['honest', 'liar', 'honest', 'honest'];
    for (let piece = 0; piece < 5; piece++) {
      expect(bans.pieceFailed(piece, corrupt([1]), senders)).toEqual([]);
      expect(bans.suspect(piece)).toBe(true);
    }
    expect(bans.isBanned('honest')).toBe(false);
    // The pieces pass once downloaded again: the liar's blocks differed from the good data.
    expect(bans.piecePassed(0, good)).toEqual([]);
    expect(bans.piecePassed(1, good)).toEqual(['liar']);
    expect(bans.isBanned('liar')).toBe(true);
    expect(bans.isBanned('honest')).toBe(false);
    expect(bans.suspect(1)).toBe(false);
  });

  it('keeps bounded evidence', () => {
    const bans = new BanList();
    const senders = ['a', 'b', 'a', 'b'];
    for (let piece = 0; piece < 1000; piece++) bans.pieceFailed(piece, corrupt([0]), senders);
    let kept = 0;
    for (let piece = 0; piece < 1000; piece++) if (bans.suspect(piece)) kept++;
    expect(kept).toBe(256);
  });
});
