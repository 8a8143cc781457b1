/** Magnet links (BEP 9): parsing with clear errors, and building one for a parsed torrent. */
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
  let sawV2 = false;
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
        sawV2 = true;
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

  if (!infoHash) {
    if (sawV2) throw new InputError('v2-only magnet not supported: it has a "urn:btmh:" hash but no v1 "urn:btih:" infohash');
    throw new InputError('bad magnet link: it has no "xt=urn:btih:" infohash');
  }
  const magnet: MagnetLink = { infoHash, infoHashHex: infoHash.toString('hex'), trackers: [...trackers], peers };
  if (name !== undefined && name !== '') magnet.name = name;
  if (webSeeds.size > 0) magnet.webSeeds = [...webSeeds];
  return magnet;
}

/** xt, dn, every tracker tier flattened in order, the BEP 19 web seeds (ws), and any peers (x.pe): what `info` prints and clients accept. */
export function toMagnet(m: Metainfo, peers: { host: string; port: number }[] = []): string {
  const parts = [`xt=urn:btih:${m.infoHashHex}`, `dn=${encodeURIComponent(m.name)}`];
  for (const url of m.announce.flat()) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of m.urlList) parts.push(`ws=${encodeURIComponent(url)}`);
  for (const p of peers) parts.push(`x.pe=${encodeURIComponent(formatHostPort(p.host, p.port))}`);
  return `magnet:?${parts.join('&')}`;
}
