/**
 * The probe script for one tracker: resolve every address of each family (and the name's BEP 34
 * TXT records), then, at every address at once, announce throwaway peers on one random info hash,
 * scrape, send requests that should be refused, stop every peer again and look for leftovers. It
 * only gathers (Observations); checks.ts judges.
 *
 * Step by step, each over every address at once:
 *   1. seed (left=0)                               reachable, announce accepted, interval
 *   2. UDP: retransmit (one packet twice), one address after the other; HTTP: own-address
 *      (ipv6=/ipv4= with our own global address of the other family), link-local
 *      (ipv6=fe80::random / ipv4=169.254.random)
 *   3. leech (left=1): its reply must list the seeds of both families and the claimed addresses
 *   4. scrape of our hash and of a hash nobody announced
 *   5. a malformed request; UDP: a wrong connection id (both event=stopped: nothing to store)
 *   6. event=stopped for every peer of steps 1-3
 *   7. observer (started, then stopped): none of our peers may be listed any more
 * The whole script ends by its deadline: the steps are cut short when only the time to stop the
 * peers announced so far is left (one --timeout per round of --requests stops), and that time is
 * for stopping them, which happens whether the script ran to its end, ran out of time or was
 * interrupted.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { bytesToIp, type Family } from '../net/address.js';
import { lookupBep34 } from '../tracker/bep34.js';
import { resolveAllFor } from '../tracker/resolve.js';
import type { AnnounceEventName, AnnounceParams } from '../tracker/types.js';
import { scrapePath, type TrackerUrl } from '../tracker/url.js';
import { PEER_ID_PREFIX } from '../version.js';
import { Budget, openChannel, REQUESTS_PER_ADDRESS, UdpChannel, type Channel } from './channels.js';
import { Limiter } from './limiter.js';
import { probeListedPort } from './listed-ports.js';
import { attempt, type Bep34Seen, type Lane, type Observations, type PeerRecord, type Role, type Step } from './observations.js';

/** Addresses probed per family; a name with more gets the first ones (in resolver order) probed. */
export const MAX_ADDRESSES_PER_FAMILY = 8;
/** Ports of a BEP 34 record probed besides the URL's own. */
const MAX_LISTED_PROBES = 4;

export interface ScriptOptions {
  /** Families to try (the others are reported as skipped). */
  families: readonly Family[];
  /** Per request, redirects and retransmissions included. */
  timeoutMs: number;
  /** Requests in flight to this tracker at once, all addresses together. */
  requests: number;
  /** Our own global addresses: the only ones ever sent as ipv4= / ipv6=. */
  own: Partial<Record<Family, string>>;
  /** Default: a random one. */
  infoHash?: Buffer;
  /** Progress, for a live display. */
  onStep?: (step: string) => void;
  /** Aborted: no further step starts, a running one is cut short; the peers announced so far are stopped. */
  signal?: AbortSignal;
  /** When the whole check must have ended (epoch ms), and the bound that sets it, for the report ("the 30 s bound per tracker"). */
  deadline?: { at: number; what: string };
}

const other = (f: Family): Family => (f === 4 ? 6 : 4);

export async function runScript(t: TrackerUrl, o: ScriptOptions): Promise<Observations> {
  const infoHash = o.infoHash ?? randomBytes(20);
  const unknownHash = randomBytes(20);
  let noScrape: string | undefined;
  if (t.protocol !== 'udp') {
    try {
      scrapePath(t);
    } catch (e) {
      noScrape = (e as Error).message;
    }
  }
  const completed = new Set<Step>();
  let cut: string | undefined;
  let label = 'resolving';
  const step = (text: string) => {
    label = text;
    o.onStep?.(text);
  };

  // Steps run under `steps`: aborted by an interrupt, or --timeout before the deadline (kept for stopping).
  const steps = new AbortController();
  const onInterrupt = () => {
    cut ??= `interrupted while ${label}`;
    steps.abort();
  };
  if (o.signal?.aborted) onInterrupt();
  o.signal?.addEventListener('abort', onInterrupt, { once: true });
  // The time kept for stopping grows with the peers announced: one --timeout per round of --requests stops.
  let boundTimer: NodeJS.Timeout | undefined;
  let announced = 0;
  const armBound = () => {
    if (!o.deadline) return;
    clearTimeout(boundTimer);
    const reserve = o.timeoutMs * Math.max(1, Math.ceil(announced / o.requests));
    boundTimer = setTimeout(() => {
      cut ??= `${o.deadline!.what} ran out while ${label}`;
      steps.abort();
    }, Math.max(0, o.deadline.at - reserve - Date.now()));
  };
  armBound();
  let current: AbortSignal = steps.signal;

  const resolved: Record<Family, string[]> = { 4: [], 6: [] };
  const lanes: Lane[] = [];
  let bep34: Observations['bep34'];
  const channels = new Map<Lane, Channel>();
  const budgets: Budget[] = [];
  const limiter = new Limiter(o.requests);

  const usedPorts = new Set<number>();
  const freshPort = () => {
    let port: number;
    do port = randomInt(49152, 65536);
    while (usedPorts.has(port));
    usedPorts.add(port);
    return port;
  };
  const peerId = () => Buffer.concat([Buffer.from(PEER_ID_PREFIX, 'latin1'), randomBytes(12)]);
  const newPeer = (lane: Lane, role: Role, left: number, claimed?: string): PeerRecord => {
    const peer: PeerRecord = {
      role, family: lane.family, lane: lanes.indexOf(lane), port: freshPort(), left, peerId: peerId(), key: randomBytes(4).readUInt32BE(0),
      ...(claimed ? { claimed } : {}),
    };
    lane.peers[role] = peer;
    announced++;
    armBound();
    return peer;
  };
  const params = (p: PeerRecord, event: AnnounceEventName): AnnounceParams => ({
    infoHash, peerId: p.peerId, port: p.port, uploaded: 0, downloaded: 0, left: p.left, event, key: p.key, numwant: 50,
    ...(p.claimed ? (p.family === 4 ? { ipv6: p.claimed } : { ipv4: p.claimed }) : {}),
  });
  const announce = async (lane: Lane, ch: Channel, p: PeerRecord, event: AnnounceEventName) => {
    const r = await attempt('announce', () => ch.announce(params(p, event)));
    if (r.ok || !(r.error.unreachable || r.error.timedOut || current.aborted)) lane.reached = true;
    return r;
  };
  /** Run `fn` for each lane with an open channel that `when` admits, all at once. */
  const each = (when: (l: Lane) => boolean, fn: (l: Lane, ch: Channel) => Promise<void>) =>
    Promise.all([...channels].filter(([l]) => when(l)).map(([l, ch]) => fn(l, ch)));
  const accepted = (l: Lane) => l.peers.seed?.started?.ok === true;
  const reached = (l: Lane) => l.reached;

  const wanted = (f: Family) => o.families.includes(f) && (!t.literalFamily || t.literalFamily === f);
  const resolve = async () => {
    const lookup = (f: Family) => (wanted(f) && !t.literalFamily ? attempt('DNS', () => resolveAllFor(t, f, o.timeoutMs, current)) : undefined);
    const [dns4, dns6, txt] = await Promise.all([
      lookup(4),
      lookup(6),
      t.literalFamily ? undefined : attempt('TXT', () => lookupBep34(t.host, o.timeoutMs, current)),
    ]);
    const found = { 4: dns4, 6: dns6 };
    for (const f of [4, 6] as const) {
      // Each lane its own objects: lanes of one family must never share their peers.
      const base = () => ({ family: f, reached: false, peers: {}, elsewhere: [] }) satisfies Lane;
      if (t.literalFamily && t.literalFamily !== f) lanes.push({ ...base(), notTried: { verdict: 'n/a', reason: `the URL names an IPv${t.literalFamily} address` } });
      else if (!o.families.includes(f)) lanes.push({ ...base(), notTried: { verdict: 'skipped', reason: `not asked for (--family ${other(f)})` } });
      else if (t.literalFamily) {
        resolved[f] = [t.host];
        lanes.push({ ...base(), address: t.host });
      } else {
        const dns = found[f]!;
        if (dns.ok) resolved[f] = dns.value;
        const probed = dns.ok ? dns.value.slice(0, MAX_ADDRESSES_PER_FAMILY) : [];
        if (probed.length === 0) lanes.push({ ...base(), dns });
        for (const address of probed) lanes.push({ ...base(), dns, address });
      }
    }
    for (const lane of lanes) {
      if (!lane.address) continue;
      const budget = new Budget(REQUESTS_PER_ADDRESS);
      budgets.push(budget);
      channels.set(lane, openChannel(t, { address: lane.address, family: lane.family, timeoutMs: o.timeoutMs, budget, limiter, signal: () => current }));
    }
    if (txt) bep34 = txt.ok ? { ...txt, value: await probeListed(txt.value) } : txt;
  };

  /** The ports a BEP 34 record lists besides the URL's own, each probed once at the name's first address. */
  const probeListed = async (lookup: Bep34Seen['lookup']): Promise<Bep34Seen> => {
    const policy = lookup.policy;
    const own = { protocol: t.protocol === 'udp' ? 'udp' : 'tcp', port: t.port };
    const first = lanes.find((l) => l.address);
    if (!policy || policy.deny || !first) return { lookup, probes: [] };
    const listed = policy.entries.filter((e) => e.protocol !== own.protocol || e.port !== own.port).slice(0, MAX_LISTED_PROBES);
    const probes = await Promise.all(listed.map(async (entry) => ({
      entry,
      address: first.address!,
      outcome: await attempt('probe', () => limiter.run(() => probeListedPort(entry, first.address!, first.family, o.timeoutMs, steps.signal))),
    })));
    return { lookup, probes };
  };

  const stopAll = () =>
    each(reached, async (l, ch) => {
      await Promise.all(Object.values(l.peers).map(async (p) => (p.stopped = await announce(l, ch, p, 'stopped'))));
    });
  const script: [Step, string, () => Promise<unknown>][] = [
    ['resolve', 'resolving', resolve],
    ['seed', 'announcing a seed', () => each(() => true, async (l, ch) => {
      const seed = newPeer(l, 'seed', 0);
      seed.started = await announce(l, ch, seed, 'started');
    })],
    // One address after the other: the two copies' seeder counts must not see another address's probe.
    ['retransmit', 'retransmitting', async () => {
      for (const [l, ch] of channels) {
        if (current.aborted) return;
        if (!accepted(l) || !(ch instanceof UdpChannel)) continue;
        const peer = newPeer(l, 'retransmit', 0);
        l.retransmit = await attempt('retransmission', () => ch.retransmit(params(peer, 'started')));
      }
    }],
    ['claims', 'announcing with ipv4= / ipv6=', () => each(accepted, async (l, ch) => {
      if (ch instanceof UdpChannel) return;
      const mine = o.own[other(l.family)];
      if (mine) {
        const peer = newPeer(l, 'own-address', 0, mine);
        peer.started = await announce(l, ch, peer, 'started');
      }
      const ll = newPeer(l, 'link-local', 0, linkLocal(other(l.family)));
      ll.started = await announce(l, ch, ll, 'started');
    })],
    ['leech', 'announcing a leech', () => each(accepted, async (l, ch) => {
      const leech = newPeer(l, 'leech', 1);
      leech.started = await announce(l, ch, leech, 'started');
    })],
    ['scrape', 'scraping', () => each((l) => reached(l) && noScrape === undefined, async (l, ch) => {
      if (accepted(l)) l.scrape = await attempt('scrape', () => ch.scrape(infoHash));
      l.unknownHash = await attempt('scrape', () => ch.scrape(unknownHash));
    })],
    ['odd', 'sending requests that should be refused', () => each(reached, async (l, ch) => {
      l.malformed = await attempt('malformed request', () => ch.malformed());
      if (ch instanceof UdpChannel) {
        const stray: AnnounceParams = { infoHash, peerId: peerId(), port: freshPort(), uploaded: 0, downloaded: 0, left: 0, event: 'stopped', key: 0, numwant: 0 };
        l.connectionId = await attempt('wrong connection id', () => ch.wrongConnectionId(stray));
      }
    })],
    ['stop', 'stopping every peer', stopAll],
    ['observe', 'looking for leftovers', () => each(accepted, async (l, ch) => {
      const obs = newPeer(l, 'observer', 1);
      obs.started = await announce(l, ch, obs, 'started');
      if (reached(l)) obs.stopped = await announce(l, ch, obs, 'stopped');
    })],
  ];
  try {
    for (const [id, text, run] of script) {
      if (current.aborted) break;
      step(text);
      await run();
      if (current.aborted) break;
      completed.add(id);
    }
  } finally {
    clearTimeout(boundTimer);
    o.signal?.removeEventListener('abort', onInterrupt);
    // Cut short (or a bug): whatever was announced is stopped all the same, each request within --timeout.
    if (!completed.has('stop') && lanes.some((l) => Object.keys(l.peers).length > 0)) {
      const rounds = Math.ceil(announced / o.requests);
      current = AbortSignal.timeout(o.deadline ? Math.max(o.timeoutMs, o.deadline.at - Date.now()) : o.timeoutMs * rounds);
      step('stopping every peer');
      await stopAll().catch(() => undefined);
    }
    for (const ch of channels.values()) ch.close();
    for (const [l, ch] of channels) if (ch instanceof UdpChannel) l.elsewhere.push(...ch.elsewhere);
  }
  return {
    url: t,
    infoHash,
    ...(noScrape !== undefined ? { noScrape } : {}),
    own: o.own,
    timeoutMs: o.timeoutMs,
    lanes,
    resolved,
    ...(bep34 ? { bep34 } : {}),
    requests: budgets.reduce((n, b) => n + b.used, 0),
    completed,
    ...(cut ? { cut } : {}),
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
