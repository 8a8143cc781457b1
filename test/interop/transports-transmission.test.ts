/**
 * The sixswarm CLI over uTP with transmission-daemon 3.00 (libutp, the reference uTP): `download
 * --transports utp` fetches a torrent from a transmission seed over IPv4 loopback, data verified,
 * and transmission lists the peer as a uTP one (flag T). transmission accepts TCP as well, so
 * only `--transports utp` makes the CLI use uTP with it; it unchokes on its 10 s rechoke timer,
 * so the transfer takes 10-20 s. (Not over IPv6: transmission 3.00 opens its IPv6 UDP socket only
 * with a global IPv6 address; see utp-transmission.test.ts.)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { logTiming, startTransmission, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';
import { sha1 } from '../support/utp.js';

const SIZE = 4 * 1024 * 1024 + 4321;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

it('sixswarm download --transports utp fetches from a transmission seed over uTP', { timeout: 90_000 }, async () => {
  dir = await tempDir('sixswarm-transports-tr-');
  const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 64 * 1024);
  const tr = await startTransmission({ configDir: join(dir, 'tr'), downloadDir: join(dir, 'seed'), peerPort: await freePort(), rpcPort: await freePort(), utp: true });
  await tr.remote(['-a', torrent, '-w', join(dir, 'seed')]);
  await waitUntil(async () => (await tr.info()).get('Percent Done') === '100%', 15_000, () => 'transmission checking its data');
  const t0 = Date.now();
  const leech = sixswarm(['download', torrent, '-o', join(dir, 'leech'), '--peer', `127.0.0.1:${tr.peerPort}`, '--port', '0', '--no-ipv6', '--transports', 'utp', '--exit-on-complete', '--json'], {
    env: { SIXSWARM_STATE_DIR: join(dir, 'state') },
    label: 'sixswarm download',
  });
  expect(await leech.event('peer-connected', 20_000)).toMatchObject({ transport: 'utp', direction: 'out', client: '-TR3000-' });
  const flags = await waitUntil(
    async () => (await tr.remote(['-t', '1', '-ip'])).split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1] ?? '').find((f) => f.includes('T')),
    20_000,
    () => 'transmission listing a uTP peer',
  );
  expect(flags).toContain('T');
  await leech.event('complete', 60_000);
  expect(await leech.exited, leech.stderr).toBe(0);
  logTiming('transmission -> sixswarm download --transports utp over IPv4', SIZE, Date.now() - t0);
  expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
  expect(leech.events.filter((e) => e.event === 'piece-failed')).toEqual([]);
});
