/**
 * Protocol encryption end to end, real processes over [::1]: sixswarm downloads from a
 * libtorrent seed that forces RC4 both ways and a libtorrent leecher forcing RC4 downloads from
 * a sixswarm seed (each with the control that --encryption off does not connect); a
 * plaintext-only libtorrent seed still serves sixswarm's default (prefer), and not require;
 * transmission-daemon with encryption required downloads from a sixswarm seed that dials it
 * (and refuses one with --encryption off). With --encryption require a recording proxy between
 * two sixswarms sees neither the protocol string nor any piece bytes, which the same capture
 * of a plaintext transfer does show. Then the CLI's policy pairs, flag and help.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  downloadOverIPv6,
  libtorrentPeer,
  mktorrent,
  seedOverIPv6,
  startTransmission,
  waitUntil,
  type LibtorrentOptions,
} from '../support/peers.js';
import { RecordingProxy } from '../support/recording-proxy.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const PROTOCOL = Buffer.from('BitTorrent protocol', 'latin1');
const FORCED_RC4: LibtorrentOptions['encryption'] = { out: 'forced', in: 'forced', level: 'rc4' };

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** A folder with one random file and its mktorrent torrent (256 KiB pieces). */
async function fixture(bytes: number): Promise<{ d: string; torrent: string; env: NodeJS.ProcessEnv }> {
  const d = (dir = await tempDir('sixswarm-mse-interop-'));
  await makeTree(join(d, 'seed'), { 'data.bin': bytes });
  await mktorrent(join(d, 'seed', 'data.bin'), join(d, 'p.torrent'), 18);
  return { d, torrent: join(d, 'p.torrent'), env: { SIXSWARM_STATE_DIR: join(d, 'state') } };
}

async function libtorrentReady(o: LibtorrentOptions): Promise<void> {
  await libtorrentPeer(o).event('checked', 30_000);
}

const connectedEvents = (p: SixswarmProcess) => p.events.filter((e) => e.event === 'peer-connected');

/**
 * A sixswarm leecher that must fail to connect to `port` under `policy`: the control that shows
 * what the libtorrent peer accepts. Libtorrent's own list of peers is no witness here: it is
 * sampled every 50 ms, and a few MiB over loopback come and go in less.
 */
async function refusedUnder(policy: string, port: number, f: { d: string; torrent: string }): Promise<void> {
  const leech = sixswarm(['download', f.torrent, '-o', join(f.d, `refused-${policy}`), '--peer', `[::1]:${port}`, '--port', '0', '--no-ipv4', '--encryption', policy, '--json'], {
    env: { SIXSWARM_STATE_DIR: join(f.d, `state-refused-${policy}`) },
    label: `${policy} leech`,
  });
  await leech.waitFor((e) => e.event === 'peer-unreachable', 15_000, 'the dial refused');
  expect(connectedEvents(leech)).toEqual([]);
  leech.kill('SIGTERM');
  await leech.exited;
}

describe('encryption with libtorrent over [::1]', () => {
  it('sixswarm (default --encryption prefer) downloads from a libtorrent seed that forces RC4 both ways', { timeout: 60_000 }, async () => {
    const f = await fixture(5 * MiB + 321);
    const port = await freePort();
    await libtorrentReady({ torrent: f.torrent, save: join(f.d, 'seed'), port, encryption: FORCED_RC4 });
    await refusedUnder('off', port, f);
    const leech = await downloadOverIPv6({ torrent: f.torrent, out: join(f.d, 'leech'), port, env: f.env, timeoutMs: 30_000 });
    expect(connectedEvents(leech).map((e) => e.encrypted)).toEqual([true]);
    expect(await treeDigest(join(f.d, 'leech'))).toEqual(await treeDigest(join(f.d, 'seed')));
  });

  it('a libtorrent leecher that forces RC4 both ways downloads from a sixswarm seed it dials (and never from an --encryption off one)', { timeout: 60_000 }, async () => {
    const f = await fixture(5 * MiB + 321);
    const plain = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), env: { SIXSWARM_STATE_DIR: join(f.d, 'state-plain') }, args: ['--encryption', 'off'] });
    const refused = libtorrentPeer({ torrent: f.torrent, save: join(f.d, 'lt-refused'), port: await freePort(), connect: [`[::1]:${await plain.port()}`], encryption: FORCED_RC4 });
    await refused.event('peer-disconnected', 15_000);
    expect(connectedEvents(plain)).toEqual([]);
    refused.kill();
    plain.kill('SIGTERM');

    const seed = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), env: f.env });
    const lt = libtorrentPeer({ torrent: f.torrent, save: join(f.d, 'lt'), port: await freePort(), connect: [`[::1]:${await seed.port()}`], encryption: FORCED_RC4 });
    const done = await lt.event('complete', 45_000);
    expect(done.failed).toBe(0);
    // Each process reports on its own stdout: ours may come after libtorrent's completion.
    await seed.event('peer-connected', 5000);
    expect(connectedEvents(seed)).toEqual([expect.objectContaining({ direction: 'in', encrypted: true, family: 6 })]);
    expect(await treeDigest(join(f.d, 'lt'))).toEqual(await treeDigest(join(f.d, 'seed')));
  });

  it('a plaintext-only libtorrent seed (encryption disabled both ways) still serves the default policy', { timeout: 60_000 }, async () => {
    const f = await fixture(3 * MiB + 5);
    const port = await freePort();
    await libtorrentReady({ torrent: f.torrent, save: join(f.d, 'seed'), port, encryption: { out: 'disabled', in: 'disabled', level: 'both' } });
    await refusedUnder('require', port, f);
    const leech = await downloadOverIPv6({ torrent: f.torrent, out: join(f.d, 'leech'), port, env: f.env, timeoutMs: 30_000 });
    expect(connectedEvents(leech).map((e) => e.encrypted)).toEqual([false]);
    expect(await treeDigest(join(f.d, 'leech'))).toEqual(await treeDigest(join(f.d, 'seed')));
  });
});

describe('encryption with transmission over [::1]', () => {
  it('transmission-daemon with encryption required downloads from a sixswarm seed that dials it, and refuses a plaintext one', { timeout: 90_000 }, async () => {
    const f = await fixture(4 * MiB + 99);
    const tr = await startTransmission({ configDir: join(f.d, 'tr'), downloadDir: join(f.d, 'leech'), peerPort: await freePort(), rpcPort: await freePort(), encryption: 2 });
    await tr.remote(['-a', f.torrent, '-w', join(f.d, 'leech')]);
    await waitUntil(async () => !/Verifying|Queued|^$/.test((await tr.info()).get('State') ?? ''), 15_000, () => 'transmission finishing its check');

    // The control: a plaintext seed is turned away.
    const plain = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), dial: [tr.peerPort], env: { SIXSWARM_STATE_DIR: join(f.d, 'state-plain') }, args: ['--encryption', 'off'] });
    await plain.waitFor((e) => e.event === 'peer-unreachable', 15_000, 'the plaintext dial refused');
    expect(connectedEvents(plain)).toEqual([]);
    plain.kill('SIGTERM');
    expect(await plain.exited).toBe(0);

    const seed = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), dial: [tr.peerPort], env: f.env });
    const info = await waitUntil(
      async () => {
        const i = await tr.info();
        return i.get('Percent Done') === '100%' ? i : undefined;
      },
      60_000,
      () => `transmission completing\n${seed.tail()}`,
    );
    expect(info.get('Corrupt DL')).toBe('None');
    expect(connectedEvents(seed)).toEqual([expect.objectContaining({ direction: 'out', client: '-TR3000-', encrypted: true })]);
    expect(await treeDigest(join(f.d, 'leech'))).toEqual(await treeDigest(join(f.d, 'seed')));
  });
});

/** 16-byte windows of `payload` at every 16th offset, keyed by their first 8 bytes. */
function windowsOf(payload: Buffer): Map<bigint, number[]> {
  const m = new Map<bigint, number[]>();
  for (let o = 0; o + 16 <= payload.length; o += 16) {
    const k = payload.readBigUInt64LE(o);
    const list = m.get(k);
    if (list) list.push(o);
    else m.set(k, [o]);
  }
  return m;
}

/** Offsets in `stream` where 16 bytes of the payload appear as they are (any plaintext run of 31 bytes holds one). */
function payloadBytesIn(stream: Buffer, payload: Buffer, windows: Map<bigint, number[]>): number {
  let hits = 0;
  for (let i = 0; i + 16 <= stream.length; i++) {
    const at = windows.get(stream.readBigUInt64LE(i));
    if (at?.some((o) => stream.compare(payload, o, o + 16, i, i + 16) === 0)) hits++;
  }
  return hits;
}

describe('--encryption require on the wire', () => {
  it('a capture of a transfer between two sixswarms shows no protocol string and no piece bytes (a plaintext capture shows both)', { timeout: 90_000 }, async () => {
    const f = await fixture(2 * MiB + 777);
    const payload = await readFile(join(f.d, 'seed', 'data.bin'));
    const windows = windowsOf(payload);
    const captures: Record<string, { up: Buffer; down: Buffer }> = {};
    for (const policy of ['off', 'require']) {
      const seed = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), env: { SIXSWARM_STATE_DIR: join(f.d, `state-seed-${policy}`) }, args: ['--encryption', policy] });
      const proxy = await RecordingProxy.start('::1', { host: '::1', port: await seed.port() });
      try {
        const leech = await downloadOverIPv6({
          torrent: f.torrent,
          out: join(f.d, `leech-${policy}`),
          port: proxy.port,
          env: { SIXSWARM_STATE_DIR: join(f.d, `state-leech-${policy}`) },
          timeoutMs: 45_000,
          args: ['--encryption', policy],
        });
        expect(connectedEvents(leech).map((e) => e.encrypted)).toEqual([policy === 'require']);
        expect(await treeDigest(join(f.d, `leech-${policy}`))).toEqual(await treeDigest(join(f.d, 'seed')));
      } finally {
        await proxy.close();
        seed.kill('SIGTERM');
        await seed.exited;
      }
      expect(proxy.connections).toHaveLength(1);
      captures[policy] = { up: proxy.bytes('up'), down: proxy.bytes('down') };
    }
    const plain = captures.off!;
    const enc = captures.require!;
    // The control: the search finds the protocol string both ways and the pieces in a plaintext transfer.
    expect(plain.up.includes(PROTOCOL) && plain.down.includes(PROTOCOL)).toBe(true);
    expect(payloadBytesIn(plain.down, payload, windows)).toBeGreaterThan(payload.length / 32);
    expect(enc.down.length).toBeGreaterThan(payload.length);
    for (const stream of [enc.up, enc.down]) {
      expect(stream.includes(PROTOCOL)).toBe(false);
      expect(payloadBytesIn(stream, payload, windows)).toBe(0);
    }
  });

  it('a require seed and an off leecher never connect; a prefer leecher and an off seed connect in plaintext', { timeout: 60_000 }, async () => {
    const f = await fixture(1 * MiB);
    const required = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), env: { SIXSWARM_STATE_DIR: join(f.d, 's1') }, args: ['--encryption', 'require'] });
    const off = sixswarm(['download', f.torrent, '-o', join(f.d, 'leech-off'), '--peer', `[::1]:${await required.port()}`, '--port', '0', '--no-ipv4', '--encryption', 'off', '--json'], {
      env: { SIXSWARM_STATE_DIR: join(f.d, 'l1') },
      label: 'off leech',
    });
    const refused = await off.waitFor((e) => e.event === 'peer-unreachable', 15_000, 'the plaintext dial refused');
    expect(refused.reason).toBe('closed the connection during the handshake (it may require encryption)');
    expect(connectedEvents(off)).toEqual([]);
    expect(connectedEvents(required)).toEqual([]);

    const plainSeed = await seedOverIPv6({ torrent: f.torrent, dir: join(f.d, 'seed'), env: { SIXSWARM_STATE_DIR: join(f.d, 's2') }, args: ['--encryption', 'off'] });
    const leech = await downloadOverIPv6({ torrent: f.torrent, out: join(f.d, 'leech-prefer'), port: await plainSeed.port(), env: { SIXSWARM_STATE_DIR: join(f.d, 'l2') }, timeoutMs: 30_000 });
    expect(connectedEvents(leech).map((e) => e.encrypted)).toEqual([false]);
  });

  it('--encryption takes prefer, require, allow or off, and --help says what each does', async () => {
    const f = await fixture(1000);
    const bad = await runCli(['download', f.torrent, '--encryption', 'always']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--encryption must be prefer, require, allow or off, not "always"/);
    for (const cmd of ['download', 'seed']) {
      const help = await runCli([cmd, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/--encryption prefer\|require\|allow\|off/);
      for (const word of ['prefer (default)', 'require:', 'allow:', 'off:']) expect(help.stdout).toContain(word);
    }
  });
});
