/**
 * Peers that handshake and then only send keep-alives fill every slot of a magnet download: an
 * honest seed dialing in still gets a slot within seconds (the peer that gave nothing for longest
 * is turned over for it), and the download completes; dials of our own keep a reserve.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/bencode/index.js';
import { MSG, RawPeer } from '../support/raw-peer.js';
import { cleanUpAfterEach, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

describe('slots against keep-alive-only peers', () => {
  it('sixty of them fill a magnet leecher; the honest seed dialing in gets a slot and the download completes', async () => {
    dir = await tempDir();
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 500_000 }, 16 * 1024);
    const leech = sixswarm(['download', `magnet:?xt=urn:btih:${meta.infoHashHex}`, '-o', join(dir, 'leech'), '--port', '0', '--no-ipv6', '--no-trackers', '--no-dht', '--exit-on-complete', '--json'], {
      env: { SIXSWARM_STATE_DIR: join(dir, 'leech-state') },
      label: 'leech',
    });
    const port = await leech.port();
    const squatters: RawPeer[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const p = await RawPeer.connect('127.0.0.1', port, 5000, `127.0.0.${10 + i}`);
        p.sendHandshake(meta.infoHash, { extended: true });
        p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: {}, v: 'squatter' })]));
        squatters.push(p);
      }
      await leech.waitFor((e) => e.event === 'progress' && e.peers === 60, 20_000, 'sixty squatters connected');
      const keepAlive = setInterval(() => squatters.forEach((p) => p.send(Buffer.alloc(4))), 5000);
      try {
        // The honest seed dials the leecher: every slot is taken when it arrives.
        const t0 = Date.now();
        const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '0', '--no-ipv6', '--no-trackers', '--no-dht', '--json', '--peer', `127.0.0.1:${port}`], {
          env: { SIXSWARM_STATE_DIR: join(dir, 'seed-state') },
          label: 'seed',
        });
        await leech.event('complete', 60_000);
        const ms = Date.now() - t0;
        process.stdout.write(`[slots-hostile] complete ${ms} ms after the honest seed started, behind 60 keep-alive-only peers\n`);
        expect(leech.events.some((e) => e.event === 'peer-disconnected' && /^turned over: nothing exchanged for \d+ s/.test(String(e.reason)))).toBe(true);
        expect(await leech.exited).toBe(0);
        seed.kill();
      } finally {
        clearInterval(keepAlive);
      }
    } finally {
      for (const p of squatters) p.close();
    }
  });
});
