/**
 * Controls against real libtorrent peers over [::1]: --seed-ratio and --seed-time stop seeding
 * (exit 0) once reached, --sequential verifies pieces in order, and a peer that requires
 * encryption, dialed in plaintext, is reported as unreachable with the reason, in --json and in
 * the progress line.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libtorrentPeer, waitOutput, type LibtorrentOptions } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

const MiB = 1024 * 1024;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup(size: number, pieceLength: number) {
  dir = await tempDir('sixswarm-controls-');
  const d = dir;
  const made = await seedPayload(d, { 'p.bin': size }, pieceLength);
  return { d, ...made, env: { SIXSWARM_STATE_DIR: join(d, 'state') } };
}

async function libtorrentSeed(torrent: string, save: string, extra: Pick<LibtorrentOptions, 'encryption'> = {}) {
  const port = await freePort();
  const lt = libtorrentPeer({ torrent, save, port, ...extra });
  expect((await lt.event('checked')).seeding).toBe(true);
  return port;
}

describe('seeding limits against libtorrent', () => {
  it('seed --seed-ratio 0.5 exits 0 once it uploaded half the torrent to a libtorrent leecher, not much later', async () => {
    const { d, torrent, env } = await setup(4 * MiB, 64 * 1024);
    // Limited, so the ratio is reached mid-transfer and the stop must come from the ratio.
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--no-trackers', '--port', '0', '--no-ipv4', '--max-up', '1M', '--seed-ratio', '0.5', '--json'], { env });
    const port = await seed.port();
    libtorrentPeer({ torrent, save: join(d, 'leech'), port: await freePort(), connect: [`[::1]:${port}`] });
    expect(await seed.exited, seed.stderr).toBe(0);
    const last = seed.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(last.uploaded as number).toBeGreaterThanOrEqual(2 * MiB);
    expect(last.uploaded as number).toBeLessThan(3.5 * MiB);
    expect(seed.stderr).toMatch(/seed ratio 0\.\d\d reached \(--seed-ratio 0\.5\): stopping/);
  });

  it('download --seed-time 2s downloads from libtorrent, seeds 2 s, then exits 0', async () => {
    const { d, torrent, env } = await setup(2 * MiB, 64 * 1024);
    const port = await libtorrentSeed(torrent, join(d, 'seed'));
    const leech = sixswarm(['download', torrent, '-o', join(d, 'leech'), '--no-trackers', '--port', '0', '--no-ipv4', '--peer', `[::1]:${port}`, '--seed-time', '2s', '--json'], { env });
    await leech.event('complete');
    const completeAt = Date.now();
    expect(await leech.exited, leech.stderr).toBe(0);
    const seeded = Date.now() - completeAt;
    expect(seeded).toBeGreaterThanOrEqual(1900);
    expect(seeded).toBeLessThan(6000);
    expect(leech.stderr).toMatch(/seeded for 2 s since completion \(--seed-time\): stopping/);
  });
});

describe('--sequential against libtorrent', () => {
  it('verifies pieces first to last', async () => {
    const { d, torrent, env, meta } = await setup(4 * MiB, 32 * 1024);
    const port = await libtorrentSeed(torrent, join(d, 'seed'));
    const leech = sixswarm(['download', torrent, '-o', join(d, 'leech'), '--no-trackers', '--port', '0', '--no-ipv4', '--peer', `[::1]:${port}`, '--sequential', '--max-down', '2M', '--exit-on-complete', '--json'], { env });
    expect(await leech.exited, leech.stderr).toBe(0);
    const order = leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number);
    expect(order.length).toBe(meta.pieceCount);
    // Requested in order; only the first burst of the rate limit (a quarter second: 16 pieces) is asked
    // for at once and may come back in any order. Rarest-first would scatter them over all 128.
    const late = order.map((p, k) => Math.abs(p - k)).reduce((a, b) => Math.max(a, b), 0);
    expect(late, order.join(' ')).toBeLessThanOrEqual(16);
    expect(order.slice(32), order.join(' ')).toEqual(order.slice(32).sort((a, b) => a - b));
  });
});

describe('a peer that requires encryption', () => {
  it('dialed in plaintext (--encryption off) it is reported unreachable: closed the connection during the handshake (it may require encryption)', async () => {
    const { d, torrent, env } = await setup(1 * MiB, 64 * 1024);
    const port = await libtorrentSeed(torrent, join(d, 'seed'), { encryption: { out: 'forced', in: 'forced', level: 'rc4' } });
    const reason = 'closed the connection during the handshake (it may require encryption)';
    const json = sixswarm(['download', torrent, '-o', join(d, 'a'), '--no-trackers', '--port', '0', '--no-ipv4', '--peer', `[::1]:${port}`, '--encryption', 'off', '--json'], { env });
    const e = await json.event('peer-unreachable');
    expect(e).toMatchObject({ address: `[::1]:${port}`, source: 'manual', reason });
    await json.waitFor((p) => p.event === 'progress' && (p.unreachable as number) >= 1, 5000, 'a progress event counting it');
    json.kill('SIGTERM');
    await json.exited;
    // The plain progress line (not a terminal: one line every 5 s) counts it and says why.
    const plain = sixswarm(['download', torrent, '-o', join(d, 'b'), '--no-trackers', '--port', '0', '--no-ipv4', '--peer', `[::1]:${port}`, '--encryption', 'off'], { env, label: 'plain download' });
    await waitOutput(plain, /unreachable: last/, 15_000);
    expect(plain.stdoutRaw).toMatch(new RegExp(`peers 0 \\(v4 0, v6 0, seeds 0, \\d+ unreachable: last: \\[::1\\]:${port} ${reason.replace(/[()]/g, '\\$&')}\\)`));
    plain.kill('SIGINT');
    expect(await plain.exited).toBe(130);
  });
});
