/**
 * Faulty web seeds beside a good one (Debian's nginx): one serving corrupted ranges, one missing a
 * file (404), one trickling, one redirecting in a loop, one closing mid-body, one sending far more
 * than asked. The download completes from the others and verifies; each failure is reported
 * once, with its kind and what follows (the liar banned, the missing file left to others, the
 * rest retried later); the seed that lied is never asked again, and the one missing a file is
 * not asked for it again.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { faultWebSeed, type FaultWebSeed, type WebSeedFault } from '../support/fault-web-seed.js';
import { cleanUpAfterEach, makeTree, runCli, sixswarm, tempDir, treeDigest, type JsonEvent } from '../support/sixswarm.js';
import { startNginx, withWebSeeds } from '../support/web-server.js';

const KiB = 1024;
const MiB = 1024 * KiB;

let dir: string | undefined;
cleanUpAfterEach(() => dir);
const faulty: FaultWebSeed[] = [];
afterEach(async () => {
  for (const f of faulty.splice(0)) await f.close();
});

describe('faulty web seeds beside a good one', () => {
  it('the download completes from the others; each failure is reported once, clearly', async () => {
    dir = await tempDir('sixswarm-webseed-faults-');
    const d = dir;
    // b.bin is nearly all of it: every run of the seed that lacks it reaches it.
    const tree = { 'a.bin': 200 * KiB + 3, 'b.bin': 20 * MiB + 11, 'c.bin': 300 * KiB };
    await makeTree(join(d, 'www', 'tree'), tree);
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'tree'), '-o', bare, '--piece-length', String(64 * KiB)])).code).toBe(0);
    const meta = await readTorrentFile(bare);
    const files = new Map<string, Buffer>();
    for (const name of Object.keys(tree)) files.set(`tree/${name}`, await readFile(join(d, 'www', 'tree', name)));

    const faults: Record<string, WebSeedFault> = {
      corrupt: { kind: 'corrupt' },
      missing: { kind: 'missing', path: 'tree/b.bin' },
      slow: { kind: 'slow', bytes: 2 * KiB, everyMs: 250 },
      loop: { kind: 'redirect-loop' },
      cut: { kind: 'close-mid-body' },
      flood: { kind: 'too-much' },
    };
    const servers: Record<string, FaultWebSeed> = {};
    for (const [name, fault] of Object.entries(faults)) {
      servers[name] = await faultWebSeed(fault, files);
      faulty.push(servers[name]!);
    }
    const n = await startNginx({ root: join(d, 'www'), dir: join(d, 'nginx') });
    // IPv6 and IPv4 alike; the good seed last, so the faulty ones are asked first.
    const url = (name: string) => `http://${name === 'loop' || name === 'cut' ? '127.0.0.1' : '[::1]'}:${servers[name]!.port}/`;
    const urls = [...Object.keys(faults).map(url), `http://[::1]:${n.port}/`];
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: urls });

    const leech = sixswarm(['download', torrent, '-o', join(d, 'out'), '--port', '0', '--no-trackers', '--no-dht', '--json', '--exit-on-complete'], { env: { SIXSWARM_STATE_DIR: join(d, 'state') } });
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'out', 'tree'))).toEqual(await treeDigest(join(d, 'www', 'tree')));

    const failed = leech.events.filter((e) => e.event === 'web-seed-failed');
    const of = (name: string) => failed.filter((e) => e.url === url(name));
    const expected: Record<string, Partial<JsonEvent>> = {
      corrupt: { kind: 'hash', action: 'banned' },
      missing: { kind: 'missing', action: 'file-dropped', reason: '"tree/b.bin" is not there (HTTP 404 Not Found)' },
      loop: { kind: 'redirects', action: 'retry' },
      cut: { kind: 'closed', action: 'retry' },
      flood: { kind: 'too-much', action: 'retry' },
    };
    for (const [name, want] of Object.entries(expected)) {
      expect(of(name), `${name}: ${JSON.stringify(failed)}`).toHaveLength(1);
      expect(of(name)[0]).toMatchObject(want);
    }
    expect(of('loop')[0]!.reason).toMatch(/redirects in a loop/);
    expect(of('cut')[0]!.reason).toMatch(/closed the connection after \d+ of \d+ body bytes/);
    expect(of('flood')[0]!.reason).toMatch(/sent more than the \d+ bytes asked for/);
    expect(of('corrupt')[0]!.reason).toMatch(/served data that failed the hash check \(piece \d+\)/);
    // The trickle was outrun (the others took its blocks in the endgame), not necessarily failed.
    expect(of('slow').length).toBeLessThanOrEqual(1);
    expect(failed.filter((e) => !urls.includes(e.url as string))).toEqual([]);

    // The liar banned: asked nothing after its ban; the seed missing b.bin never asked for it again.
    const ban = Date.parse(of('corrupt')[0]!.time as string);
    expect(servers.corrupt!.requests.filter((r) => r.at > ban + 100)).toEqual([]);
    expect(servers.missing!.requests.filter((r) => r.path === '/tree/b.bin' && r.status === 404)).toHaveLength(
      servers.missing!.requests.filter((r) => r.path === '/tree/b.bin').length,
    );
    const dropped = Date.parse(of('missing')[0]!.time as string);
    expect(servers.missing!.requests.filter((r) => r.path === '/tree/b.bin' && r.at > dropped + 100)).toEqual([]);

    const last = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    const status = Object.fromEntries((last.webSeeds as { url: string; state: string; failures: number; missingFiles: number }[]).map((w) => [w.url, w]));
    expect(status[url('corrupt')]).toMatchObject({ state: 'banned' });
    expect(status[url('missing')]).toMatchObject({ missingFiles: 1 });
    expect(status[urls.at(-1)!]).toMatchObject({ failures: 0 });
    // Every piece that failed had blocks of the liar's (some also of a seed that was cut short before it took over).
    const piecesFailed = leech.events.filter((e) => e.event === 'piece-failed');
    expect(piecesFailed.length).toBeGreaterThan(0);
    for (const e of piecesFailed) expect(e.peers).toContain(`web seed ${url('corrupt')}`);
    expect(createHash('sha1').update(meta.infoBuffer).digest('hex')).toBe(meta.infoHashHex);
  });
});
