/**
 * Who gets upload slots. Downloading: tit-for-tat — the peers that give us the most, plus one
 * optimistic slot that rotates every 30 s so newcomers get a chance. Seeding: round robin among
 * interested peers, each kept unchoked for a while, so every leecher is served in turn.
 */
import type { TransferPeer } from './transfer-peer.js';

export const RECHOKE_INTERVAL_MS = 10_000;
const OPTIMISTIC_ROTATION_MS = 30_000;
const SEED_MIN_UNCHOKED_MS = 30_000;

export interface ChokeDecision {
  unchoke: Set<TransferPeer>;
  optimistic?: TransferPeer;
}

export function decideUnchokes(peers: TransferPeer[], slots: number, seeding: boolean, now: number, current?: TransferPeer): ChokeDecision {
  const interested = peers.filter((p) => p.peerInterested);
  const unchoke = new Set<TransferPeer>();
  if (seeding) {
    // Keep recent unchokes for their minimum time, then the longest-waiting go first.
    const keep = interested.filter((p) => !p.amChoking && now - p.lastUnchokedAt < SEED_MIN_UNCHOKED_MS);
    for (const p of keep.slice(0, slots)) unchoke.add(p);
    const waiting = interested.filter((p) => !unchoke.has(p)).sort((a, b) => a.lastUnchokedAt - b.lastUnchokedAt || b.up.rate(now) - a.up.rate(now));
    for (const p of waiting) {
      if (unchoke.size >= slots + 1) break;
      unchoke.add(p);
    }
    return { unchoke };
  }
  const byRate = [...interested].sort((a, b) => b.down.rate(now) - a.down.rate(now));
  for (const p of byRate.slice(0, slots)) unchoke.add(p);
  let optimistic = current && current.peerInterested && !unchoke.has(current) && now - current.lastUnchokedAt < OPTIMISTIC_ROTATION_MS ? current : undefined;
  if (!optimistic) {
    // New peers are three times as likely to be picked: they have nothing to reciprocate with yet.
    const pool = interested.filter((p) => !unchoke.has(p)).flatMap((p) => (now - p.connectedAt < 60_000 ? [p, p, p] : [p]));
    optimistic = pool[Math.floor(Math.random() * pool.length)];
  }
  if (optimistic) unchoke.add(optimistic);
  return { unchoke, optimistic };
}
