import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMagnet, parseMagnet, toMagnet } from '../../src/metainfo/magnet.js';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { InputError } from '../../src/util/errors.js';

// sha1("sixswarm"), and the same 20 bytes in RFC 4648 base32.
const HEX = '5b3d4a9d6cff6adbc05ecea6c614dea4cdecb830';
const B32 = 'LM6UVHLM75VNXQC6Z2TMMFG6UTG6ZOBQ';
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'torrents');

function magnetError(uri: string): string {
  try {
    parseMagnet(uri);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error(`parseMagnet accepted ${uri}`);
}

describe('parseMagnet', () => {
  it('reads a 40-hex infohash in either case', () => {
    for (const hash of [HEX, HEX.toUpperCase()]) {
      const m = parseMagnet(`magnet:?xt=urn:btih:${hash}`);
      expect(m.infoHashHex).toBe(HEX);
      expect(m.infoHash).toEqual(Buffer.from(HEX, 'hex'));
      expect(m).toMatchObject({ trackers: [], peers: [] });
      expect(m.name).toBeUndefined();
    }
  });

  it('reads a 32-digit base32 infohash in either case', () => {
    expect(parseMagnet(`magnet:?xt=urn:btih:${B32}`).infoHashHex).toBe(HEX);
    expect(parseMagnet(`magnet:?xt=urn:BTIH:${B32.toLowerCase()}`).infoHashHex).toBe(HEX);
  });

  it('reads dn, many tr (numbered too, in order, de-duplicated, unusable schemes dropped) and x.pe peers', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&dn=My+File%20%C3%A9.iso` +
        '&tr=udp%3A%2F%2F%5B%3A%3A1%5D%3A6969&tr=http://127.0.0.1:80/announce&tr=wss%3A%2F%2Fwebrtc.example' +
        '&tr.1=https%3A%2F%2Ft.example%2Fa&tr=udp%3A%2F%2F%5B%3A%3A1%5D%3A6969' +
        '&x.pe=192.0.2.7:6881&x.pe=%5B2001:DB8::0001%5D:51413&x.pe=peer.example:1&x.pe=192.0.2.7:6881',
    );
    expect(m.name).toBe('My File é.iso');
    expect(m.trackers).toEqual(['udp://[::1]:6969', 'http://127.0.0.1:80/announce', 'https://t.example/a']);
    expect(m.peers).toEqual([
      { host: '192.0.2.7', port: 6881, family: 4 },
      { host: '2001:db8::1', port: 51413, family: 6 },
      { host: 'peer.example', port: 1 },
    ]);
  });

  it('accepts hybrid magnets (btih and btmh) and numbered xt', () => {
    const btmh = 'urn:btmh:1220' + 'ab'.repeat(32);
    expect(parseMagnet(`magnet:?xt=${btmh}&xt=urn:btih:${HEX}`).infoHashHex).toBe(HEX);
    expect(parseMagnet(`magnet:?xt.1=${btmh}&xt.2=urn:btih:${HEX}`).infoHashV2).toEqual(Buffer.from('ab'.repeat(32), 'hex'));
  });

  it('accepts v2-only magnets (btmh): known by the SHA-256 cut to 20 bytes', () => {
    const m = parseMagnet(`magnet:?xt=urn:btmh:1220${'AB'.repeat(32)}&dn=x`);
    expect(m.infoHashV2).toEqual(Buffer.from('ab'.repeat(32), 'hex'));
    expect(m.infoHashHex).toBe('ab'.repeat(20));
  });

  it.each([
    ['not a magnet', 'http://example/x', 'not a magnet link: it must start with "magnet:?"'],
    ['no xt', 'magnet:?dn=x', 'bad magnet link: it has no "xt=urn:btih:" or "xt=urn:btmh:" infohash'],
    ['btmh not sha2-256', `magnet:?xt=urn:btmh:1120${'ab'.repeat(32)}`, /is not a SHA2-256 multihash \(it must start with 1220\)/],
    ['btmh too short', `magnet:?xt=urn:btmh:1220${'ab'.repeat(31)}`, /is not 32 bytes/],
    ['btmh not hex', `magnet:?xt=urn:btmh:1220${'zz'.repeat(32)}`, /is not a hex multihash/],
    ['two different btmh', `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}&xt.1=urn:btmh:1220${'cd'.repeat(32)}`, /two different v2 infohashes/],
    ['short hex', `magnet:?xt=urn:btih:${HEX.slice(1)}`, /infohash ".*" is neither 40 hex digits nor 32 base32 digits/],
    ['hex with a non-hex digit', `magnet:?xt=urn:btih:${HEX.slice(1)}g`, /neither 40 hex digits/],
    ['bad base32 digit', `magnet:?xt=urn:btih:${B32.slice(1)}1`, /"1" is not a base32 digit/],
    ['two different infohashes', `magnet:?xt=urn:btih:${HEX}&xt.1=urn:btih:${'0'.repeat(40)}`, /two different infohashes/],
    ['peer without port', `magnet:?xt=urn:btih:${HEX}&x.pe=192.0.2.1`, /bad magnet link: bad peer \(x\.pe\) "192\.0\.2\.1": missing port/],
    ['peer with a bad port', `magnet:?xt=urn:btih:${HEX}&x.pe=192.0.2.1:70000`, /port must be 1-65535/],
    ['unbracketed IPv6 peer', `magnet:?xt=urn:btih:${HEX}&x.pe=2001:db8::1:80`, /brackets/],
  ])('%s', (_name, uri, message) => {
    const err = magnetError(uri);
    if (typeof message === 'string') expect(err).toBe(message);
    else expect(err).toMatch(message);
  });

  it('isMagnet', () => {
    expect(isMagnet(`magnet:?xt=urn:btih:${HEX}`)).toBe(true);
    expect(isMagnet('MAGNET:?dn=x')).toBe(true);
    expect(isMagnet('magnet.torrent')).toBe(false);
    expect(isMagnet('./magnet:?x')).toBe(false);
  });
});

describe('toMagnet', () => {
  it('round-trips through parseMagnet and python3-libtorrent with the infohash, name and every tracker', async () => {
    const m = await readTorrentFile(join(FIXTURES, 'mktorrent-multi-private.torrent'));
    const uri = toMagnet(m);
    const back = parseMagnet(uri);
    expect(back.infoHashHex).toBe(m.infoHashHex);
    expect(back.name).toBe(m.name);
    expect(back.trackers).toEqual(m.announce.flat());

    const lt = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        ['-c', 'import sys, json, libtorrent as lt; p = lt.parse_magnet_uri(sys.argv[1]); print(json.dumps([str(p.info_hashes.v1), p.name, p.trackers]))', uri],
        { encoding: 'utf8' },
      ),
    ) as [string, string, string[]];
    expect(lt).toEqual([m.infoHashHex, m.name, m.announce.flat()]);
  });

  it('escapes names so they survive the round trip', async () => {
    const m = await readTorrentFile(join(FIXTURES, 'mktorrent-single.torrent'));
    const uri = toMagnet({ ...m, name: 'a&b=c + d/ü#' });
    expect(parseMagnet(uri).name).toBe('a&b=c + d/ü#');
  });
});
