/**
 * One iterative Kademlia lookup (BEP 5): ask the closest known nodes for `target`, `alpha` at a
 * time, move towards the closer nodes they name, stop when the K closest have all answered or
 * failed. For get_peers, the peers ("values") and tokens found on the way are kept. Bounded by
 * a query budget and a candidate list of fixed size, and hard to capture from few addresses: one
 * candidate per IP (another one from that IP only once the first failed), at most two per /24, a
 * node counts only once it answered under the id it was named by, and the peers one lookup
 * takes are bounded per answering node and per peer host (all ports together).
 */
import type { PeerAddress } from '../net/compact.js';
import type { IncomingResponse, NodeContact } from './krpc.js';
import { compareDistance } from './node-id.js';
import type { Endpoint } from './rpc.js';
import { net24, reachableVia } from './scope.js';

export interface LookupParams {
  target: Buffer;
  method: 'find_node' | 'get_peers';
  k: number;
  alpha: number;
  /** Most queries this lookup sends. */
  maxQueries: number;
  ownId: Buffer;
  /** Nodes to start from (the routing table's closest). */
  seeds: readonly NodeContact[];
  /** Addresses without a known id (bootstrap routers), asked first. */
  routers: readonly Endpoint[];
  ask: (to: Endpoint) => Promise<IncomingResponse>;
  onPeers?: (peers: PeerAddress[]) => void;
  signal?: AbortSignal;
}

export interface Answered extends NodeContact {
  token: Buffer | undefined;
}

export interface LookupResult {
  /** The closest nodes that answered, closest first (at most K), with their tokens. */
  closest: Answered[];
  queries: number;
  answers: number;
  peers: number;
}

type State = 'new' | 'asked' | 'answered' | 'failed';

interface Candidate {
  contact: NodeContact;
  state: State;
  token?: Buffer;
}

/** Distinct peers reported per lookup; past this, more are ignored. */
const MAX_PEERS = 5000;
/** Peers taken from one node's answer (libtorrent's nodes send at most 100). */
const MAX_PEERS_PER_NODE = 100;
/** Ports of one peer host taken per lookup: a few users behind one NAT, not a port scan of one target. */
const MAX_PORTS_PER_PEER_HOST = 4;
/** Candidates from one /24 that have not failed. */
const MAX_PER_NET = 2;

const key = (e: Endpoint) => `${e.host}:${e.port}`;

export function lookup(p: LookupParams): Promise<LookupResult> {
  const capacity = p.k * 4;
  let candidates: Candidate[] = [];
  const seen = new Set<string>(); // addresses and ids already candidates (or asked)
  const byHost = new Map<string, Candidate>(); // the IP's candidate
  const peers = new Set<string>();
  const portsOf = new Map<string, number>(); // peer host -> ports taken
  let inflight = 0;
  let queries = 0;
  let answers = 0;
  let finished = false;

  const offer = (c: NodeContact, via: string | undefined): void => {
    if (c.id.equals(p.ownId) || c.port === 0) return;
    if (via !== undefined && !reachableVia(c.host, via)) return;
    const idKey = c.id.toString('hex');
    if (seen.has(key(c)) || seen.has(idKey)) return;
    const sameHost = byHost.get(c.host);
    if (sameHost && sameHost.state !== 'failed') return;
    const net = net24(c.host);
    if (candidates.filter((x) => x.state !== 'failed' && net24(x.contact.host) === net).length >= MAX_PER_NET) return;
    // Farther than every candidate of a full list: never asked, not worth remembering.
    const last = candidates[candidates.length - 1];
    if (candidates.length >= capacity && last && compareDistance(p.target, c.id, last.contact.id) >= 0) return;
    seen.add(key(c));
    seen.add(idKey);
    const candidate: Candidate = { contact: c, state: 'new' };
    byHost.set(c.host, candidate);
    candidates.push(candidate);
    candidates.sort((a, b) => compareDistance(p.target, a.contact.id, b.contact.id));
    if (candidates.length > capacity) candidates = candidates.slice(0, capacity);
  };

  return new Promise((resolve) => {
    const finish = () => {
      if (finished) return;
      finished = true;
      p.signal?.removeEventListener('abort', finish);
      const closest = candidates
        .filter((c) => c.state === 'answered')
        .slice(0, p.k)
        .map((c) => ({ ...c.contact, token: c.token }));
      resolve({ closest, queries, answers, peers: peers.size });
    };
    if (p.signal?.aborted) return finish();
    p.signal?.addEventListener('abort', finish);

    const take = (r: IncomingResponse, from: Endpoint) => {
      answers++;
      for (const n of r.nodes) offer(n, from.host);
      if (p.method === 'get_peers' && r.values.length > 0 && p.onPeers) {
        const fresh = r.values.slice(0, MAX_PEERS_PER_NODE).filter((v) => {
          const k = key(v);
          if (v.port === 0 || peers.has(k) || peers.size >= MAX_PEERS || !reachableVia(v.host, from.host)) return false;
          const ports = portsOf.get(v.host) ?? 0;
          if (ports >= MAX_PORTS_PER_PEER_HOST) return false;
          portsOf.set(v.host, ports + 1);
          peers.add(k);
          return true;
        });
        if (fresh.length > 0) p.onPeers(fresh);
      }
    };

    const send = (to: Endpoint, done: (r: IncomingResponse | undefined) => void) => {
      inflight++;
      queries++;
      p.ask(to).then(
        (r) => {
          inflight--;
          if (!finished) done(r);
          pump();
        },
        () => {
          inflight--;
          if (!finished) done(undefined);
          pump();
        },
      );
    };

    const pump = () => {
      if (finished) return;
      while (inflight < p.alpha && queries < p.maxQueries) {
        // Only the K closest that have not failed are worth asking.
        let next: Candidate | undefined;
        let live = 0;
        for (const c of candidates) {
          if (c.state === 'failed') continue;
          if (++live > p.k) break;
          if (c.state === 'new') {
            next = c;
            break;
          }
        }
        if (!next) break;
        const c = next;
        c.state = 'asked';
        send(c.contact, (r) => {
          // A node that answers with another id than the one it was named by is not that node.
          if (r && r.id.equals(c.contact.id)) {
            c.state = 'answered';
            c.token = r.token;
            take(r, c.contact);
          } else c.state = 'failed';
        });
      }
      if (inflight === 0) finish();
    };

    for (const s of p.seeds) offer(s, undefined);
    for (const router of p.routers.slice(0, p.maxQueries)) {
      seen.add(key(router));
      send(router, (r) => {
        if (!r) return;
        take(r, router);
        // The router becomes a candidate under the id it gave, already answered.
        const idKey = r.id.toString('hex');
        if (!r.id.equals(p.ownId) && !seen.has(idKey)) {
          seen.add(idKey);
          const candidate: Candidate = { contact: { id: r.id, host: router.host, port: router.port }, state: 'answered', token: r.token };
          byHost.set(router.host, candidate);
          candidates.push(candidate);
          candidates.sort((a, b) => compareDistance(p.target, a.contact.id, b.contact.id));
          if (candidates.length > capacity) candidates = candidates.slice(0, capacity);
        }
      });
    }
    pump();
  });
}
