/**
 * The checks: each turns Observations into one cell per lane (an address of a family), pass /
 * fail / policy / n/a / skipped, with one line of evidence and, when it fails, what a tracker
 * operator should fix. Pure: the network was left behind in script.ts. A check whose question
 * cannot be answered because an earlier one failed says so (skipped) instead of failing again,
 * so each fault shows in one row; so does a check whose step a time bound or an interrupt cut.
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
import { OddDatagramsError } from './channels.js';
import type { Lane, Observations, OddReply, Outcome, PeerRecord, Role, Step } from './observations.js';
import type { Cell, CheckId, CheckRow } from './report.js';

const pass = (evidence: string): Cell => ({ verdict: 'pass', evidence });
const fail = (evidence: string, fix: string): Cell => ({ verdict: 'fail', evidence, fix });
const skip = (evidence: string): Cell => ({ verdict: 'skipped', evidence });
const na = (evidence: string): Cell => ({ verdict: 'n/a', evidence });
const policy = (evidence: string): Cell => ({ verdict: 'policy', evidence });

const other = (f: Family): Family => (f === 4 ? 6 : 4);
const param = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');
const listName = (f: Family) => (f === 4 ? 'peers' : 'peers6');
const record = (f: Family) => (f === 4 ? 'A' : 'AAAA');
const text = (e: TrackerError) => printable(e.message, 200);
const isRefusal = (e: TrackerError) => /^tracker (refused|error):/.test(e.message);
const hasPort = (list: readonly PeerAddress[], port: number) => list.some((p) => p.port === port);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Where the judged checks so far can be read back; a check is judged for one lane at a time. */
interface Context {
  o: Observations;
  udp: boolean;
  lanes: readonly Lane[];
  /** Lanes of `f` that had an address to probe. */
  probed(f: Family): Lane[];
  cell(id: CheckId, l: Lane): Cell;
}

interface CheckDef {
  id: CheckId;
  title: string;
  /** The step whose results it reads: judged only when that step ran to its end. */
  step: Step;
  /** Why it never applies to this tracker in this column, or undefined. */
  notApplicable?(l: Lane, c: Context): string | undefined;
  /** Judged only when the first announce at this address was accepted. */
  needsSwarm?: boolean;
  /** Judged only when the first announce got a proper answer (accepted, or refused with a reason). */
  needsAnswers?: boolean;
  judge(l: Lane, c: Context): Cell;
}

function reply(p: PeerRecord | undefined): AnnounceReply | undefined {
  return p?.started?.ok ? p.started.value.reply : undefined;
}

const listOf = (r: AnnounceReply, f: Family) => (f === 4 ? r.peers4 : r.peers6);
const peer = (l: Lane, role: Role) => l.peers[role];
const where = (l: Lane, c: Context) => formatHostPort(l.address!, c.o.url.port);

/** Leech replies that show peers of family `g` reliably (the rows that deliver them passed). */
function viewsOf(g: Family, c: Context): AnnounceReply[] {
  const out: AnnounceReply[] = [];
  for (const l of c.probed(g)) {
    const r = reply(peer(l, 'leech'));
    if (r && c.cell('peers', l).verdict === 'pass') out.push(r);
  }
  for (const l of c.probed(other(g))) {
    const r = reply(peer(l, 'leech'));
    if (r && c.cell('mixed', l).verdict === 'pass') out.push(r);
  }
  return out;
}

/** Every leech reply, every address. */
const leechReplies = (c: Context) => c.lanes.map((l) => reply(peer(l, 'leech'))).filter((r): r is AnnounceReply => r !== undefined);

const httpOnly = (_l: Lane, c: Context) => (c.udp ? 'BEP 15 has no such field' : undefined);
const udpOnly = (_l: Lane, c: Context) => (c.udp ? undefined : 'UDP trackers only');

function oddReply(m: Outcome<OddReply>, c: Context, silentFix: string): Cell {
  if (!m.ok) return m.error.timedOut ? fail(m.error instanceof OddDatagramsError ? text(m.error) : `no reply within ${c.o.timeoutMs / 1000} s`, silentFix) : fail(text(m.error), silentFix);
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
  if (!r.packet) return fail(`no reply within ${c.o.timeoutMs / 1000} s${r.instead ? `; came instead: ${r.instead}` : ''}`, silentFix);
  const h = replyHeader(r.packet);
  if (h?.action === ACTION.error) return pass(`error: ${printable(r.packet.toString('utf8', 8), 100) || '(no message)'}`);
  return fail(`answered with action ${h?.action ?? '(none)'} instead of an error`, 'answer a request it cannot serve with an error packet (action 3, BEP 15)');
}

/** "... or remove X from the AAAA records of NAME" when other addresses of the family answer. */
function orUnlist(l: Lane, c: Context): string {
  if (c.o.url.literalFamily) return '';
  const others = c.probed(l.family).filter((x) => x !== l && x.reached);
  return others.length > 0 ? `, or remove ${l.address} from the ${record(l.family)} records of ${c.o.url.host} (${plural(others.length, 'other address of the name answers', 'other addresses of the name answer')})` : '';
}

const CHECKS: CheckDef[] = [
  {
    id: 'dns',
    title: 'DNS (A / AAAA)',
    step: 'resolve',
    judge(l, c) {
      const dns = l.dns;
      const rec = record(l.family);
      if (!dns) return na('the URL holds an IP address: no DNS');
      if (dns.ok) {
        const all = dns.value;
        const probed = c.probed(l.family).length;
        const position = all.length > 1 ? ` (${all.indexOf(l.address!) + 1} of ${all.length}${all.length > probed ? `; ${all.length - probed} not probed` : ''})` : '';
        return pass(`${rec} ${l.address}${position}`);
      }
      const host = c.o.url.host;
      if (dns.error.timedOut) return fail(`no ${rec} answer within ${c.o.timeoutMs / 1000} s`, `make the name servers of ${host} answer ${rec} queries`);
      if (!dns.error.code || !NO_RECORD.has(dns.error.code)) {
        return fail(`${rec} lookup failed (${dns.error.code ?? text(dns.error)})`, `make the name servers of ${host} answer ${rec} queries, with an ${rec} record pointing at an IPv${l.family} address the tracker listens on`);
      }
      return fail(
        `no ${rec} record (${dns.error.code ?? text(dns.error)})`,
        `publish an ${rec} record for ${host} pointing at an IPv${l.family} address the tracker listens on; IPv${l.family}-only clients cannot reach it without one`,
      );
    },
  },
  {
    id: 'reachable',
    title: 'reachable',
    step: 'seed',
    judge(l, c) {
      const at = where(l, c);
      const proto = c.udp ? 'udp' : 'tcp';
      const first = l.peers.seed?.started;
      if (l.reached) {
        const from = l.elsewhere[0];
        const seen = from ? ` (from ${formatHostPort(from.from.address, from.from.port)})` : '';
        return pass(`${c.udp ? 'UDP' : 'HTTP'} reply from ${at}${seen}${first ? ` in ${first.ms} ms` : ''}`);
      }
      if (!first || first.ok) return skip('nothing was sent');
      const e = first.error;
      if (e.code && OUR_SIDE.has(e.code)) return skip(`this host cannot send IPv${l.family} (${e.code}); run the check from one that can`);
      if (e.code === 'ECONNREFUSED') {
        return fail(
          c.udp ? `port unreachable: nothing listens on ${at}/udp` : `connection refused by ${at}`,
          `make the tracker listen on ${l.address} port ${c.o.url.port}/${proto} (bind ${l.family === 6 ? '::' : '0.0.0.0'} or that address)${orUnlist(l, c) || `, or point the ${record(l.family)} record where it listens`}`,
        );
      }
      if (e.code === 'EHOSTUNREACH' || e.code === 'EHOSTDOWN') {
        return fail(`no route to ${l.address}: no host answers there (${e.code})`, `give the tracker's host the address ${l.address}${orUnlist(l, c) || `, or point the ${record(l.family)} record at the tracker's address`}`);
      }
      if (e instanceof OddDatagramsError) {
        return fail(text(e), "answer BEP 15 requests with a reply that starts with the request's action and transaction id, from the address and port the request went to");
      }
      if (e.timedOut) return fail(`no reply from ${at} within ${c.o.timeoutMs / 1000} s${c.udp ? ' (3 tries)' : ''}`, `let port ${c.o.url.port}/${proto} through the firewalls to ${l.address} and make sure the tracker answers there${orUnlist(l, c)}`);
      return fail(text(e), `make ${at} reachable over IPv${l.family}: check the address's routing and that the tracker listens there${orUnlist(l, c)}`);
    },
  },
  {
    id: 'reply-source',
    title: 'UDP: replies from that address',
    step: 'seed',
    notApplicable: udpOnly,
    judge(l, c) {
      const at = where(l, c);
      if (l.elsewhere.length === 0) return pass(`every reply came from ${at}`);
      const from = l.elsewhere[0]!.from;
      const src = formatHostPort(from.address, from.port);
      const n = l.elsewhere.length;
      const clients = "clients that take replies only from the address asked (connected sockets: libtorrent, sixswarm) time out; clients that match the transaction id alone get them";
      if (from.address === l.address) {
        return fail(`${plural(n, 'reply', 'replies')} came from ${src}, not port ${c.o.url.port} where the requests went: ${clients}`, `answer from the port the request came to (${c.o.url.port})`);
      }
      const known = c.o.resolved[l.family].includes(from.address) ? `another of ${c.o.url.host}'s addresses` : `an address ${c.o.url.literalFamily ? 'the URL does not name' : `${c.o.url.host} does not resolve to`}`;
      return fail(
        `${plural(n, 'reply', 'replies')} came from ${src}, ${known}, not ${at} where the requests went: ${clients}`,
        `answer each request from the address it was sent to: bind one UDP socket per address instead of the wildcard (or set the source with ${l.family === 6 ? 'IPV6_PKTINFO' : 'IP_PKTINFO'})`,
      );
    },
  },
  {
    id: 'announce',
    title: 'announce accepted',
    step: 'seed',
    judge(l, c) {
      const s = l.peers.seed?.started;
      if (!s) return skip('nothing was sent');
      if (s.ok) {
        const r = s.value.reply;
        return pass(`seeders ${r.complete ?? '?'}, leechers ${r.incomplete ?? '?'}${r.warnings[0] ? `; ${printable(r.warnings[0], 80)}` : ''}`);
      }
      const listed = 'one that serves listed torrents only can be checked with --info-hash and a hash listed for testing';
      if (isRefusal(s.error)) return fail(`${text(s.error).replace(/^tracker /, '')}`, `the tracker refused an announce of a random info hash: ${listed}; otherwise fix what the reason says`);
      if (/^an announce reply of 8 bytes/.test(s.error.message)) {
        return fail(text(s.error), `a whitelisting opentracker answers an announce of a hash it does not serve with the 8-byte header alone: ${listed}; otherwise answer with a full announce reply (20-byte header, then the peers)`);
      }
      return fail(text(s.error), c.udp ? 'answer a BEP 15 announce with an announce reply (action 1: 20-byte header, then the peers)' : 'answer an announce with a bencoded dictionary (BEP 3: interval, peers)');
    },
  },
  {
    id: 'interval',
    title: 'interval sane',
    step: 'seed',
    needsSwarm: true,
    judge(l, c) {
      const r = reply(peer(l, 'seed'))!;
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
    step: 'leech',
    notApplicable: (l, c) => (!c.udp ? 'UDP trackers only' : l.family === 4 ? '6-byte entries are right over IPv4' : undefined),
    needsSwarm: true,
    judge(l, c) {
      const leech = peer(l, 'leech')?.started;
      if (!leech?.ok) return skip('the leech announce failed (see peers)');
      const body = leech.value.raw.subarray(20);
      if (body.length === 0) return skip('no entries came back to judge');
      const seedPort = peer(l, 'seed')!.port;
      const as18 = body.length % 18 === 0 ? decodeCompactPeers(body, 6) : [];
      if (hasPort(as18, seedPort)) return pass(`${plural(as18.length, 'entry', 'entries')} of 18 bytes`);
      const six = sixByteEntries(body, c);
      if (six) return fail(`${body.length} bytes of 6-byte entries over IPv6 (${six})`, SIX_BYTE_FIX);
      if (body.length % 18 === 0) return pass(`${plural(as18.length, 'entry', 'entries')} of 18 bytes`);
      return fail(`${body.length} bytes of entries: not a whole number of 18-byte entries`, 'over IPv6, BEP 15 replies carry 18-byte entries (16-byte address, 2-byte port)');
    },
  },
  {
    id: 'peers',
    title: 'peers / peers6 returned',
    step: 'leech',
    needsSwarm: true,
    judge(l, c) {
      const f = l.family;
      const leech = peer(l, 'leech')!.started!;
      if (!leech.ok) return fail(`the second peer's announce failed: ${text(leech.error)}`, 'accept every announce of a torrent, not only the first');
      const seedPort = peer(l, 'seed')!.port;
      const list = listOf(leech.value.reply, f);
      if (c.udp) {
        if (f === 6 && c.cell('udp-entries', l).verdict === 'fail') {
          const six = sixByteEntries(leech.value.raw.subarray(20), c);
          return fail(`no IPv6 peer: the IPv6 seed (port ${seedPort}) is missing, the reply holds ${six ? `6-byte IPv4 entries (${six})` : 'entries that are not 18 bytes long'}`, SIX_BYTE_FIX);
        }
        if (hasPort(list, seedPort)) return pass(`the seed is listed (${plural(list.length, 'entry', 'entries')})`);
        return fail(`the seed (port ${seedPort}) is missing (${plural(list.length, 'entry', 'entries')})`, 'hand out the torrent\'s other peers: a leech got no seed');
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
      if (hasPort(list, seedPort)) return pass(`${name} lists the seed (${plural(list.length, 'entry', 'entries')})`);
      return fail(`${name} lacks the seed (port ${seedPort}; ${plural(list.length, 'entry', 'entries')})`, `list the torrent's other IPv${f} peers in ${name}`);
    },
  },
  {
    id: 'mixed',
    title: "other family's peers",
    step: 'leech',
    notApplicable: (_l, c) => (c.udp ? "a BEP 15 reply carries the requester's family only" : undefined),
    needsSwarm: true,
    judge(l, c) {
      const f = l.family;
      const g = other(f);
      const theirs = c.probed(g).map((x) => peer(x, 'seed')).filter((p): p is PeerRecord => p?.started?.ok === true);
      if (theirs.length === 0) return skip(`no IPv${g} peer could be announced (see the IPv${g} column${c.probed(g).length > 1 ? 's' : ''})`);
      const r = reply(peer(l, 'leech'));
      if (!r) return skip('the leech announce failed (see peers)');
      const listed = theirs.filter((p) => hasPort(listOf(r, g), p.port));
      const of = theirs.length > 1 ? ` (${listed.length} of the ${theirs.length} announced at the name's ${record(g)} addresses)` : '';
      if (listed.length > 0) return pass(`${listName(g)} lists the IPv${g} seed${of}`);
      if (c.probed(g).every((x) => c.cell('peers', x).verdict === 'fail')) return skip(`no IPv${g} peers are handed out at all (see peers)`);
      const shared = c.probed(f).some((x) => {
        const theirReply = x !== l ? reply(peer(x, 'leech')) : undefined;
        return theirReply !== undefined && theirs.some((p) => hasPort(listOf(theirReply, g), p.port));
      });
      return fail(
        `an IPv${f} announcer${c.probed(f).length > 1 ? ` at ${l.address}` : ''} did not get the IPv${g} seed${theirs.length > 1 ? 's' : ''} in ${listName(g)}`,
        shared
          ? `serve every address of ${c.o.url.host} from one swarm: ${l.address} does not share its peers with the name's other addresses (or remove it from the ${record(f)} records)`
          : 'return peers of both families to every announcer ("peers" and "peers6", BEP 7), whatever family the announce came over: dual-stack clients often announce over one family only',
      );
    },
  },
  {
    id: 'own-address',
    title: 'ipv6= / ipv4= honoured',
    step: 'leech',
    notApplicable: httpOnly,
    needsSwarm: true,
    judge(l, c) {
      const g = other(l.family);
      const mine = c.o.own[g];
      if (!mine) return skip(`this host has no global IPv${g} address to send as ${param(g)}= (only our own is ever sent)`);
      const p = peer(l, 'own-address')!;
      const s = p.started!;
      if (!s.ok) return fail(`the announce with ${param(g)}= failed: ${text(s.error)}`, `accept announces that carry ${param(g)}= (BEP 7), even when the address is not stored`);
      const found = leechReplies(c).some((r) => listOf(r, g).some((x) => x.host === mine && x.port === p.port));
      if (found) return pass(`${param(g)}=${mine} was handed out to another peer`);
      if (viewsOf(g, c).length === 0) return skip(`cannot be seen: no announcer gets IPv${g} peers here`);
      return policy(`${param(g)}=${mine} is not stored: a choice (BEP 7 allows it; the parameter lets anyone list others' addresses), not a fault`);
    },
  },
  {
    id: 'link-local',
    title: 'link-local ipv6=/ipv4= refused',
    step: 'leech',
    notApplicable: httpOnly,
    needsSwarm: true,
    judge(l, c) {
      const g = other(l.family);
      const p = peer(l, 'link-local')!;
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
    step: 'scrape',
    notApplicable: (_l, c) => (c.o.noScrape !== undefined ? `no scrape URL: ${c.o.noScrape}` : undefined),
    needsSwarm: true,
    judge(l, c) {
      const s = l.scrape!;
      const fix = c.udp ? 'answer BEP 15 scrape requests (action 2) with three counts per info hash' : 'serve scrape next to announce (BEP 48: /announce -> /scrape) with "files" counts per info hash';
      if (!s.ok) return fail(text(s.error), fix);
      const e = s.value.entry;
      if (!e) {
        if (!c.udp && utf8Keyed(s.value.raw, c.o.infoHash)) {
          return fail(
            'the "files" key for our hash is UTF-8-encoded (each byte over 0x7f as two), not the 20 raw bytes: no client finds its entry',
            'write the info hashes of a scrape reply\'s "files" dictionary as the 20 raw bytes (a binary string, not text encoded as UTF-8)',
          );
        }
        return fail('no entry for our info hash', fix);
      }
      const announced = c.lanes.flatMap((x) => Object.values(x.peers).filter((p) => p.role !== 'observer' && accepted(x, p)));
      const here = Object.values(l.peers).filter((p) => p.role !== 'observer' && accepted(l, p));
      const seeds = here.filter((p) => p.left === 0).length;
      const leeches = here.length - seeds;
      const counts = `seeders ${e.complete}, leechers ${e.incomplete}`;
      if (e.complete >= seeds && e.incomplete >= leeches && e.complete + e.incomplete <= announced.length) {
        return pass(`${counts} (ours: ${seeds} + ${leeches} here, ${announced.length} in all)`);
      }
      return fail(`${counts}; we announced ${seeds} seeds and ${leeches} leechers here, ${announced.length} peers in all`, 'count every peer of a torrent once: seeds in "complete", leechers in "incomplete"');
    },
  },
  {
    id: 'stopped',
    title: 'stopped removes our peers',
    step: 'observe',
    needsSwarm: true,
    judge(l, c) {
      const ours = Object.values(l.peers).filter((p) => p.role !== 'observer');
      const observers = c.lanes.map((x) => reply(peer(x, 'observer'))).filter((r): r is AnnounceReply => r !== undefined);
      const seen = new Set(observers.flatMap((r) => [...r.peers4, ...r.peers6].map((p) => p.port)));
      const left = ours.filter((p) => seen.has(p.port));
      if (left.length > 0) {
        return fail(
          `${left.length} of our ${ours.length} peers still listed after event=stopped (${left.map((p) => p.role).join(', ')})`,
          'remove a peer when it announces event=stopped: until it expires it is handed out to peers that cannot reach it',
        );
      }
      const watching = c.cell('peers', l).verdict === 'pass' && reply(peer(l, 'observer'));
      const crossWatching = c.probed(other(l.family)).some((x) => c.cell('mixed', x).verdict === 'pass' && reply(peer(x, 'observer')));
      if (!watching && !crossWatching) return skip('cannot be seen: no later announce got a usable peer list');
      const broken = ours.find((p) => p.stopped && !p.stopped.ok);
      if (broken?.stopped && !broken.stopped.ok) return fail(`the stopped announce failed: ${text(broken.stopped.error)}`, 'accept event=stopped announces and drop the peer');
      return pass(`none of our ${ours.length} peers listed afterwards`);
    },
  },
  {
    id: 'unknown-hash',
    title: 'unknown info hash answered',
    step: 'scrape',
    needsAnswers: true,
    notApplicable: (_l, c) => (c.o.noScrape !== undefined ? `no scrape URL: ${c.o.noScrape}` : undefined),
    judge(l, c) {
      if (c.cell('scrape', l).verdict === 'fail') return skip('scrape does not work (see scrape)');
      const u = l.unknownHash;
      if (!u) return skip('nothing was sent');
      const fix = 'answer a scrape of a hash it does not know with no entry or zero counts (or a failure reason)';
      if (!u.ok) {
        if (isRefusal(u.error)) return pass(`${text(u.error).replace(/^tracker /, '')}`);
        return fail(u.error.timedOut && !(u.error instanceof OddDatagramsError) ? `no reply within ${c.o.timeoutMs / 1000} s` : text(u.error), fix);
      }
      const e = u.value.entry;
      if (!e) return pass('no entry');
      if (e.complete === 0 && e.incomplete === 0) return pass('zero counts');
      return fail(`reports ${e.complete} seeds and ${e.incomplete} leechers for a hash nobody announced`, fix);
    },
  },
  {
    id: 'malformed',
    title: 'malformed request refused',
    step: 'odd',
    needsAnswers: true,
    judge(l, c) {
      const m = l.malformed;
      if (!m) return skip('nothing was sent');
      return oddReply(m, c, c.udp
        ? 'answer a request it cannot use with an error packet (action 3, BEP 15) instead of silence: the client otherwise retransmits for minutes'
        : 'answer a malformed announce with a bencoded "failure reason" instead of silence');
    },
  },
  {
    id: 'connection-id',
    title: 'UDP: bad connection id refused',
    step: 'odd',
    needsAnswers: true,
    notApplicable: udpOnly,
    judge(l, c) {
      const m = l.connectionId;
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
    step: 'retransmit',
    notApplicable: udpOnly,
    needsSwarm: true,
    judge(l, c) {
      const r = l.retransmit;
      if (!r) return skip('nothing was sent');
      if (!r.ok) return fail(text(r.error), 'answer BEP 15 connect and announce requests');
      const [a, b] = r.value;
      const wait = `${c.o.timeoutMs / 1000} s`;
      if (!a) return fail(`no reply to the first copy within ${wait}`, 'answer every announce');
      if (!b) return fail(`the repeated request (same transaction id) got no reply within ${wait}`, 'answer a retransmitted request again: BEP 15 clients resend when a reply is lost, then wait 15 s, 30 s, 60 s ... between tries');
      const pa = replyHeader(a)?.action === ACTION.announce ? parseUdpAnnounceReply(a, l.family) : undefined;
      const pb = replyHeader(b)?.action === ACTION.announce ? parseUdpAnnounceReply(b, l.family) : undefined;
      if (!pa || !pb) return fail(`${pa ? 'the repeat' : 'the first copy'} got no announce reply`, 'answer a retransmitted announce like the first one');
      if (pb.seeders > pa.seeders) return fail(`the repeat was counted as another peer (seeders ${pa.seeders} -> ${pb.seeders})`, 'identify peers by peer id and key (or address and port), so that a retransmitted announce updates the peer it already has');
      return pass(`both copies answered (seeders ${pa.seeders} -> ${pb.seeders})`);
    },
  },
];

const SIX_BYTE_FIX = 'over IPv6, BEP 15 replies carry 18-byte entries (16-byte address, 2-byte port); 6-byte ones (the bittorrent-tracker bug) reach clients as garbage. Serve IPv6 peers, 18 bytes each, to IPv6 clients';

/** "127.0.0.1:51000, ..." when `body` decodes as 6-byte entries naming one of our peers' ports, else undefined. */
function sixByteEntries(body: Buffer, c: Context): string | undefined {
  if (body.length === 0 || body.length % 6 !== 0) return undefined;
  const ours = c.lanes.flatMap((l) => Object.values(l.peers).map((p) => p.port));
  const as6 = decodeCompactPeers(body, 4);
  if (!as6.some((p) => ours.includes(p.port))) return undefined;
  return `${as6.slice(0, 2).map((p) => formatHostPort(p.host, p.port)).join(', ')}${as6.length > 2 ? ', ...' : ''}`;
}

/** Whether a scrape body's "files" has our hash under its UTF-8 encoding (each byte read as a Latin-1 character). */
function utf8Keyed(raw: Buffer, hash: Buffer): boolean {
  try {
    const files = (decode(raw, { maxBytes: LIMITS.maxHttpBody }) as BDict).get('files');
    if (!(files instanceof BDict)) return false;
    const wanted = Buffer.from(hash.toString('latin1'), 'utf8').toString('latin1');
    return wanted !== hash.toString('latin1') && files.has(wanted);
  } catch {
    return false;
  }
}

/** Resolver answers that mean "there is no such record" (EAI_AGAIN and the like mean "no answer"). */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NODATA', 'EAI_NONAME']);

/** Socket errors that mean this host cannot use the family at all, whatever the tracker does. */
const OUR_SIDE = new Set(['ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ENETDOWN']);

function accepted(l: Lane, p: PeerRecord): boolean {
  if (p.role !== 'retransmit') return p.started?.ok === true;
  const first = l.retransmit?.ok ? l.retransmit.value[0] : undefined;
  return first !== undefined && replyHeader(first)?.action === ACTION.announce;
}

/** Every check for every lane, in table order. */
export function judge(o: Observations): CheckRow[] {
  const udp = o.url.protocol === 'udp';
  const done = new Map<string, Cell>();
  const index = new Map(o.lanes.map((l, i) => [l, i]));
  const c: Context = {
    o,
    udp,
    lanes: o.lanes,
    probed: (f) => o.lanes.filter((l) => l.family === f && l.address !== undefined),
    cell: (id, l) => {
      const cell = done.get(`${id}|${index.get(l)}`);
      if (!cell) throw new Error(`check ${id} read before it was judged`);
      return cell;
    },
  };
  // CHECKS is in dependency order: a check reads only cells of checks above it (and, for
  // mixed, the cells of its own row judged before it, through `done`).
  for (const def of CHECKS) {
    for (const l of o.lanes) done.set(`${def.id}|${index.get(l)}`, gate(def, l, c));
  }
  return CHECKS.map((def) => ({ id: def.id, title: def.title, cells: o.lanes.map((l) => c.cell(def.id, l)) }));
}

function gate(def: CheckDef, l: Lane, c: Context): Cell {
  const na1 = def.notApplicable?.(l, c);
  if (na1) return na(na1);
  if (l.notTried) return { verdict: l.notTried.verdict, evidence: l.notTried.reason };
  if (!c.o.completed.has(def.step)) return skip(c.o.cut ? `not judged: ${c.o.cut}` : 'not judged');
  if (def.id === 'dns') return def.judge(l, c);
  if (!l.address) return skip(`no IPv${l.family} address (see DNS)`);
  if (def.id === 'reachable') return def.judge(l, c);
  if (!l.reached) return skip(`not reachable at ${l.address}`);
  const first = l.peers.seed?.started;
  if (def.needsSwarm && first?.ok !== true) return skip('the first announce was not accepted');
  if (def.needsAnswers && first && !first.ok && !isRefusal(first.error)) return skip('valid requests get no proper answer either (see announce)');
  return def.judge(l, c);
}
