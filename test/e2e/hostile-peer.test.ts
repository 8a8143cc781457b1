/**
 * Hostile peers against a real sixswarm process. A raw-TCP harness lies about piece data or
 * breaks the wire protocol; sixswarm must drop (or ban) exactly that peer with a clear reason,
 * keep running, and still finish from honest peers with every piece verified.
 *
 * Bans and blame are per IP, so hostile peers live on 127.0.0.2 and honest ones on 127.0.0.1.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Metainfo } from '../../src/metainfo/types.js';
import { ensureBuilt } from '../support/build.js';
import { frame, fullBitfield, MSG, rawFrame, RawPeer, RawPeerServer, u32 } from '../support/raw-peer.js';
import { waitUntil } from '../support/peers.js';
import { freePort, removeDir, seedPayload, sixswarm, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const PIECE = 16 * 1024; // one block per piece: a failed piece has exactly one contributor to blame
const TREE = { 'a.bin': 40 * PIECE + 123, 'sub/b.bin': 20 * PIECE + 7 }; // 61 pieces, short last piece
const HOSTILE_IP = '127.0.0.2';

let dir: string;
let torrent: string;
let meta: Metainfo;
let payload: Buffer; // the torrent's bytes, concatenated in file order
let seed: SixswarmProcess; // honest, shared by every case
let seedPort: number;
let runs = 0;
const perTest: SixswarmProcess[] = [];
const servers: RawPeerServer[] = [];
const raws: RawPeer[] = [];

function start(args: string[], label: string): SixswarmProcess {
  const p = sixswarm(args, { env: { SIXSWARM_STATE_DIR: join(dir, 'state') }, label });
  perTest.push(p);
  return p;
}

async function hostileServer(): Promise<RawPeerServer> {
  const s = await RawPeerServer.listen(HOSTILE_IP);
  servers.push(s);
  return s;
}

async function dialSeed(): Promise<RawPeer> {
  const p = await RawPeer.connect('127.0.0.1', seedPort);
  raws.push(p);
  return p;
}

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir();
  ({ torrent, meta, payload } = await seedPayload(dir, TREE, PIECE));
  expect(payload.length).toBe(meta.totalLength);
  seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '0', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, 'seed-state') }, label: 'seed' });
  expect((await seed.event('checked')).have).toBe(meta.pieceCount);
  seedPort = await seed.port();
});

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  const procs = perTest.splice(0);
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

afterAll(async () => {
  seed?.kill('SIGKILL');
  await seed?.exited;
  await removeDir(dir);
});

/** Every piece verified exactly as the torrent says, and the files equal the seed's. */
async function expectComplete(leech: SixswarmProcess, out: string): Promise<void> {
  const verified = new Set(leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index));
  expect(verified.size).toBe(meta.pieceCount);
  expect(await treeDigest(join(out, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
}

const disconnectedFrom = (address: string) => (e: JsonEvent) => e.event === 'peer-disconnected' && e.address === address;

/**
 * A downloader given the honest seed and one hostile peer that runs `script` on every connection.
 * Returns the reason sixswarm gave for dropping the hostile peer, after the download completed.
 */
async function downloadBeside(script: (p: RawPeer) => Promise<void>): Promise<{ reason: string; leech: SixswarmProcess; hostile: RawPeerServer }> {
  const hostile = await hostileServer();
  hostile.onPeer(script);
  const out = join(dir, `leech-${++runs}`);
  const leech = start(['download', torrent, '-o', out, '--peer', `127.0.0.1:${seedPort}`, '--peer', hostile.address, '--port', '0', '--json'], 'leech');
  const gone = await leech.waitFor(disconnectedFrom(hostile.address), 15_000, `peer-disconnected from ${hostile.address}`);
  await leech.event('complete', 20_000);
  leech.kill('SIGTERM');
  expect(await leech.exited).toBe(0);
  await expectComplete(leech, out);
  return { reason: String(gone.reason), leech, hostile };
}

/** Handshake as a peer of this torrent, after reading sixswarm's. */
async function greet(p: RawPeer): Promise<void> {
  await p.readHandshake();
  p.sendHandshake(meta.infoHash);
}

describe('hostile peers against a downloader', () => {
  it('bans a peer that answers requests with corrupt data, never redials it, and completes from an honest seed', async () => {
    const hostile = await hostileServer();
    hostile.onPeer(async (p) => {
      await greet(p);
      p.serve(payload, PIECE, { corrupt: true });
    });
    // The honest seed joins only after the ban (it dials our listener), so the hostile peer is
    // certain to have been asked for pieces first.
    const leechPort = await freePort();
    const out = join(dir, 'leech-corrupt');
    const leech = start(['download', torrent, '-o', out, '--peer', hostile.address, '--port', String(leechPort), '--exit-on-complete', '--json'], 'leech');
    const banned = await leech.event('peer-banned', 15_000);
    expect(banned.ip).toBe(HOSTILE_IP);
    const failed = leech.events.filter((e) => e.event === 'piece-failed');
    expect(failed.length).toBeGreaterThanOrEqual(2); // a single offence is not enough for a ban
    for (const f of failed) expect(f.peers).toEqual([HOSTILE_IP]);
    const gone = await leech.waitFor(disconnectedFrom(hostile.address), 5000, 'the banned peer to be disconnected');
    expect(gone.reason).toMatch(/banned/);

    // A manual --peer is normally redialed 5 s after a disconnect; a banned one never is.
    await new Promise((r) => setTimeout(r, 7000));
    // Counted by BitTorrent handshakes: the first dial is encrypted, the plaintext-only peer hangs up on it, and the dial falls back.
    expect(hostile.peers.filter((p) => p.handshake).length, 'the banned peer was dialed again').toBe(1);

    const honest = start(['seed', torrent, join(dir, 'seed'), '--port', '0', '--peer', `127.0.0.1:${leechPort}`, '--json'], 'honest-seed');
    await leech.event('complete', 20_000);
    expect(await leech.exited).toBe(0);
    await expectComplete(leech, out);
    expect(leech.events.filter((e) => e.event === 'peer-connected' && e.address === hostile.address)).toHaveLength(1);
    honest.kill('SIGTERM');
    expect(await honest.exited).toBe(0);
  });

  it('drops a peer whose message claims a 2^31-byte length', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await greet(p);
      p.send(rawFrame(2 ** 31, MSG.piece));
    });
    expect(reason).toMatch(/protocol error: message of 2147483648 bytes exceeds/);
  });

  it('drops a peer that sends a have without its payload', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await greet(p);
      p.send(rawFrame(1, MSG.have));
    });
    expect(reason).toMatch(/protocol error: message type 4 with 0 payload bytes/);
  });

  it('drops a peer that sends a have for a piece past the end', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await greet(p);
      p.sendMessage(MSG.have, u32(meta.pieceCount));
    });
    expect(reason).toMatch(new RegExp(`have for piece ${meta.pieceCount} of ${meta.pieceCount}`));
  });

  it('drops a peer that sends a bitfield of the wrong length', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await greet(p);
      p.sendMessage(MSG.bitfield, Buffer.concat([fullBitfield(meta.pieceCount), Buffer.from([0xff])]));
    });
    expect(reason).toMatch(new RegExp(`bitfield of ${Math.ceil(meta.pieceCount / 8) + 1} bytes`));
  });

  it('drops a peer that sends a bitfield with spare bits set', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await greet(p);
      p.sendMessage(MSG.bitfield, Buffer.alloc(Math.ceil(meta.pieceCount / 8), 0xff));
    });
    expect(reason).toMatch(/spare bits/);
  });

  it('drops a peer whose BEP 10 handshake is nested 10,000 deep', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await p.readHandshake();
      p.sendHandshake(meta.infoHash, { extended: true });
      p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), Buffer.from('l'.repeat(10_000) + 'e'.repeat(10_000))]));
    });
    expect(reason).toMatch(/protocol error: bad extension handshake: .*nested deeper/);
  });

  it('drops a peer that pushes blocks nobody asked for', async () => {
    const { reason } = await downloadBeside(async (p) => {
      await greet(p);
      for (let i = 0; i < 100; i++) p.sendMessage(MSG.piece, Buffer.concat([u32(i % meta.pieceCount, 0), Buffer.alloc(1024)]));
    });
    expect(reason).toMatch(/never requested/);
  });

  it('takes blocks that arrive after a choke dropped their requests (already on the wire), without counting them as unsolicited', async () => {
    // Its own torrent: 128 blocks, twice the unsolicited-block allowance, all delivered late.
    const own = join(dir, 'late');
    const late = await seedPayload(own, { 'late.bin': 8 * 256 * 1024 }, 256 * 1024);
    const server = await hostileServer();
    let lateBlocks = 0;
    server.onPeer(async (p) => {
      await p.readHandshake();
      p.sendHandshake(late.meta.infoHash);
      p.sendMessage(MSG.bitfield, fullBitfield(late.meta.pieceCount));
      let batch: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      // Each batch of requests: choke (which drops them, BEP 3), then send the blocks anyway, then unchoke.
      const flush = () => {
        p.sendMessage(MSG.choke);
        for (const r of batch) {
          const index = r.readUInt32BE(0), begin = r.readUInt32BE(4), length = r.readUInt32BE(8);
          const at = index * late.meta.pieceLength + begin;
          p.sendMessage(MSG.piece, Buffer.concat([u32(index, begin), late.payload.subarray(at, at + length)]));
          lateBlocks++;
        }
        batch = [];
        p.sendMessage(MSG.unchoke);
      };
      p.onMessage((m) => {
        if (m.id === MSG.interested) p.sendMessage(MSG.unchoke);
        if (m.id !== MSG.request) return;
        batch.push(m.payload);
        clearTimeout(timer);
        timer = setTimeout(flush, 20);
      });
    });
    const out = join(own, 'out');
    const leech = start(['download', late.torrent, '-o', out, '--peer', server.address, '--port', '0', '--json'], 'leech');
    await leech.event('complete', 20_000);
    // Connected until the end: only finishing (two seeds have nothing to say) parts them.
    expect(leech.events.filter(disconnectedFrom(server.address)).map((e) => e.reason)).toEqual(['both sides are seeds']);
    expect(new Set(leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index)).size).toBe(late.meta.pieceCount);
    expect(lateBlocks).toBeGreaterThanOrEqual(128);
    expect(await treeDigest(out)).toEqual(await treeDigest(join(own, 'seed')));
  });

  it('hangs up on a peer that answers with garbage instead of a handshake', async () => {
    const garbage = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'.repeat(2));
    let closedAfter = -1;
    let handled!: () => void;
    const exchanged = new Promise<void>((r) => (handled = r));
    const hostile = await hostileServer();
    hostile.onPeer(async (p) => {
      await p.readHandshake();
      const sent = Date.now();
      p.send(garbage);
      await p.waitClosed(5000);
      if (p.closedBy === 'remote') closedAfter = Date.now() - sent;
      handled();
    });
    // No --exit-on-complete: a downloader done (and gone) before the exchange would hang up for that reason instead.
    const out = join(dir, 'leech-garbage');
    const leech = start(['download', torrent, '-o', out, '--peer', `127.0.0.1:${seedPort}`, '--peer', hostile.address, '--port', '0', '--json'], 'leech');
    await leech.event('complete', 20_000);
    await exchanged;
    leech.kill('SIGTERM');
    expect(await leech.exited).toBe(0);
    await expectComplete(leech, out);
    // Closed because of what it sent, not by a handshake timeout or because the downloader exited.
    expect(closedAfter).toBeGreaterThanOrEqual(0);
    expect(closedAfter).toBeLessThan(2000);
    expect(leech.events.some((e) => e.event === 'peer-connected' && e.address === hostile.address)).toBe(false);
  });
});

describe('hostile leechers against a seed', () => {
  /**
   * Connect to the shared seed as a leecher, get unchoked, then misbehave. Returns the reason the
   * seed gave; then an honest sixswarm leecher must still complete from the same seed.
   */
  async function leechHostile(misbehave: (p: RawPeer) => void, opts: { unchoke?: boolean } = {}): Promise<string> {
    const p = await dialSeed();
    p.sendHandshake(meta.infoHash);
    await p.readHandshake();
    const address = `127.0.0.1:${p.socket.localPort}`;
    await p.waitForMessage(MSG.bitfield);
    if (opts.unchoke !== false) {
      p.sendMessage(MSG.interested);
      await p.waitForMessage(MSG.unchoke);
    }
    const from = seed.events.length;
    misbehave(p);
    const gone = await seed.waitFor((e) => seed.events.indexOf(e) >= from && disconnectedFrom(address)(e), 5000, `peer-disconnected from ${address}`);
    p.resumeReading();
    await p.waitClosed(2000);
    expect(p.closedBy).toBe('remote');
    await honestLeecherCompletes();
    return String(gone.reason);
  }

  async function honestLeecherCompletes(): Promise<void> {
    const out = join(dir, `leech-${++runs}`);
    const leech = start(['download', torrent, '-o', out, '--peer', `127.0.0.1:${seedPort}`, '--port', '0', '--exit-on-complete', '--json'], 'honest-leech');
    await leech.event('complete', 20_000);
    expect(await leech.exited).toBe(0);
    await expectComplete(leech, out);
  }

  it('keeps serving a leecher that resends its bitfield mid-stream (aria2 does), never taking it for a seed', async () => {
    const p = await dialSeed();
    p.sendHandshake(meta.infoHash);
    await p.readHandshake();
    await p.waitForMessage(MSG.bitfield);
    p.sendMessage(MSG.interested);
    await p.waitForMessage(MSG.unchoke);
    // The same partial bitfield again and again: the seed must count pieces, not messages.
    const partial = Buffer.alloc(Math.ceil(meta.pieceCount / 8));
    partial[0] = 0x80; // piece 0 only
    for (let i = 0; i < meta.pieceCount + 2; i++) p.sendMessage(MSG.bitfield, partial);
    p.sendMessage(MSG.request, u32(1, 0, PIECE));
    const piece = await p.waitForMessage(MSG.piece);
    expect(piece.payload.readUInt32BE(0)).toBe(1);
    p.close();
  });

  it('drops a leecher that requests a piece index past the last piece', async () => {
    const reason = await leechHostile((p) => p.sendMessage(MSG.request, u32(meta.pieceCount, 0, PIECE)));
    expect(reason).toMatch(new RegExp(`request for piece ${meta.pieceCount} of ${meta.pieceCount}`));
  });

  it('drops a leecher that requests bytes past the end of a piece', async () => {
    const reason = await leechHostile((p) => p.sendMessage(MSG.request, u32(0, PIECE / 2, PIECE)));
    expect(reason).toMatch(/request past the end of piece 0/);
  });

  it('drops a leecher that requests past the end of the short last piece', async () => {
    const last = meta.pieceCount - 1;
    const reason = await leechHostile((p) => p.sendMessage(MSG.request, u32(last, 0, PIECE)));
    expect(reason).toMatch(new RegExp(`request past the end of piece ${last}`));
  });

  it('drops a leecher that floods thousands of requests without reading', async () => {
    const requests: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) requests.push(frame(MSG.request, u32(i % meta.pieceCount, 0, Math.min(PIECE, meta.totalLength - (i % meta.pieceCount) * PIECE))));
    const reason = await leechHostile((p) => {
      p.pauseReading();
      p.send(Buffer.concat(requests));
    });
    expect(reason).toMatch(/request flood/);
  });

  it('drops a choked fast-extension leecher that floods requests without reading', async () => {
    // Choked BEP 6 peers get a reject per request. Without a limit, a peer that never reads makes
    // the seed queue those rejects in memory without bound (measured: ~350 MB for 60 MB of requests).
    const p = await dialSeed();
    p.sendHandshake(meta.infoHash, { fast: true });
    await p.readHandshake();
    await p.waitForMessage(MSG.haveAll);
    const address = `127.0.0.1:${p.socket.localPort}`;
    p.pauseReading();
    const one = frame(MSG.request, u32(0, 0, PIECE));
    p.send(Buffer.concat(Array<Buffer>(100_000).fill(one)));
    const gone = await seed.waitFor(disconnectedFrom(address), 5000, `peer-disconnected from ${address}`);
    expect(gone.reason).toMatch(/request/);
    await honestLeecherCompletes();
  });

  it('drops a leecher that sends a 2^31 length prefix', async () => {
    const reason = await leechHostile((p) => p.send(rawFrame(2 ** 31)), { unchoke: false });
    expect(reason).toMatch(/exceeds/);
  });

  it('drops a leecher that sends a bitfield of the wrong length', async () => {
    const reason = await leechHostile((p) => p.send(frame(MSG.bitfield, Buffer.alloc(3))), { unchoke: false });
    expect(reason).toMatch(/bitfield of 3 bytes/);
  });

  it('hangs up on garbage instead of a handshake and keeps seeding', async () => {
    const p = await dialSeed();
    const sent = Date.now();
    // Bytes that do not start like a BitTorrent handshake are read as an MSE attempt: closed once
    // 628 of them hold no sync mark (shorter garbage waits out the handshake timeout).
    p.send(Buffer.from(`GET /announce?info_hash=x HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl\r\nCookie: ${'x'.repeat(700)}\r\n\r\n`));
    await p.waitClosed(2000);
    expect(p.closedBy).toBe('remote');
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(p.handshake).toBeUndefined();
    await honestLeecherCompletes();
  });

  it('refuses idle connections beyond its bound on unfinished handshakes, and keeps seeding', async () => {
    // 300 connections that never say hello: only 256 may wait; the rest are closed at once.
    const idle = await Promise.all(Array.from({ length: 300 }, () => dialSeed()));
    await new Promise((r) => setTimeout(r, 1000));
    const closed = idle.filter((p) => p.closedBy === 'remote').length;
    expect(closed).toBeGreaterThanOrEqual(300 - 256);
    expect(closed).toBeLessThan(300);
    for (const p of idle) p.close();
    await new Promise((r) => setTimeout(r, 300));
    await honestLeecherCompletes();
  });

  it('keeps serving others at once while one host holds 500 idle connections', async () => {
    // The flood comes from 127.0.0.3; the honest leecher from 127.0.0.1. Before the slots were
    // shared out per host, the flood filled them all and the honest handshake waited ~15 s.
    const idle = await Promise.all(Array.from({ length: 500 }, () => RawPeer.connect('127.0.0.1', seedPort, 5000, '127.0.0.3')));
    raws.push(...idle);
    await new Promise((r) => setTimeout(r, 300));
    const out = join(dir, `leech-${++runs}`);
    const t0 = Date.now();
    const leech = start(['download', torrent, '-o', out, '--peer', `127.0.0.1:${seedPort}`, '--port', '0', '--exit-on-complete', '--json'], 'honest-leech');
    await leech.event('peer-connected', 10_000);
    expect(Date.now() - t0, 'the honest leecher waited for a handshake slot').toBeLessThan(5000);
    await leech.event('complete', 20_000);
    expect(await leech.exited).toBe(0);
    await expectComplete(leech, out);
    // The flood never holds more than the table: the connections beyond it are closed.
    await waitUntil(() => idle.filter((p) => p.closedBy === 'remote').length >= 500 - 256, 10_000, () => `${idle.filter((p) => p.closedBy === 'remote').length} of 500 closed`);
  });

  it('survived every hostile leecher and stops cleanly', async () => {
    expect(seed.proc.exitCode, `the seed died: ${seed.stderr}`).toBeNull();
    seed.kill('SIGTERM');
    expect(await seed.exited).toBe(0);
    expect(seed.events.filter((e) => e.event === 'error')).toEqual([]);
  });
});
