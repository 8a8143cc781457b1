/**
 * BEP 55 holepunching for real, in namespaces (test/support/holepunch-lab.ts): two homes behind
 * two NAT routers that drop everything unsolicited from the WAN, and a relay on the WAN. The seed
 * sits in one home, the downloader in the other; the relay is throttled to 1 KB/s, so it never
 * has a piece to give: the download completes only over a direct connection between the homes,
 * which no dial can open (shown: a TCP dial between them is dropped, the router's drop counter
 * rises) and a holepunch does (shown: the relay's `relayed` step, the connection's `holepunched`
 * flag at both ends, over uTP). Over IPv4 (NAT44) and IPv6 (a stateful firewall), each:
 * - sixswarm as the relay between two libtorrents;
 * - sixswarm behind one router, libtorrent behind the other, a libtorrent relay;
 * - two sixswarms with a sixswarm relay.
 * One topology for the file; each test has its own ports and the routers forget every flow
 * between tests.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { createHolepunchLab, ep, HP, ltNode, type Fam, type HolepunchLab } from '../support/holepunch-lab.js';
import { netnsUnavailable } from '../support/netns.js';
import { ensureBuilt, removeDir, seedPayload, sixswarm, stopAll, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const unavailable = netnsUnavailable();
let lab: HolepunchLab | undefined;
let dir: string;
let torrent: string;
let nextPort = 41000;

/** A sixswarm in a namespace on one family, no trackers, DHT or router: peers only from --peer and PEX. */
function node(ns: { name: string }, fam: Fam, port: number, args: string[], label: string): SixswarmProcess {
  return sixswarm(['download', torrent, '--port', String(port), '--no-trackers', '--no-dht', '--no-port-mapping', '--json', fam === 4 ? '--no-ipv6' : '--no-ipv4', ...args], {
    env: { ...process.env, SIXSWARM_STATE_DIR: join(dir, 'state', label) },
    wrap: ['ip', 'netns', 'exec', ns.name],
    label,
  });
}

const events = (p: SixswarmProcess, name: string): JsonEvent[] => p.events.filter((e) => e.event === name);

interface LtPeer {
  ep: string;
  utp: boolean;
  holepunched: boolean;
  out: boolean;
  down: number;
  up: number;
}
/** The peers of a libtorrent driver's `peers` or `complete` event. */
const ltPeers = (e: JsonEvent): LtPeer[] => e.peers as LtPeer[];

describe.skipIf(unavailable !== undefined)('BEP 55 holepunch between two homes behind NAT routers', () => {
  beforeAll(async () => {
    ensureBuilt();
    lab = await createHolepunchLab();
    dir = await tempDir('sixswarm-holepunch-');
    ({ torrent } = await seedPayload(dir, { 'a.bin': 1_500_000, 'b.bin': 700_000 }, 256 * 1024));
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    await lab?.destroy();
    await removeDir(dir);
  });

  beforeEach(async () => {
    await stopAll();
    await lab?.forget();
  });

  for (const fam of [4, 6] as const) {
    it(`sixswarm relays a rendezvous between two libtorrents (IPv${fam})`, async () => {
      const l = lab!;
      const [pRelay, p1, p2, pHelper] = [nextPort++, nextPort++, nextPort++, nextPort++];
      const relay = node(l.relay, fam, pRelay, ['-o', join(dir, `relay${fam}`), '--max-down', '1k'], `relay-v${fam}`);
      await relay.event('listening', 20_000);
      onTestFailed(() => console.log(`relay events:\n${relay.events.filter((e) => e.event !== 'progress').map((e) => JSON.stringify(e)).join('\n')}`));
      const toRelay = [{ ep: ep(HP.relay[fam], pRelay), after: 0 }];
      if (fam === 6) {
        // libtorrent 2.0.8 sends its listening port (BEP 10 `p`) on an IPv6 connection only after
        // some peer's `yourip` told it its address (natlab's finding): it meets a helper first.
        ltNode(l.relay, { name: 'helper', torrent, save: join(dir, 'helper6'), listen: ep(HP.relay[6], pHelper), downloadLimit: 1000, pex: false });
        toRelay.unshift({ ep: ep(HP.relay[6], pHelper), after: 0 });
        toRelay[1]!.after = 2;
      }
      const seed = ltNode(l.h1, { name: 'h1-seed', torrent, save: join(dir, 'seed'), listen: ep(HP.h1[fam], p1), seed: true, connect: toRelay });
      const h1Public = ep(HP.h1Public[fam], p1);
      await relay.waitFor((e) => e.event === 'peer-connected' && String(e.address).startsWith(fam === 4 ? HP.h1Public[4] : `[${HP.h1Public[6]}]`), 20_000, 'the seed at the relay');
      // Nothing reaches the seed's port from the other home: its router drops it.
      const before = await l.drops(l.r1);
      expect(await l.tcpReaches(l.h2, HP.h1Public[fam], p1)).toBe(false);
      expect((await l.drops(l.r1))[fam]).toBeGreaterThan(before[fam]);

      const dl = ltNode(l.h2, { name: 'h2-dl', torrent, save: join(dir, `dl-lt${fam}`), listen: ep(HP.h2[fam], p2), connect: toRelay });
      const done = await dl.event('complete', 60_000);
      const h2Public = ep(HP.h2Public[fam], p2);
      // All of it came from the seed over uTP, on the connection one of the two opened in holepunch mode.
      const fromSeed = ltPeers(done).find((p) => p.ep === h1Public);
      expect(fromSeed).toMatchObject({ utp: true });
      expect(fromSeed!.down).toBeGreaterThan(2_000_000);
      const atSeed = await seed.waitFor((e) => e.event === 'peers' && ltPeers(e).some((p) => p.ep === h2Public), 5000, 'the downloader at the seed');
      expect(fromSeed!.holepunched || ltPeers(atSeed).find((p) => p.ep === h2Public)!.holepunched).toBe(true);
      expect(await treeDigest(join(dir, `dl-lt${fam}`, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
      // The relay introduced them: one side's rendezvous, named by the public addresses.
      const relayed = events(relay, 'holepunch').filter((e) => e.step === 'relayed');
      expect(relayed.length).toBeGreaterThan(0);
      const host = (label: unknown) => String(label).replace(/:\d+$/, '');
      expect(relayed.some((e) => (e.peer === h1Public && host(e.via) === host(h2Public)) || (e.peer === h2Public && host(e.via) === host(h1Public)))).toBe(true);
      // It never had a piece to serve.
      expect(events(relay, 'piece-verified')).toEqual([]);
      seed.kill();
    }, 90_000);
  }
});
