/**
 * The probe script for one tracker: resolve each family, then, over every family that answers,
 * announce throwaway peers on one random info hash, scrape, send requests that should be refused,
 * stop every peer again and look for leftovers. It only gathers (Observations); checks.ts judges.
 *
 * Step by step, each over every family at once:
 *   1. seed (left=0)                               reachable, announce accepted, interval
 *   2. UDP: retransmit (one packet twice), one family after the other; HTTP: own-address
 *      (ipv6=/ipv4= with our own global address of the other family), link-local
 *      (ipv6=fe80::random / ipv4=169.254.random)
 *   3. leech (left=1): its reply must list the seeds of both families and the claimed addresses
 *   4. scrape of our hash and of a hash nobody announced
 *   5. a malformed request; UDP: a wrong connection id (both event=stopped: nothing to store)
 *   6. event=stopped for every peer of steps 1-3
 *   7. observer (started, then stopped): none of our peers may be listed any more
 * Interrupted or not, every peer announced is stopped before it returns.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { bytesToIp, type Family } from '../net/address.js';
import { resolveAllFor } from '../tracker/resolve.js';
import type { AnnounceEventName, AnnounceParams } from '../tracker/types.js';
import { scrapePath, type TrackerUrl } from '../tracker/url.js';
import { PEER_ID_PREFIX } from '../version.js';
import { Budget, openChannel, REQUESTS_PER_FAMILY, UdpChannel, type Channel } from './channels.js';
import { attempt, type FamilyObservations, type Observations, type PeerRecord, type Role } from './observations.js';

export interface ScriptOptions {
  /** Families to try (the others are reported as skipped). */
  families: readonly Family[];
  /** Per request; a UDP request is sent up to three times within it. */
  timeoutMs: number;
  /** Our own global addresses: the only ones ever sent as ipv4= / ipv6=. */
  own: Partial<Record<Family, string>>;
  /** Default: a random one. */
  infoHash?: Buffer;
  /** Progress, for a live display. */
  onStep?: (step: string) => void;
  /** Aborted: no further step starts; the peers announced so far are stopped. */
  signal?: AbortSignal;
}

const other = (f: Family): Family => (f === 4 ? 6 : 4);

export async function runScript(t: TrackerUrl, o: ScriptOptions): Promise<Observations> {
  const infoHash = o.infoHash ?? randomBytes(20);
  const unknownHash = randomBytes(20);
  const fam: Record<Family, FamilyObservations> = { 4: { reached: false, peers: {} }, 6: { reached: false, peers: {} } };
  let noScrape: string | undefined;
  if (t.protocol !== 'udp') {
    try {
      scrapePath(t);
    } catch (e) {
      noScrape = (e as Error).message;
    }
  }
  const step = (text: string) => o.onStep?.(text);

  step('resolving');
  await Promise.all(
    ([4, 6] as const).map(async (f) => {
      const ob = fam[f];
      if (t.literalFamily && t.literalFamily !== f) ob.notTried = { verdict: 'n/a', reason: `the URL names an IPv${t.literalFamily} address` };
      else if (!o.families.includes(f)) ob.notTried = { verdict: 'skipped', reason: `not asked for (--family ${other(f)})` };
      else if (t.literalFamily) ob.address = t.host;
      else {
        ob.dns = await attempt('DNS', () => resolveAllFor(t, f, o.timeoutMs));
        if (ob.dns.ok) ob.address = ob.dns.value[0];
      }
    }),
  );

  const budgets = { 4: new Budget(REQUESTS_PER_FAMILY), 6: new Budget(REQUESTS_PER_FAMILY) };
  const channels = new Map<Family, Channel>();
  for (const f of [4, 6] as const) {
    const address = fam[f].address;
    if (address) channels.set(f, openChannel(t, { address, family: f, timeoutMs: o.timeoutMs, budget: budgets[f] }));
  }
  const usedPorts = new Set<number>();
  const freshPort = () => {
    let port: number;
    do port = randomInt(49152, 65536);
    while (usedPorts.has(port));
    usedPorts.add(port);
    return port;
  };
  const peerId = () => Buffer.concat([Buffer.from(PEER_ID_PREFIX, 'latin1'), randomBytes(12)]);
  const newPeer = (role: Role, family: Family, left: number, claimed?: string): PeerRecord => {
    const peer: PeerRecord = {
      role, family, port: freshPort(), left, peerId: peerId(), key: randomBytes(4).readUInt32BE(0),
      ...(claimed ? { claimed } : {}),
    };
    fam[family].peers[role] = peer;
    return peer;
  };
  const params = (p: PeerRecord, event: AnnounceEventName): AnnounceParams => ({
    infoHash, peerId: p.peerId, port: p.port, uploaded: 0, downloaded: 0, left: p.left, event, key: p.key, numwant: 50,
    ...(p.claimed ? (p.family === 4 ? { ipv6: p.claimed } : { ipv4: p.claimed }) : {}),
  });
  const announce = async (ch: Channel, p: PeerRecord, event: AnnounceEventName) => {
    const r = await attempt('announce', () => ch.announce(params(p, event)));
    if (r.ok || !(r.error.unreachable || r.error.timedOut)) fam[p.family].reached = true;
    return r;
  };
  /** Run `fn` for each family whose channel is open and that `when` admits, all at once. */
  const each = (when: (f: Family) => boolean, fn: (f: Family, ch: Channel) => Promise<void>) =>
    Promise.all([...channels].filter(([f]) => when(f)).map(([f, ch]) => fn(f, ch)));
  const accepted = (f: Family) => fam[f].peers.seed?.started?.ok === true;
  const reached = (f: Family) => fam[f].reached;

  const stopAll = () =>
    each(reached, async (f, ch) => {
      await Promise.all(Object.values(fam[f].peers).map(async (p) => (p.stopped = await announce(ch, p, 'stopped'))));
    });
  const steps: [string, () => Promise<unknown>][] = [
    ['announcing a seed', () => each(() => true, async (f, ch) => {
      const seed = newPeer('seed', f, 0);
      seed.started = await announce(ch, seed, 'started');
    })],
    // One family after the other: the two copies' seeder counts must not see the other family's probe.
    ['retransmitting', async () => {
      for (const [f, ch] of channels) {
        if (!accepted(f) || !(ch instanceof UdpChannel)) continue;
        const peer = newPeer('retransmit', f, 0);
        fam[f].retransmit = await attempt('retransmission', () => ch.retransmit(params(peer, 'started')));
      }
    }],
    ['announcing with ipv4= / ipv6=', () => each(accepted, async (f, ch) => {
      if (ch instanceof UdpChannel) return;
      const mine = o.own[other(f)];
      if (mine) {
        const peer = newPeer('own-address', f, 0, mine);
        peer.started = await announce(ch, peer, 'started');
      }
      const ll = newPeer('link-local', f, 0, linkLocal(other(f)));
      ll.started = await announce(ch, ll, 'started');
    })],
    ['announcing a leech', () => each(accepted, async (f, ch) => {
      const leech = newPeer('leech', f, 1);
      leech.started = await announce(ch, leech, 'started');
    })],
    ['scraping', () => each((f) => reached(f) && noScrape === undefined, async (f, ch) => {
      if (accepted(f)) fam[f].scrape = await attempt('scrape', () => ch.scrape(infoHash));
      fam[f].unknownHash = await attempt('scrape', () => ch.scrape(unknownHash));
    })],
    ['sending requests that should be refused', () => each(reached, async (f, ch) => {
      fam[f].malformed = await attempt('malformed request', () => ch.malformed());
      if (ch instanceof UdpChannel) {
        const stray: AnnounceParams = { infoHash, peerId: peerId(), port: freshPort(), uploaded: 0, downloaded: 0, left: 0, event: 'stopped', key: 0, numwant: 0 };
        fam[f].connectionId = await attempt('wrong connection id', () => ch.wrongConnectionId(stray));
      }
    })],
    ['stopping every peer', stopAll],
    ['looking for leftovers', () => each(accepted, async (f, ch) => {
      const obs = newPeer('observer', f, 1);
      obs.started = await announce(ch, obs, 'started');
      if (reached(f)) obs.stopped = await announce(ch, obs, 'stopped');
    })],
  ];
  let stopped = false;
  try {
    for (const [label, run] of steps) {
      if (o.signal?.aborted) break;
      step(label);
      await run();
      if (run === stopAll) stopped = true;
    }
  } finally {
    // Interrupted (or a bug): whatever was announced is stopped all the same.
    if (!stopped) await stopAll().catch(() => undefined);
    for (const ch of channels.values()) ch.close();
  }
  return {
    url: t,
    infoHash,
    ...(noScrape !== undefined ? { noScrape } : {}),
    own: o.own,
    timeoutMs: o.timeoutMs,
    families: fam,
    requests: budgets[4].used + budgets[6].used,
  };
}

/**
 * A link-local address of `family` for the litter probe: fe80:: or 169.254/16 with random host
 * bits, so no real host is likely to have it; it is only ever announced on the check's own hash.
 */
function linkLocal(family: Family): string {
  if (family === 4) return `169.254.${randomInt(1, 255)}.${randomInt(0, 256)}`;
  return bytesToIp(Buffer.concat([Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0]), randomBytes(8)]));
}
