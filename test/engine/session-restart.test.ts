/**
 * A session of 200 seeded torrents (TorrentManager, headless, real files) restarted: every one
 * comes back seeding from its resume state, none whose files did not change is hashed again (nor
 * its resume file rewritten), and the two whose files did change are hashed: one touched (same
 * bytes, new mtime: all its pieces pass again), one with a byte changed (that piece is missing).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { SessionStore } from '../../src/session/session-store.js';
import { StatusFeed, type EngineEvent } from '../../src/status/feed.js';
import { Session } from '../../src/session/session.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import { resumePath } from '../../src/storage/resume.js';
import { waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const TORRENTS = 200;
const PIECE = 16 * 1024;
const SIZE = 3 * PIECE - 1000; // three pieces, the last one short

describe('a session of 200 torrents', () => {
  it('restarts with every torrent resumed and only those whose files changed hashed again', { timeout: 120_000 }, async () => {
    dir = await tempDir();
    const data = join(dir, 'data');
    await mkdir(data);
    const torrents: { file: string; infoHash: string; data: string }[] = [];
    for (let i = 0; i < TORRENTS; i++) {
      const name = `t${String(i).padStart(3, '0')}.bin`;
      await writeFile(join(data, name), randomBytes(SIZE));
      const bytes = await createTorrent({ path: join(data, name), pieceLength: PIECE });
      const file = join(dir, `${name}.torrent`);
      await writeFile(file, bytes);
      torrents.push({ file, infoHash: parseTorrent(bytes).infoHashHex, data: join(data, name) });
    }
    const stateDir = join(dir, 'state');
    const session = () => {
      const engine = new Engine({ port: 0, ipv4: false, ipv6: true, listenHost: { 6: '::1' }, stateDir });
      const feed = new StatusFeed(engine);
      const events: EngineEvent[] = [];
      feed.on('event', (e) => events.push(e));
      const manager = new Session({ engine, feed, store: new SessionStore(join(dir!, 'session')), downloadDir: data });
      return { engine, events, manager };
    };
    const allSeeding = (m: Session) => m.summaries().length === TORRENTS && m.summaries().every((s) => s.state === 'seeding');

    // First run: every torrent added over its complete data, hashed once, seeding.
    let s = session();
    await s.engine.listen();
    for (const t of torrents) await s.manager.add(t.file);
    await waitUntil(() => allSeeding(s.manager), 60_000, () => 'all 200 seeding after the first check');
    await s.manager.close();
    expect(s.events.filter((e) => e.event === 'checked' && e.hashed === 3)).toHaveLength(TORRENTS);

    const resumeMtime = async (t: { infoHash: string }) => (await stat(resumePath(stateDir, t.infoHash, data))).mtimeMs;
    const before = await Promise.all(torrents.map(resumeMtime));
    // Torrent 7: the same bytes, a new mtime. Torrent 8: one byte of its second piece changed.
    const touched = torrents[7]!, edited = torrents[8]!;
    const later = new Date(Date.now() + 5000);
    await utimes(touched.data, later, later);
    const fh = await open(edited.data, 'r+');
    const byte = (await readFile(edited.data))[PIECE + 10]!;
    await fh.write(Buffer.from([byte ^ 0xff]), 0, 1, PIECE + 10);
    await fh.close();

    // Second run: the saved session, resumed.
    s = session();
    await s.engine.listen();
    expect(await s.manager.open()).toEqual([]);
    await waitUntil(() => s.events.filter((e) => e.event === 'checked').length === TORRENTS, 60_000, () => 'all 200 checked after the restart');
    const checked = new Map<string, Extract<EngineEvent, { event: 'checked' }>>();
    for (const e of s.events) if (e.event === 'checked') checked.set(e.torrent, e);
    for (const t of torrents) {
      const c = checked.get(t.infoHash)!;
      if (t === touched) expect(c).toMatchObject({ hashed: 3, valid: 3, trusted: 0, have: 3 });
      else if (t === edited) expect(c).toMatchObject({ hashed: 3, valid: 2, trusted: 0, have: 2 });
      else expect(c).toMatchObject({ hashed: 0, valid: 0, trusted: 3, have: 3 });
    }
    await waitUntil(() => s.manager.summaries().filter((x) => x.state === 'seeding').length === TORRENTS - 1, 30_000, () => '199 seeding');
    expect(s.manager.summaries().find((x) => x.infoHash === edited.infoHash)?.state).toBe('downloading');
    // A seed whose check trusted everything has nothing new to record: its resume file is left alone.
    const after = await Promise.all(torrents.map(resumeMtime));
    for (const [i, t] of torrents.entries()) if (t !== touched && t !== edited) expect(after[i]).toBe(before[i]);
    await s.manager.close();
  });
});
