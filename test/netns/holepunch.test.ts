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
 * One topology for the file; the tests run at once, each on its own ports.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, type TestContext } from 'vitest';
import { createHolepunchLab, ep, HP, ltNode, type Fam, type HolepunchLab, type LtNodeOptions } from '../support/holepunch-lab.js';
import { netnsUnavailable } from '../support/netns.js';
import { ensureBuilt, removeDir, seedPayload, sixswarm, stopAll, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';
import type { Netns } from '../support/netns.js';

const unavailable = netnsUnavailable();
let lab: HolepunchLab | undefined;
let dir: string;
let torrent: string;
let nextPort = 41000;

/**
 * One test's processes (the tests run at once, each on its own ports): a sixswarm (`download` or
 * `seed`) in a namespace on one family, no trackers, DHT or router (peers only from --peer and
 * PEX), or a libtorrent; all stopped when the test ends, their events printed if it failed.
 */
function scope(ctx: TestContext, fam: Fam) {
  const procs: SixswarmProcess[] = [];
  ctx.onTestFinished(async () => {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exitCode(10_000).catch(() => null)));
  });
  const keep = (label: string, p: SixswarmProcess) => {
    procs.push(p);
    ctx.onTestFailed(() => console.log(`${label}:\n${p.events.filter((e) => e.event !== 'progress').map((e) => JSON.stringify(e)).join('\n')}\n${p.stderr}`));
    return p;
  };
  return {
    sx(ns: Netns, port: number, args: string[], label: string): SixswarmProcess {
      const [cmd, ...rest] = args;
      const p = sixswarm([cmd!, torrent, ...rest, '--port', String(port), '--no-trackers', '--no-dht', '--no-port-mapping', '--json', fam === 4 ? '--no-ipv6' : '--no-ipv4'], {
        env: { ...process.env, SIXSWARM_STATE_DIR: join(dir, 'state', label) },
        wrap: ['ip', 'netns', 'exec', ns.name],
        label,
      });
      return keep(label, p);
    },
    lt: (ns: Netns, o: LtNodeOptions): SixswarmProcess => keep(`libtorrent ${o.name}`, ltNode(ns, o)),
  };
}

/** The figures: when the initiator asked (its direct dial having failed), and how long the holepunch then took. */
function timing(what: string, initiator: SixswarmProcess, connected: JsonEvent): void {
  const at = (e: JsonEvent | undefined) => Date.parse(String(e?.time));
  const start = at(initiator.events.find((e) => e.event === 'listening'));
  const asked = at(initiator.events.find((e) => e.event === 'holepunch' && e.step === 'asked'));
  console.log(`holepunch (${what}): asked ${asked - start} ms after start, connected ${at(connected) - asked} ms after asking`);
}

const connectedFrom = (host: string) => (e: JsonEvent) => e.event === 'peer-connected' && String(e.address).replace(/:\d+$/, '').replace(/^\[|\]$/g, '') === host;

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


  for (const fam of [4, 6] as const) {
    it.concurrent(`sixswarm relays a rendezvous between two libtorrents (IPv${fam})`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx, fam);
      const l = lab!;
      const [pRelay, p1, p2, pHelper] = [nextPort++, nextPort++, nextPort++, nextPort++];
      const relay = s.sx(l.relay, pRelay, ['download', '-o', join(dir, `relay${fam}`), '--max-down', '1k'], `relay-v${fam}`);
      await relay.event('listening', 20_000);
      const toRelay = [{ ep: ep(HP.relay[fam], pRelay), after: 0 }];
      if (fam === 6) {
        // libtorrent 2.0.8 sends its listening port (BEP 10 `p`) on an IPv6 connection only after
        // some peer's `yourip` told it its address (natlab's finding): it meets a helper first.
        s.lt(l.relay, { name: 'helper', torrent, save: join(dir, 'helper6'), listen: ep(HP.relay[6], pHelper), downloadLimit: 1000, pex: false });
        toRelay.unshift({ ep: ep(HP.relay[6], pHelper), after: 0 });
        toRelay[1]!.after = 2;
      }
      // The seed speaks no PEX: it cannot learn of the downloader but by the relay's `connect`.
      const seed = s.lt(l.h1, { name: 'h1-seed', torrent, save: join(dir, 'seed'), listen: ep(HP.h1[fam], p1), seed: true, pex: false, connect: toRelay });
      const h1Public = ep(HP.h1Public[fam], p1);
      await relay.waitFor(connectedFrom(HP.h1Public[fam]), 20_000, 'the seed at the relay');
      // Nothing reaches the seed's port from the other home: its router drops it.
      const before = await l.drops(l.r1);
      expect(await l.tcpReaches(l.h2, HP.h1Public[fam], p1)).toBe(false);
      expect((await l.drops(l.r1))[fam]).toBeGreaterThan(before[fam]);

      const dl = s.lt(l.h2, { name: 'h2-dl', torrent, save: join(dir, `dl-lt${fam}`), listen: ep(HP.h2[fam], p2), connect: toRelay });
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
    }, 90_000);

    // libtorrent's relay names each side by its connection's address (libtorrent 2.0.8,
    // bt_peer_connection.cpp): a sixswarm behind NAT must reach it from its listening port, i.e.
    // over uTP. Behind the IPv4 NAT sixswarm dials strangers on the Internet uTP first by itself
    // (default transports); behind the IPv6 firewall nothing tells it so, and that case runs with
    // --transports utp. The relay knows a helper first, so its first
    // PEX to the seed goes out at once and the next only a minute later: the seed never hears of
    // the downloader but by the relay's `connect`.
    it.concurrent(`sixswarm and libtorrent behind the two routers meet through a libtorrent relay (IPv${fam}: sixswarm ${fam === 4 ? 'asks' : 'is asked'})`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx, fam);
      const l = lab!;
      const [pRelay, p1, p2, pHelper] = [nextPort++, nextPort++, nextPort++, nextPort++];
      const helper = ep(HP.relay[fam], pHelper);
      s.lt(l.relay, { name: 'helper', torrent, save: join(dir, `helper-b${fam}`), listen: helper, downloadLimit: 1000, pex: false });
      const relayEp = ep(HP.relay[fam], pRelay);
      s.lt(l.relay, { name: 'relay', torrent, save: join(dir, `relay-b${fam}`), listen: relayEp, downloadLimit: 1000, connect: [{ ep: helper, after: 0.5 }] });
      const h1Public = ep(HP.h1Public[fam], p1);
      const h2Public = ep(HP.h2Public[fam], p2);
      if (fam === 4) {
        // libtorrent seeds behind r1 (no PEX); sixswarm downloads behind r2 and asks the relay.
        s.lt(l.h1, { name: 'h1-seed', torrent, save: join(dir, 'seed'), listen: ep(HP.h1[4], p1), seed: true, pex: false, connect: [{ ep: relayEp, after: 1 }] });
        await new Promise((r) => setTimeout(r, 3000));
        expect(await l.tcpReaches(l.h2, HP.h1Public[4], p1)).toBe(false);
        const ours = s.sx(l.h2, p2, ['download', '-o', join(dir, 'dl-b4'), '--peer', relayEp], 'h2-sixswarm');
        await ours.event('complete', 60_000);
        expect(await treeDigest(join(dir, 'dl-b4', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
        expect(ours.events.find((e) => connectedFrom(HP.relay[4])(e))).toMatchObject({ transport: 'utp' });
        const punched = ours.events.find((e) => connectedFrom(HP.h1Public[4])(e));
        expect(punched).toMatchObject({ transport: 'utp', holepunched: true });
        timing('sixswarm asks a libtorrent relay, IPv4', ours, punched!);
        expect(events(ours, 'holepunch')).toContainEqual(expect.objectContaining({ role: 'initiator', step: 'asked', peer: h1Public, via: relayEp }));
        expect(events(ours, 'holepunch')).toContainEqual(expect.objectContaining({ role: 'initiator', step: 'dialing', peer: h1Public, via: relayEp }));
      } else {
        // sixswarm seeds behind r1; libtorrent downloads behind r2 (meeting the helper first, see above) and asks.
        const ours = s.sx(l.h1, p1, ['seed', join(dir, 'seed'), '--transports', 'utp', '--peer', relayEp], 'h1-sixswarm');
        await ours.waitFor(connectedFrom(HP.relay[6]), 20_000, 'the relay');
        await new Promise((r) => setTimeout(r, 2000));
        expect(await l.tcpReaches(l.h2, HP.h1Public[6], p1)).toBe(false);
        const theirs = s.lt(l.h2, { name: 'h2-dl', torrent, save: join(dir, 'dl-b6'), listen: ep(HP.h2[6], p2), connect: [{ ep: helper }, { ep: relayEp, after: 2 }] });
        const done = await theirs.event('complete', 60_000);
        expect(await treeDigest(join(dir, 'dl-b6', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
        expect(ltPeers(done).find((p) => p.ep === h1Public)).toMatchObject({ utp: true });
        expect(ltPeers(done).find((p) => p.ep === h1Public)!.down).toBeGreaterThan(2_000_000);
        await ours.waitFor((e) => connectedFrom(HP.h2Public[6])(e) && e.holepunched === true, 5000, 'the holepunched downloader');
        expect(events(ours, 'holepunch')).toContainEqual(expect.objectContaining({ role: 'target', step: 'dialing', peer: h2Public, via: relayEp }));
      }
    }, 90_000);

    it.concurrent(`two sixswarms behind the two routers meet through a sixswarm relay (IPv${fam})`, async (ctx) => {
      const { expect } = ctx;
      const s = scope(ctx, fam);
      const l = lab!;
      const [pRelay, p1, p2, pHelper] = [nextPort++, nextPort++, nextPort++, nextPort++];
      const helper = ep(HP.relay[fam], pHelper);
      s.lt(l.relay, { name: 'helper', torrent, save: join(dir, `helper-c${fam}`), listen: helper, downloadLimit: 1000, pex: false });
      const relayEp = ep(HP.relay[fam], pRelay);
      const relay = s.sx(l.relay, pRelay, ['download', '-o', join(dir, `relay-c${fam}`), '--max-down', '1k', '--peer', helper], `relay-c${fam}`);
      await relay.waitFor(connectedFrom(HP.relay[fam]), 20_000, 'the helper at the relay');
      const seed = s.sx(l.h1, p1, ['seed', join(dir, 'seed'), '--peer', relayEp], `h1-c${fam}`);
      await relay.waitFor(connectedFrom(HP.h1Public[fam]), 20_000, 'the seed at the relay');
      const before = await l.drops(l.r1);
      expect(await l.tcpReaches(l.h2, HP.h1Public[fam], p1)).toBe(false);
      const dl = s.sx(l.h2, p2, ['download', '-o', join(dir, `dl-c${fam}`), '--peer', relayEp], `h2-c${fam}`);
      await dl.event('complete', 60_000);
      expect(await treeDigest(join(dir, `dl-c${fam}`, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
      const h1Public = ep(HP.h1Public[fam], p1);
      const h2Public = ep(HP.h2Public[fam], p2);
      // The downloader's dial failed (its SYNs dropped at r1), it asked, the relay introduced, both dialed uTP.
      expect((await l.drops(l.r1))[fam]).toBeGreaterThan(before[fam]);
      expect(events(dl, 'holepunch')).toContainEqual(expect.objectContaining({ role: 'initiator', step: 'asked', peer: h1Public }));
      expect(events(relay, 'holepunch')).toContainEqual(expect.objectContaining({ role: 'relay', step: 'relayed', peer: h1Public }));
      expect(events(seed, 'holepunch')).toContainEqual(expect.objectContaining({ role: 'target', step: 'dialing', peer: h2Public }));
      const punched = dl.events.find(connectedFrom(HP.h1Public[fam]));
      expect(punched).toMatchObject({ transport: 'utp', holepunched: true });
      timing(`two sixswarms, sixswarm relay, IPv${fam}`, dl, punched!);
      await seed.waitFor((e) => connectedFrom(HP.h2Public[fam])(e) && e.holepunched === true, 5000, 'the holepunched downloader at the seed');
    }, 90_000);
  }
});
