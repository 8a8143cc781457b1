/**
 * BEP 11 `ut_pex` messages: what we send, and a bounded decode of what a partner sends in which
 * every address is checked before anything else sees it. Written here rather than taken from npm
 * `ut_pex` 5.0.2, which caps nothing, checks no address family and throws inside a timer (see
 * shared/notes/ecosystem-findings.md).
 */
import { BDict, decode, encode, type BValue } from '../../bencode/index.js';
import { classify, isExchangeable, type Family } from '../../net/address.js';
import { COMPACT_SIZE, decodeCompactPeers, encodeCompactPeer, type PeerAddress } from '../../net/compact.js';
import { ProtocolError } from '../../wire/frame-decoder.js';

/** `added.f` / `added6.f` bits. We set `utp` for peers that speak it, `holepunch` for peers that offered ut_holepunch (BEP 55). */
export const PEX_FLAGS = { encryption: 0x01, seed: 0x02, utp: 0x04, holepunch: 0x08, reachable: 0x10 } as const;

export interface PexPeer extends PeerAddress {
  flags: number;
}

/** The largest PEX message we read (libtorrent's limit too); well-behaved ones are a few KiB. */
export const MAX_PEX_BYTES = 512 * 1024;

/** Why an entry was refused. */
export type FilterReason =
  | 'wrong-family' // IPv6 entries in `added`, IPv4 (or v4-mapped) ones in `added6`
  | 'malformed' // a field whose length fits no entry size
  | 'unusable' // unspecified, multicast, link-local, reserved or documentation
  | 'loopback' // from a partner that is not on loopback itself
  | 'foreign-scope' // a private, CGNAT or unique-local address from a partner on the Internet
  | 'port-0'
  | 'self'
  | 'duplicate'
  | 'added-and-dropped';

/**
 * Where the partner's own connection comes from, which decides the scopes it may speak for: a
 * loopback partner runs on this host (its loopback and LAN are ours), a partner on our LAN may
 * name private and unique-local addresses, one on the Internet only global ones (a stranger must
 * not point us at the user's LAN).
 */
export type PartnerScope = 'loopback' | 'local' | 'global';

export function partnerScope(host: string): PartnerScope {
  const kind = classify(host)?.kind;
  return kind === 'loopback' ? 'loopback' : kind === 'private' || kind === 'ula' || kind === 'link-local' ? 'local' : 'global';
}

export interface DecodeRules {
  partner: PartnerScope;
  isSelf(host: string, port: number): boolean;
  /** Entries looked at over all fields; the rest are only counted, in `unread`. */
  maxEntries: number;
}

export interface DecodedPex {
  /** Valid, distinct, in message order (IPv4 first). */
  added: PexPeer[];
  dropped: PeerAddress[];
  filtered: Partial<Record<FilterReason, number>>;
  /** Entries past `maxEntries`, never decoded. */
  unread: number;
}

/** The message for `added` (with flags) and `dropped`, split by family; every key present, as libtorrent sends them. */
export function encodePex(added: readonly PexPeer[], dropped: readonly PeerAddress[]): Buffer {
  const blob = (list: readonly PeerAddress[], family: Family) => Buffer.concat(list.filter((p) => p.family === family).map(encodeCompactPeer));
  const flags = (family: Family) => Buffer.from(added.filter((p) => p.family === family).map((p) => p.flags & 0xff));
  return encode({
    added: blob(added, 4),
    'added.f': flags(4),
    added6: blob(added, 6),
    'added6.f': flags(6),
    dropped: blob(dropped, 4),
    dropped6: blob(dropped, 6),
  });
}

/** Broken bencode, a message that is not a dictionary or a field of the wrong type is a ProtocolError; bad entries are counted. */
export function decodePex(payload: Buffer, rules: DecodeRules): DecodedPex {
  if (payload.length > MAX_PEX_BYTES) throw new ProtocolError(`PEX message of ${payload.length} bytes (at most ${MAX_PEX_BYTES})`);
  let v: BValue;
  try {
    v = decode(payload, { maxDepth: 4, maxItems: 256 });
  } catch (e) {
    throw new ProtocolError(`bad PEX message: ${(e as Error).message}`);
  }
  if (!(v instanceof BDict)) throw new ProtocolError('PEX message is not a dictionary');
  const d = v;
  const field = (key: string): Buffer | undefined => {
    const f = d.get(key);
    if (f !== undefined && !Buffer.isBuffer(f)) throw new ProtocolError(`PEX "${key}" is not a string`);
    return f;
  };
  const out: DecodedPex = { added: [], dropped: [], filtered: {}, unread: 0 };
  const filter = (reason: FilterReason, n = 1) => {
    if (n > 0) out.filtered[reason] = (out.filtered[reason] ?? 0) + n;
  };
  let budget = rules.maxEntries;

  /** Up to `budget` entries of one field, or none when the field holds the other family or no whole entries. */
  const entries = (key: string, family: Family, flags?: Buffer): { peers: PeerAddress[]; flags?: Buffer } => {
    const blob = field(key);
    if (!blob || blob.length === 0) return { peers: [] };
    const size = COMPACT_SIZE[family];
    const otherSize = COMPACT_SIZE[family === 4 ? 6 : 4];
    if (blob.length % size !== 0) {
      if (blob.length % otherSize === 0) filter('wrong-family', blob.length / otherSize);
      else filter('malformed', Math.ceil(blob.length / size));
      return { peers: [] };
    }
    const n = blob.length / size;
    // 18-byte entries also tile an IPv4 field (and 6-byte ones an IPv6 field when 3 share one):
    // the flags, one byte per entry, tell which size the sender meant.
    if (flags && flags.length !== n && flags.length * otherSize === blob.length) {
      filter('wrong-family', flags.length);
      return { peers: [] };
    }
    const take = Math.min(n, budget);
    budget -= take;
    out.unread += n - take;
    return { peers: decodeCompactPeers(blob, family, take), flags: flags?.length === n ? flags : undefined };
  };

  const usable = (p: PeerAddress): FilterReason | undefined => {
    if (p.port === 0) return 'port-0';
    const kind = classify(p.host)?.kind;
    if (!isExchangeable(p.host, rules.partner === 'loopback')) return kind === 'v4-mapped' ? 'wrong-family' : kind === 'loopback' ? 'loopback' : 'unusable';
    if ((kind === 'private' || kind === 'ula') && rules.partner === 'global') return 'foreign-scope';
    return rules.isSelf(p.host, p.port) ? 'self' : undefined;
  };
  const key = (p: PeerAddress) => `${p.host}|${p.port}`;

  // Dropped first: an entry in both lists contradicts itself (BEP 11) and is taken from neither.
  const droppedKeys = new Set<string>();
  for (const [k, family] of [['dropped', 4], ['dropped6', 6]] as const) {
    for (const p of entries(k, family).peers) {
      if (usable(p) || droppedKeys.has(key(p))) continue; // a dropped entry is only ever compared against
      droppedKeys.add(key(p));
      out.dropped.push(p);
    }
  }
  const seen = new Set<string>();
  for (const [k, family] of [['added', 4], ['added6', 6]] as const) {
    const { peers, flags } = entries(k, family, field(`${k}.f`));
    peers.forEach((p, i) => {
      const why = usable(p) ?? (seen.has(key(p)) ? 'duplicate' : droppedKeys.has(key(p)) ? 'added-and-dropped' : undefined);
      if (why) return filter(why);
      seen.add(key(p));
      out.added.push({ ...p, flags: flags?.[i] ?? 0 });
    });
  }
  return out;
}

/** Total of the filter counts. */
export function filteredCount(f: Partial<Record<FilterReason, number>>): number {
  let n = 0;
  for (const v of Object.values(f)) n += v;
  return n;
}
