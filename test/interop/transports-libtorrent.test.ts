/**
 * The sixswarm CLI with its default transports (TCP and uTP) and libtorrent-rasterbar 2.0
 * (python3-libtorrent) with TCP switched off both ways (`enable_incoming_tcp` and
 * `enable_outgoing_tcp` False), over IPv6 and IPv4 loopback: sixswarm downloads from it (libtorrent
 * still accepts TCP connections and closes them at once: the dial tries the address again over
 * uTP, and one connection is kept) and seeds to it (libtorrent dials in over uTP); the data is
 * verified, and both ends report the connection as uTP.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libtorrentPeer, logTiming } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';
import { LOOPBACK, sha1 } from '../support/utp.js';

const SIZE = 8 * 1024 * 1024 + 4321;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const hostPort = (family: 4 | 6, port: number) => (family === 6 ? `[::1]:${port}` : `127.0.0.1:${port}`);
/** Only the family under test: the other would give libtorrent a second address of ours to list. */
const only = (family: 4 | 6) => (family === 6 ? '--no-ipv4' : '--no-ipv6');

describe.each([6, 4] as const)('sixswarm (TCP and uTP) with a libtorrent that speaks uTP only, over IPv%i', (family) => {
  it('downloads from it: the TCP connection it hangs up on gives way to uTP at once, and one connection is kept', async () => {
    dir = await tempDir('sixswarm-transports-lt-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 256 * 1024);
    const ltPort = await freePort();
    const lt = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: ltPort, utp: true, listen: [LOOPBACK[family]] });
    expect((await lt.event('checked')).seeding).toBe(true);
    const t0 = Date.now();
    const leech = sixswarm(['download', torrent, '-o', join(dir, 'leech'), '--peer', hostPort(family, ltPort), '--port', '0', only(family), '--exit-on-complete', '--json'], {
      env: { SIXSWARM_STATE_DIR: join(dir, 'state') },
      label: 'sixswarm download',
    });
    const connected = await leech.event('peer-connected', 15_000);
    expect(connected).toMatchObject({ transport: 'utp', direction: 'out', family });
    // Hung up on over TCP, tried again over uTP at once.
    expect(Date.parse(connected.time as string) - Date.parse((await leech.event('checked')).time as string)).toBeLessThan(2_000);
    await leech.event('complete', 60_000);
    expect(await leech.exited, leech.stderr).toBe(0);
    logTiming(`libtorrent (uTP only) -> sixswarm (tcp,utp) over IPv${family}`, SIZE, Date.now() - t0);
    expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    expect(leech.events.filter((e) => e.event === 'peer-connected')).toHaveLength(1);
    expect(leech.events.filter((e) => e.event === 'peer-unreachable' || e.event === 'piece-failed')).toEqual([]);
    // libtorrent's own account: one peer, on uTP.
    const peers = lt.events.filter((e) => e.event === 'peers');
    expect(peers.some((e) => (e.utp as string[]).length === 1)).toBe(true);
    expect(Math.max(...peers.map((e) => (e.peers as string[]).length))).toBe(1);
  });

  it('seeds to it: libtorrent dials in over uTP on the listening port', async () => {
    dir = await tempDir('sixswarm-transports-lt-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 256 * 1024);
    const port = await freePort();
    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', String(port), only(family), '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, 'state') }, label: 'sixswarm seed' });
    expect((await seed.event('checked')).have).toBe((await seed.event('checked')).pieces);
    await seed.event('listening');
    const t0 = Date.now();
    const lt = libtorrentPeer({ torrent, save: join(dir, 'leech'), port: await freePort(), utp: true, listen: [LOOPBACK[family]], connect: [hostPort(family, port)] });
    const done = await lt.event('complete', 60_000);
    logTiming(`sixswarm (tcp,utp) -> libtorrent (uTP only) over IPv${family}`, SIZE, Date.now() - t0);
    expect(done.failed, 'bytes that failed libtorrent hash checks').toBe(0);
    expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    expect(seed.events.filter((e) => e.event === 'peer-connected')).toEqual([expect.objectContaining({ transport: 'utp', direction: 'in', family })]);
    expect(lt.events.filter((e) => e.event === 'peers').some((e) => (e.utp as string[]).length === 1)).toBe(true);
    seed.kill('SIGTERM');
    expect(await seed.exited).toBe(0);
  });
});
