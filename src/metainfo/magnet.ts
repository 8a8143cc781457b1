/**
 * Magnet links (BEP 9, and BEP 52's `urn:btmh:` for v2 info hashes): parsing with clear errors,
 * and building one for a parsed torrent.
 */
import { formatHostPort, parseHostPort } from '../net/hostport.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { MagnetLink, Metainfo } from './types.js';
import { isTrackerUrl, isWebSeedUrl } from './urls.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function isMagnet(s: string): boolean {
  return /^magnet:\?/i.test(s);
}

function decodeBase32(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of text.toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new InputError(`bad magnet link: "${ch}" is not a base32 digit in the infohash`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function btih(value: string): Buffer {
  const hash = value.slice('urn:btih:'.length);
  if (/^[0-9a-fA-F]{40}$/.test(hash)) return Buffer.from(hash, 'hex');
  if (hash.length === 32) return decodeBase32(hash);
  throw new InputError(`bad magnet link: infohash "${hash}" is neither 40 hex digits nor 32 base32 digits`);
}

/** BEP 52: a multihash in hex, SHA2-256 (code 0x12) of 32 bytes (0x20): "1220" and 64 hex digits. */
function btmh(value: string): Buffer {
  const hash = value.slice('urn:btmh:'.length);
  if (!/^[0-9a-fA-F]+$/.test(hash) || hash.length % 2 !== 0) throw new InputError(`bad magnet link: v2 infohash "${hash}" is not a hex multihash`);
  if (!/^1220/.test(hash)) throw new InputError(`bad magnet link: v2 infohash "${hash}" is not a SHA2-256 multihash (it must start with 1220)`);
  if (hash.length !== 4 + 64) throw new InputError(`bad magnet link: v2 infohash "${hash}" is not 32 bytes (1220 and 64 hex digits)`);
  return Buffer.from(hash.slice(4), 'hex');
}

/** BEP 9 allows numbered forms (xt.1, tr.2) beside the plain parameter names. */
const named = (key: string, name: string): boolean =>
  key === name || (key.startsWith(`${name}.`) && /^\d+$/.test(key.slice(name.length + 1)));

export function parseMagnet(uri: string): MagnetLink {
  if (!isMagnet(uri)) throw new InputError('not a magnet link: it must start with "magnet:?"');
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(uri.slice('magnet:?'.length));
  } catch (e) {
    throw new InputError(`bad magnet link: ${errorMessage(e)}`);
  }
  let infoHash: Buffer | undefined;
  let infoHashV2: Buffer | undefined;
  let name: string | undefined;
  // Sets keep insertion order; looking each one up in a list made a link of n trackers cost n^2.
  const trackers = new Set<string>();
  const webSeeds = new Set<string>();
  const peers: MagnetLink['peers'] = [];
  const peerKeys = new Set<string>();

  for (const [key, value] of params) {
    if (named(key, 'xt')) {
      const lower = value.toLowerCase();
      if (lower.startsWith('urn:btih:')) {
        const hash = btih(value);
        if (infoHash && !infoHash.equals(hash)) throw new InputError('bad magnet link: it names two different infohashes');
        infoHash = hash;
      } else if (lower.startsWith('urn:btmh:')) {
        const hash = btmh(value);
        if (infoHashV2 && !infoHashV2.equals(hash)) throw new InputError('bad magnet link: it names two different v2 infohashes');
        infoHashV2 = hash;
      }
    } else if (key === 'dn') {
      name = value;
    } else if (named(key, 'tr')) {
      // Other schemes (wss:// WebRTC trackers) are legal in magnets but nothing sixswarm can announce to.
      if (isTrackerUrl(value)) trackers.add(value);
    } else if (named(key, 'ws')) {
      if (isWebSeedUrl(value)) webSeeds.add(value);
    } else if (key === 'x.pe') {
      let peer;
      try {
        peer = parseHostPort(value, 'peer (x.pe)');
      } catch (e) {
        throw new InputError(`bad magnet link: ${errorMessage(e)}`);
      }
      const id = `${peer.host}|${peer.port}`;
      if (!peerKeys.has(id)) {
        peerKeys.add(id);
        peers.push(peer.family ? { host: peer.host, port: peer.port, family: peer.family } : { host: peer.host, port: peer.port });
      }
    }
  }

  // A v2-only torrent is known by its SHA-256 cut to 20 bytes (see Metainfo.infoHash).
  infoHash ??= infoHashV2?.subarray(0, 20);
  if (!infoHash) throw new InputError('bad magnet link: it has no "xt=urn:btih:" or "xt=urn:btmh:" infohash');
  const magnet: MagnetLink = { infoHash, infoHashHex: infoHash.toString('hex'), ...(infoHashV2 ? { infoHashV2 } : {}), trackers: [...trackers], peers };
  if (name !== undefined && name !== '') magnet.name = name;
  if (webSeeds.size > 0) magnet.webSeeds = [...webSeeds];
  return magnet;
}

/**
 * xt (btih for v1, btmh for v2, both for a hybrid), dn, every tracker tier flattened in order,
 * the BEP 19 web seeds (ws), and any peers (x.pe): what `info` prints and clients accept.
 */
export function toMagnet(m: Metainfo, peers: { host: string; port: number }[] = []): string {
  const parts = [
    ...(m.v1 ? [`xt=urn:btih:${m.infoHashHex}`] : []),
    ...(m.infoHashV2 ? [`xt=urn:btmh:1220${m.infoHashV2.toString('hex')}`] : []),
    `dn=${encodeURIComponent(m.name)}`,
  ];
  for (const url of m.announce.flat()) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of m.urlList) parts.push(`ws=${encodeURIComponent(url)}`);
  for (const p of peers) parts.push(`x.pe=${encodeURIComponent(formatHostPort(p.host, p.port))}`);
  return `magnet:?${parts.join('&')}`;
}
