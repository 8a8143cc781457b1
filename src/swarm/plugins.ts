/**
 * Torrent-level hooks (libtorrent's torrent_plugin): what a plugin hears of one swarm as it
 * happens — a peer joined or left, a dial gave no connection (BEP 55 asks a relay then), a piece
 * passed its check, the swarm's one-second tick. A plugin that throws is reported as a warning
 * and keeps its place; it never breaks the swarm.
 */
import type { Family } from '../net/address.js';
import type { DialTarget } from '../transport/network.js';
import type { PeerSource } from './peer-pool.js';

/** A connected peer as the hooks name it. */
export interface PeerRef {
  /** Peer id, hex. */
  id: string;
  label: string;
  host: string;
  family: Family;
  direction: 'in' | 'out';
  source: PeerSource;
}

export interface DialFailure {
  /** Every address the candidate had. */
  targets: DialTarget[];
  /** Where we learned it (a PEX partner: `from` is its address). */
  source: PeerSource;
  reason: string;
}

export interface SwarmPlugin {
  peerAdded?(peer: PeerRef): void;
  peerRemoved?(peer: PeerRef, reason: string): void;
  dialFailed?(failure: DialFailure): void;
  pieceVerified?(index: number): void;
  tick?(now: number): void;
}

type Hook = keyof SwarmPlugin;

export class SwarmPlugins {
  private readonly list: SwarmPlugin[] = [];

  constructor(private readonly warn: (message: string) => void) {}

  /** Hooks from now on; returns the undo. */
  add(plugin: SwarmPlugin): () => void {
    this.list.push(plugin);
    return () => {
      const i = this.list.indexOf(plugin);
      if (i >= 0) this.list.splice(i, 1);
    };
  }

  call<H extends Hook>(hook: H, ...args: Parameters<NonNullable<SwarmPlugin[H]>>): void {
    for (const p of this.list) {
      const f = p[hook] as ((...a: typeof args) => void) | undefined;
      if (!f) continue;
      try {
        f.apply(p, args);
      } catch (e) {
        this.warn(`a swarm plugin's ${hook} failed: ${(e as Error).message}`);
      }
    }
  }
}
