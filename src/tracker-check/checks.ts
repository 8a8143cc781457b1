/**
 * The checks: each turns Observations into one cell per family, pass / fail / n/a / skipped,
 * with one line of evidence and, when it fails, what a tracker operator should fix. Pure: the
 * network was left behind in script.ts. A check whose question cannot be answered because an
 * earlier one failed says so (skipped) instead of failing again, so each fault shows in one row.
 */
import { BDict, decode } from '../bencode/index.js';
import { classify, type Family } from '../net/address.js';
import { COMPACT_SIZE, decodeCompactPeers, type PeerAddress } from '../net/compact.js';
import { formatHostPort } from '../net/hostport.js';
import type { TrackerError } from '../tracker/errors.js';
import { parseAnnounceReply } from '../tracker/http-reply.js';
import { LIMITS, type AnnounceReply } from '../tracker/types.js';
import { ACTION, parseAnnounceReply as parseUdpAnnounceReply, replyHeader } from '../tracker/udp-protocol.js';
import { printable } from '../util/sanitize.js';
import type { FamilyObservations, Observations, OddReply, Outcome, PeerRecord, Role } from './observations.js';
import { FAMILIES, type Cell, type CheckId, type CheckRow } from './report.js';

const pass = (evidence: string): Cell => ({ verdict: 'pass', evidence });
const fail = (evidence: string, fix: string): Cell => ({ verdict: 'fail', evidence, fix });
const skip = (evidence: string): Cell => ({ verdict: 'skipped', evidence });
const na = (evidence: string): Cell => ({ verdict: 'n/a', evidence });

const other = (f: Family): Family => (f === 4 ? 6 : 4);
const param = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');
const listName = (f: Family) => (f === 4 ? 'peers' : 'peers6');
const text = (e: TrackerError) => printable(e.message, 160);
const isRefusal = (e: TrackerError) => /^tracker (refused|error):/.test(e.message);
const hasPort = (list: readonly PeerAddress[], port: number) => list.some((p) => p.port === port);

/** Where the judged checks so far can be read back; `f` is the column. */
interface Context {
  o: Observations;
  udp: boolean;
  fam(f: Family): FamilyObservations;
  peer(f: Family, role: Role): PeerRecord | undefined;
  cell(id: CheckId, f: Family): Cell;
}

interface CheckDef {
  id: CheckId;
  title: string;
  /** Why it never applies to this tracker in this column, or undefined. */
  notApplicable?(f: Family, c: Context): string | undefined;
  /** Judged only when the first announce over this family was accepted. */
  needsSwarm?: boolean;
  /** Judged only when the first announce got a proper answer (accepted, or refused with a reason). */
  needsAnswers?: boolean;
  judge(f: Family, c: Context): Cell;
}

function reply(p: PeerRecord | undefined): AnnounceReply | undefined {
  return p?.started?.ok ? p.started.value.reply : undefined;
}

const listOf = (r: AnnounceReply, f: Family) => (f === 4 ? r.peers4 : r.peers6);

/** Leech replies that show peers of family `g` reliably (the rows that deliver them passed). */
function viewsOf(g: Family, c: Context): AnnounceReply[] {
  const out: AnnounceReply[] = [];
  const same = reply(c.peer(g, 'leech'));
  if (same && c.cell('peers', g).verdict === 'pass') out.push(same);
  const cross = reply(c.peer(other(g), 'leech'));
  if (cross && c.cell('mixed', other(g)).verdict === 'pass') out.push(cross);
  return out;
}

/** Every leech reply, both families. */
const leechReplies = (c: Context) => FAMILIES.map((f) => reply(c.peer(f, 'leech'))).filter((r): r is AnnounceReply => r !== undefined);

const httpOnly = (_f: Family, c: Context) => (c.udp ? 'BEP 15 has no such field' : undefined);
const udpOnly = (_f: Family, c: Context) => (c.udp ? undefined : 'UDP trackers only');

function oddReply(m: Outcome<OddReply>, c: Context, silentFix: string): Cell {
  if (!m.ok) return m.error.timedOut ? fail(`no reply within ${c.o.timeoutMs / 1000} s`, silentFix) : fail(text(m.error), silentFix);
  const r = m.value;
  if (r.kind === 'http') {
    try {
      parseAnnounceReply(r.body);
    } catch (e) {
      if (isRefusal(e as TrackerError)) return pass(`${(e as Error).message.replace(/^tracker /, '')} (HTTP ${r.status})`);
    }
    if (r.status >= 400 && r.status < 500) return pass(`HTTP ${r.status} (no bencoded failure reason)`);
    return fail(`answered HTTP ${r.status} without a failure reason`, 'refuse a malformed announce with a bencoded "failure reason" (or a 4xx status), so that clients can say what is wrong');
  }
  if (!r.packet) return fail(`no reply within ${c.o.timeoutMs / 1000} s`, silentFix);
  const h = replyHeader(r.packet);
  if (h?.action === ACTION.error) return pass(`error: ${printable(r.packet.toString('utf8', 8), 100) || '(no message)'}`);
  return fail(`answered with action ${h?.action ?? '(none)'} instead of an error`, 'answer a request it cannot serve with an error packet (action 3, BEP 15)');
}

const CHECKS: CheckDef[] = [
  {
    id: 'dns',
    title: 'DNS (A / AAAA)',
    judge(f, c) {
      const dns = c.fam(f).dns;
      const rec = f === 4 ? 'A' : 'AAAA';
      if (!dns) return na('the URL holds an IP address: no DNS');
      if (dns.ok) return pass(`${rec} ${dns.value.slice(0, 2).join(', ')}${dns.value.length > 2 ? ` (+${dns.value.length - 2})` : ''}`);
      const host = c.o.url.host;
      if (dns.error.timedOut) return fail(`no ${rec} answer within ${c.o.timeoutMs / 1000} s`, `make the name servers of ${host} answer ${rec} queries`);
      if (!dns.error.code || !NO_RECORD.has(dns.error.code)) {
        return fail(`${rec} lookup failed (${dns.error.code ?? text(dns.error)})`, `make the name servers of ${host} answer ${rec} queries, with an ${rec} record pointing at an IPv${f} address the tracker listens on`);
      }
      return fail(
        `no ${rec} record (${dns.error.code ?? text(dns.error)})`,
        `publish an ${rec} record for ${host} pointing at an IPv${f} address the tracker listens on; IPv${f}-only clients cannot reach it without one`,
      );
    },
  },
  {
    id: 'reachable',
    title: 'reachable',
    judge(f, c) {
      const ob = c.fam(f);
      const where = formatHostPort(ob.address!, c.o.url.port);
      const proto = c.udp ? 'udp' : 'tcp';
      const first = ob.peers.seed?.started;
      if (ob.reached) return pass(`${c.udp ? 'UDP' : 'HTTP'} reply from ${where}${first ? ` in ${first.ms} ms` : ''}`);
      if (!first || first.ok) return skip('nothing was sent');
      const e = first.error;
      if (e.code && OUR_SIDE.has(e.code)) return skip(`this host cannot send IPv${f} (${e.code}); run the check from one that can`);
      if (e.code === 'ECONNREFUSED') {
        return fail(
          c.udp ? `port unreachable: nothing listens on ${where}/udp` : `connection refused by ${where}`,
          `make the tracker listen on ${ob.address} port ${c.o.url.port}/${proto} (bind ${f === 6 ? '::' : '0.0.0.0'} or that address), or point the ${f === 6 ? 'AAAA' : 'A'} record where it listens`,
        );
      }
      if (e.timedOut) return fail(`no reply from ${where} within ${c.o.timeoutMs / 1000} s${c.udp ? ' (3 tries)' : ''}`, `let port ${c.o.url.port}/${proto} through the firewalls to ${ob.address} and make sure the tracker answers there`);
      return fail(text(e), `make ${where} reachable over IPv${f}: check the address's routing and that the tracker listens there`);
    },
  },
  {
    id: 'announce',
    title: 'announce accepted',
    judge(f, c) {
      const s = c.peer(f, 'seed')?.started;
      if (!s) return skip('nothing was sent');
      if (s.ok) {
        const r = s.value.reply;
        return pass(`seeders ${r.complete ?? '?'}, leechers ${r.incomplete ?? '?'}${r.warnings[0] ? `; ${printable(r.warnings[0], 80)}` : ''}`);
      }
      if (isRefusal(s.error)) {
        return fail(
          `${text(s.error).replace(/^tracker /, '')}`,
          'the tracker refused an announce of a random info hash: one that serves listed torrents only can be checked with --info-hash and a hash listed for testing; otherwise fix what the reason says',
        );
      }
      return fail(
        text(s.error),
        c.udp ? 'answer a BEP 15 announce with an announce reply (action 1: 20-byte header, then the peers)' : 'answer an announce with a bencoded dictionary (BEP 3: interval, peers)',
      );
    },
  },
  {
    id: 'interval',
    title: 'interval sane',
    needsSwarm: true,
    judge(f, c) {
      const r = reply(c.peer(f, 'seed'))!;
      const iv = r.interval;
      const mi = r.minInterval;
      if (iv === undefined) return fail('no interval in the reply', 'send "interval", the seconds between announces, in every reply');
      if (iv < 60) return fail(`interval ${iv} s: clients would announce more than once a minute`, 'use an interval of at least 60 s (1800 s is common) and a min interval to bound re-announces');
      if (iv > LIMITS.maxIntervalSec) return fail(`interval ${iv} s is over ${LIMITS.maxIntervalSec / 3600} h: peer lists go stale`, `use an interval of at most ${LIMITS.maxIntervalSec / 3600} h (1800 s is common)`);
      if (mi !== undefined && mi > iv) return fail(`min interval ${mi} s is longer than interval ${iv} s`, 'keep min interval at or below interval');
      return pass(`interval ${iv} s${mi !== undefined ? `, min interval ${mi} s` : c.udp ? '' : ', no min interval'}`);
    },
  },
  {
    id: 'udp-entries',
    title: 'UDP: 18-byte IPv6 entries',
    notApplicable: (f, c) => (!c.udp ? 'UDP trackers only' : f === 4 ? '6-byte entries are right over IPv4' : undefined),
    needsSwarm: true,
    judge(_f, c) {
      const leech = c.peer(6, 'leech')?.started;
      if (!leech?.ok) return skip('the leech announce failed (see peers)');
      const body = leech.value.raw.subarray(20);
      if (body.length === 0) return skip('no entries came back to judge');
      const seedPort = c.peer(6, 'seed')!.port;
      const as18 = body.length % 18 === 0 ? decodeCompactPeers(body, 6) : [];
      if (hasPort(as18, seedPort)) return pass(`${as18.length} entries of 18 bytes`);
      const ours = FAMILIES.flatMap((f) => Object.values(c.fam(f).peers).map((p) => p.port));
      const as6 = body.length % 6 === 0 ? decodeCompactPeers(body, 4) : [];
      if (as6.some((p) => ours.includes(p.port))) {
        return fail(
          `${body.length} bytes of 6-byte entries over IPv6 (${formatHostPort(as6[0]!.host, as6[0]!.port)}${as6.length > 1 ? ', ...' : ''})`,
          'over IPv6, BEP 15 replies carry 18-byte entries (16-byte address, 2-byte port); 6-byte ones (the bittorrent-tracker bug) reach clients as garbage. Serve IPv6 peers, 18 bytes each, to IPv6 clients',
        );
      }
      if (body.length % 18 === 0) return pass(`${as18.length} entries of 18 bytes`);
      return fail(`${body.length} bytes of entries: not a whole number of 18-byte entries`, 'over IPv6, BEP 15 replies carry 18-byte entries (16-byte address, 2-byte port)');
    },
  },
  {
    id: 'peers',
    title: 'peers / peers6 returned',
    needsSwarm: true,
    judge(f, c) {
      const leech = c.peer(f, 'leech')!.started!;
      if (!leech.ok) return fail(`the second peer's announce failed: ${text(leech.error)}`, 'accept every announce of a torrent, not only the first');
      const seedPort = c.peer(f, 'seed')!.port;
      const list = listOf(leech.value.reply, f);
      if (c.udp) {
        if (f === 6 && c.cell('udp-entries', 6).verdict === 'fail') return skip('entries are not 18 bytes (see the UDP row)');
        if (hasPort(list, seedPort)) return pass(`the seed is listed (${list.length} entries)`);
        return fail(`the seed (port ${seedPort}) is missing (${list.length} entries)`, 'hand out the torrent\'s other peers: a leech got no seed');
      }
      const name = listName(f);
      const v = (decode(leech.value.raw, { maxBytes: LIMITS.maxHttpBody }) as BDict).get(name);
      if (f === 4 && Array.isArray(v)) return fail('peers is a list of dictionaries although compact=1 was asked', 'send compact peers (BEP 23: 6 bytes per IPv4 peer) to clients that ask for compact=1');
      if (v === undefined) {
        return f === 6
          ? fail('no peers6 in the reply to an IPv6 announcer', 'send IPv6 peers as compact "peers6", 18 bytes each (BEP 7); clients get no IPv6 peers otherwise')
          : fail('no peers in the reply', 'send IPv4 peers as compact "peers", 6 bytes each (BEP 23)');
      }
      if (!Buffer.isBuffer(v) || v.length % COMPACT_SIZE[f] !== 0) {
        return fail(`${name} is ${Buffer.isBuffer(v) ? `${v.length} bytes, not a whole number of ${COMPACT_SIZE[f]}-byte entries` : 'not a string'}`, `send ${name} as a string of ${COMPACT_SIZE[f]}-byte entries`);
      }
      if (hasPort(list, seedPort)) return pass(`${name} lists the seed (${list.length} entries)`);
      return fail(`${name} lacks the seed (port ${seedPort}; ${list.length} entries)`, `list the torrent's other IPv${f} peers in ${name}`);
    },
  },
  {
    id: 'mixed',
    title: "other family's peers",
    notApplicable: (_f, c) => (c.udp ? "a BEP 15 reply carries the requester's family only" : undefined),
    needsSwarm: true,
    judge(f, c) {
      const g = other(f);
      const theirs = c.peer(g, 'seed');
      if (!theirs?.started?.ok) return skip(`no IPv${g} peer could be announced (see the IPv${g} column)`);
      const r = reply(c.peer(f, 'leech'));
      if (!r) return skip('the leech announce failed (see peers)');
      if (hasPort(listOf(r, g), theirs.port)) return pass(`${listName(g)} lists the IPv${g} seed`);
      if (c.cell('peers', g).verdict === 'fail') return skip(`no IPv${g} peers are handed out at all (see peers)`);
      return fail(
        `an IPv${f} announcer did not get the IPv${g} seed in ${listName(g)}`,
        'return peers of both families to every announcer ("peers" and "peers6", BEP 7), whatever family the announce came over: dual-stack clients often announce over one family only',
      );
    },
  },
  {
    id: 'own-address',
    title: 'ipv6= / ipv4= honoured',
    notApplicable: httpOnly,
    needsSwarm: true,
    judge(f, c) {
      const g = other(f);
      const mine = c.o.own[g];
      if (!mine) return skip(`this host has no global IPv${g} address to send as ${param(g)}= (only our own is ever sent)`);
      const p = c.peer(f, 'own-address')!;
      const s = p.started!;
      if (!s.ok) return fail(`the announce with ${param(g)}= failed: ${text(s.error)}`, `accept announces that carry ${param(g)}= (BEP 7)`);
      const found = leechReplies(c).some((r) => listOf(r, g).some((x) => x.host === mine && x.port === p.port));
      if (found) return pass(`${param(g)}=${mine} was handed out to another peer`);
      if (viewsOf(g, c).length === 0) return skip(`cannot be seen: no announcer gets IPv${g} peers here`);
      return fail(
        `${param(g)}=${mine} was ignored: no peer got ${formatHostPort(mine, p.port)}`,
        `store the ${param(g)}= address (global unicast only) beside the announce's source address (BEP 7), so that peers announcing over IPv${f} can be reached over IPv${g}`,
      );
    },
  },
  {
    id: 'link-local',
    title: 'link-local ipv6=/ipv4= refused',
    notApplicable: httpOnly,
    needsSwarm: true,
    judge(f, c) {
      const g = other(f);
      const p = c.peer(f, 'link-local')!;
      const s = p.started!;
      const shown = `${param(g)}=${p.claimed}`;
      if (!s.ok) return isRefusal(s.error) ? pass(`the announce with ${shown} was refused`) : skip(`the announce with ${shown} failed: ${text(s.error)}`);
      const found = leechReplies(c).some((r) => listOf(r, g).some((x) => x.port === p.port && classify(x.host)?.kind === 'link-local'));
      if (found) {
        return fail(
          `the link-local ${shown} was stored and handed out`,
          `accept ${param(g)}= (if at all) for global unicast addresses only: a link-local address reaches nobody beyond the announcer's own link, so handing it out litters the swarm`,
        );
      }
      if (viewsOf(g, c).length === 0) return skip(`cannot be seen: no announcer gets IPv${g} peers here`);
      return pass(`${shown} was not handed out`);
    },
  },
  {
    id: 'scrape',
    title: 'scrape counts our peers',
    notApplicable: (_f, c) => (c.o.noScrape !== undefined ? `no scrape URL: ${c.o.noScrape}` : undefined),
    needsSwarm: true,
    judge(f, c) {
      const s = c.fam(f).scrape!;
      const fix = c.udp ? 'answer BEP 15 scrape requests (action 2) with three counts per info hash' : 'serve scrape next to announce (BEP 48: /announce -> /scrape) with "files" counts per info hash';
      if (!s.ok) return fail(text(s.error), fix);
      const e = s.value;
      if (!e) return fail('no entry for our info hash', fix);
      const announced = FAMILIES.flatMap((g) => Object.values(c.fam(g).peers).filter((p) => p.role !== 'observer' && accepted(c.fam(g), p)));
      const here = announced.filter((p) => p.family === f);
      const seeds = here.filter((p) => p.left === 0).length;
      const leeches = here.length - seeds;
      const counts = `seeders ${e.complete}, leechers ${e.incomplete}`;
      if (e.complete >= seeds && e.incomplete >= leeches && e.complete + e.incomplete <= announced.length) {
        return pass(`${counts} (ours: ${seeds} + ${leeches} over IPv${f}, ${announced.length} in all)`);
      }
      return fail(`${counts}; we announced ${seeds} seeds and ${leeches} leechers over IPv${f}, ${announced.length} peers in all`, 'count every peer of a torrent once: seeds in "complete", leechers in "incomplete"');
    },
  },
  {
    id: 'stopped',
    title: 'stopped removes our peers',
    needsSwarm: true,
    judge(f, c) {
      const ours = Object.values(c.fam(f).peers).filter((p) => p.role !== 'observer');
      const observers = FAMILIES.map((g) => reply(c.peer(g, 'observer'))).filter((r): r is AnnounceReply => r !== undefined);
      const seen = new Set(observers.flatMap((r) => [...r.peers4, ...r.peers6].map((p) => p.port)));
      const left = ours.filter((p) => seen.has(p.port));
      if (left.length > 0) {
        return fail(
          `${left.length} of our ${ours.length} peers still listed after event=stopped (${left.map((p) => p.role).join(', ')})`,
          'remove a peer when it announces event=stopped: until it expires it is handed out to peers that cannot reach it',
        );
      }
      const watching = c.cell('peers', f).verdict === 'pass' && reply(c.peer(f, 'observer'));
      const crossWatching = c.cell('mixed', other(f)).verdict === 'pass' && reply(c.peer(other(f), 'observer'));
      if (!watching && !crossWatching) return skip('cannot be seen: no later announce got a usable peer list');
      const broken = ours.find((p) => p.stopped && !p.stopped.ok);
      if (broken?.stopped && !broken.stopped.ok) return fail(`the stopped announce failed: ${text(broken.stopped.error)}`, 'accept event=stopped announces and drop the peer');
      return pass(`none of our ${ours.length} peers listed afterwards`);
    },
  },
  {
    id: 'unknown-hash',
    needsAnswers: true,
    title: 'unknown info hash answered',
    notApplicable: (_f, c) => (c.o.noScrape !== undefined ? `no scrape URL: ${c.o.noScrape}` : undefined),
    judge(f, c) {
      if (c.cell('scrape', f).verdict === 'fail') return skip('scrape does not work (see scrape)');
      const u = c.fam(f).unknownHash;
      if (!u) return skip('nothing was sent');
      const fix = 'answer a scrape of a hash it does not know with no entry or zero counts (or a failure reason)';
      if (!u.ok) {
        if (isRefusal(u.error)) return pass(`${text(u.error).replace(/^tracker /, '')}`);
        return fail(u.error.timedOut ? `no reply within ${c.o.timeoutMs / 1000} s` : text(u.error), fix);
      }
      const e = u.value;
      if (!e) return pass('no entry');
      if (e.complete === 0 && e.incomplete === 0) return pass('zero counts');
      return fail(`reports ${e.complete} seeds and ${e.incomplete} leechers for a hash nobody announced`, fix);
    },
  },
  {
    id: 'malformed',
    needsAnswers: true,
    title: 'malformed request refused',
    judge(f, c) {
      const m = c.fam(f).malformed;
      if (!m) return skip('nothing was sent');
      return oddReply(m, c, c.udp
        ? 'answer a request it cannot use with an error packet (action 3, BEP 15) instead of silence: the client otherwise retransmits for minutes'
        : 'answer a malformed announce with a bencoded "failure reason" instead of silence');
    },
  },
  {
    id: 'connection-id',
    needsAnswers: true,
    title: 'UDP: bad connection id refused',
    notApplicable: udpOnly,
    judge(f, c) {
      const m = c.fam(f).connectionId;
      if (!m) return skip('nothing was sent');
      if (m.ok && m.value.kind === 'udp' && m.value.packet && replyHeader(m.value.packet)?.action === ACTION.announce) {
        return fail('answered an announce under a connection id it never issued', 'check the connection id of every request (BEP 15): it is what proves that the source address is not spoofed');
      }
      return oddReply(m, c, 'answer a request with an unknown or expired connection id with an error packet (action 3), so that the client connects again at once instead of retransmitting for minutes');
    },
  },
  {
    id: 'retransmit',
    title: 'UDP: retransmission answered',
    notApplicable: udpOnly,
    needsSwarm: true,
    judge(f, c) {
      const r = c.fam(f).retransmit;
      if (!r) return skip('nothing was sent');
      if (!r.ok) return fail(text(r.error), 'answer BEP 15 connect and announce requests');
      const [a, b] = r.value;
      const wait = `${c.o.timeoutMs / 1000} s`;
      if (!a) return fail(`no reply to the first copy within ${wait}`, 'answer every announce');
      if (!b) return fail(`the repeated request (same transaction id) got no reply within ${wait}`, 'answer a retransmitted request again: BEP 15 clients resend when a reply is lost, then wait 15 s, 30 s, 60 s ... between tries');
      const pa = replyHeader(a)?.action === ACTION.announce ? parseUdpAnnounceReply(a, f) : undefined;
      const pb = replyHeader(b)?.action === ACTION.announce ? parseUdpAnnounceReply(b, f) : undefined;
      if (!pa || !pb) return fail(`${pa ? 'the repeat' : 'the first copy'} got no announce reply`, 'answer a retransmitted announce like the first one');
      if (pb.seeders > pa.seeders) return fail(`the repeat was counted as another peer (seeders ${pa.seeders} -> ${pb.seeders})`, 'identify peers by peer id and key (or address and port), so that a retransmitted announce updates the peer it already has');
      return pass(`both copies answered (seeders ${pa.seeders} -> ${pb.seeders})`);
    },
  },
];

/** Resolver answers that mean "there is no such record" (EAI_AGAIN and the like mean "no answer"). */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NODATA', 'EAI_NONAME']);

/** Socket errors that mean this host cannot use the family at all, whatever the tracker does. */
const OUR_SIDE = new Set(['ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ENETDOWN']);

function accepted(ob: FamilyObservations, p: PeerRecord): boolean {
  if (p.role !== 'retransmit') return p.started?.ok === true;
  const first = ob.retransmit?.ok ? ob.retransmit.value[0] : undefined;
  return first !== undefined && replyHeader(first)?.action === ACTION.announce;
}

/** Every check for every family, in table order. */
export function judge(o: Observations): CheckRow[] {
  const udp = o.url.protocol === 'udp';
  const done = new Map<string, Cell>();
  const c: Context = {
    o,
    udp,
    fam: (f) => o.families[f],
    peer: (f, role) => o.families[f].peers[role],
    cell: (id, f) => {
      const cell = done.get(`${id}|${f}`);
      if (!cell) throw new Error(`check ${id} read before it was judged`);
      return cell;
    },
  };
  // CHECKS is in dependency order: a check reads only cells of checks above it.
  for (const def of CHECKS) {
    for (const f of FAMILIES) done.set(`${def.id}|${f}`, gate(def, f, c));
  }
  return CHECKS.map((def) => ({ id: def.id, title: def.title, cells: { 4: c.cell(def.id, 4), 6: c.cell(def.id, 6) } }));
}

function gate(def: CheckDef, f: Family, c: Context): Cell {
  const na1 = def.notApplicable?.(f, c);
  if (na1) return na(na1);
  const ob = c.fam(f);
  if (ob.notTried) return { verdict: ob.notTried.verdict, evidence: ob.notTried.reason };
  if (def.id === 'dns') return def.judge(f, c);
  if (!ob.address) return skip(`no IPv${f} address (see DNS)`);
  if (def.id === 'reachable') return def.judge(f, c);
  if (!ob.reached) return skip(`not reachable over IPv${f}`);
  const first = ob.peers.seed?.started;
  if (def.needsSwarm && first?.ok !== true) return skip('the first announce was not accepted');
  if (def.needsAnswers && first && !first.ok && !isRefusal(first.error)) return skip('valid requests get no proper answer either (see announce)');
  return def.judge(f, c);
}
