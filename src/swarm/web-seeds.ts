/**
 * A torrent's web seeds (BEP 19 `url-list`, BEP 17 `httpseeds`), one WebSeed each, asked for
 * pieces whenever the transfer has work (a tick, a piece verified or failed, a run ended) and
 * stopped when it is complete. Their connections go over the engine's Network, Happy Eyeballs
 * across the families in use. A torrent cannot make us open connections without end: at most
 * MAX_SEEDS of its URLs are used, and at most MAX_ACTIVE of them fetch at once.
 */
import type { HttpNetwork } from '../http-client/connect.js';
import { WebSeedSite } from '../webseed/fetcher.js';
import type { SeedProtocol, SeedTorrent } from '../webseed/seed-urls.js';
import { webSeedOf } from './bans.js';
import { WebSeed, type WebSeedHost, type WebSeedInfo } from './web-seed.js';

export interface WebSeedOptions {
  network: HttpNetwork;
  families: { 4: boolean; 6: boolean };
}

/** Time bounds of every web seed connection (see src/http/connection.ts). */
const TIMEOUTS = { connectTimeoutMs: 15_000, headTimeoutMs: 20_000, stallTimeoutMs: 20_000 };
/** Web seeds of one torrent used at all, and fetching at once (each with up to MAX_WORKERS connections). */
export const MAX_SEEDS = 64;
const MAX_ACTIVE = 8;

export class WebSeeds {
  private readonly seeds: WebSeed[] = [];

  constructor(torrent: SeedTorrent & { urlList: readonly string[]; httpSeeds: readonly string[] }, host: WebSeedHost, opts: WebSeedOptions) {
    const listed: [string, SeedProtocol][] = [...torrent.urlList.map((u) => [u, 'bep19'] as [string, SeedProtocol]), ...torrent.httpSeeds.map((u) => [u, 'bep17'] as [string, SeedProtocol])];
    const seen = new Set<string>();
    for (const [url, protocol] of listed) {
      if (seen.has(url)) continue;
      seen.add(url);
      if (this.seeds.length === MAX_SEEDS) {
        host.emit({ event: 'warning', message: `the torrent lists more than ${MAX_SEEDS} web seeds: only the first ${MAX_SEEDS} are used` });
        break;
      }
      this.seeds.push(new WebSeed(new WebSeedSite(url, protocol, torrent, opts.network, { ...TIMEOUTS, families: opts.families }), host));
    }
  }

  get size(): number {
    return this.seeds.length;
  }

  /** Work for the seeds fetching now, and for others while fewer than MAX_ACTIVE fetch (in the torrent's order). */
  fill(): void {
    let active = this.seeds.filter((s) => s.busy).length;
    for (const s of this.seeds) {
      if (!s.busy && active >= MAX_ACTIVE) continue;
      const was = s.busy;
      s.fill();
      if (!was && s.busy) active++;
    }
  }

  tick(): void {
    for (const s of this.seeds) s.tick();
    this.fill();
  }

  stop(): void {
    for (const s of this.seeds) s.stop();
  }

  /** Of ban keys a verdict gave, ban the web seeds' (their data failed piece `piece`); returns the other keys. */
  ban(keys: readonly string[], piece: number): string[] {
    return keys.filter((key) => {
      const url = webSeedOf(key);
      if (url === undefined) return true;
      this.seeds.find((s) => s.url === url)?.ban(piece);
      return false;
    });
  }

  info(): WebSeedInfo[] {
    const now = Date.now();
    return this.seeds.map((s) => s.info(now));
  }
}
