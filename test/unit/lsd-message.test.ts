/**
 * BEP 14 announces: what we build parses back to the same thing, the announces libtorrent and
 * Transmission send (their exact bytes) parse, and anything else a host on the LAN could send is
 * refused with an LsdMessageError and nothing else: garbage, binary, oversized datagrams, header
 * floods, bad or repeated ports, lone CRs and LFs, and random mutations of a good announce.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildAnnounce, LSD_GROUP, LSD_PORT, LsdMessageError, MAX_HEADERS, MAX_MESSAGE_BYTES, parseAnnounce } from '../../src/lsd/message.js';

const H1 = Buffer.from('caa5cd1ded3a8d23945ffe3ac28d0f5c846816a1', 'hex');
const H2 = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');

const text = (s: string) => Buffer.from(s, 'latin1');
/** A well-formed announce with these header lines. */
const announce = (...headers: string[]) => text(`BT-SEARCH * HTTP/1.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);

function refused(b: Buffer): string {
  try {
    parseAnnounce(b);
  } catch (e) {
    expect(e).toBeInstanceOf(LsdMessageError);
    return (e as Error).message;
  }
  throw new Error(`parsed: ${JSON.stringify(b.toString('latin1'))}`);
}

describe('LSD announces', () => {
  it('round trip over each family: Host names the group, the port and every info hash come back, and our cookie', () => {
    for (const family of [4, 6] as const) {
      const b = buildAnnounce({ family, port: 51413, infoHashes: [H1, H2], cookie: 'a1b2c3d4' });
      const t = b.toString('latin1');
      expect(t.startsWith('BT-SEARCH * HTTP/1.1\r\n')).toBe(true);
      expect(t).toContain(`\r\nHost: ${family === 6 ? `[${LSD_GROUP[6]}]` : LSD_GROUP[4]}:${LSD_PORT}\r\n`);
      expect(t.endsWith('\r\ncookie: a1b2c3d4\r\n\r\n\r\n')).toBe(true);
      const a = parseAnnounce(b);
      expect(a).toEqual({ port: 51413, infoHashes: [H1, H2], cookie: 'a1b2c3d4' });
    }
    expect(LSD_GROUP).toEqual({ 4: '239.192.152.143', 6: 'ff15::efc0:988f' });
  });

  it('parses what libtorrent 2.0 and Transmission send, byte for byte', () => {
    // libtorrent's render_lsd_packet: lower-case hex, a hex cookie, one more CRLF after the blank line.
    const lt = text(`BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 6881\r\nInfohash: ${H1.toString('hex')}\r\ncookie: 5c120701\r\n\r\n\r\n`);
    expect(parseAnnounce(lt)).toEqual({ port: 6881, infoHashes: [H1], cookie: '5c120701' });
    // Transmission's tr-lpd: upper-case hex, no cookie.
    const tr = text(`BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: ${H1.toString('hex').toUpperCase()}\r\n\r\n\r\n`);
    expect(parseAnnounce(tr)).toEqual({ port: 51413, infoHashes: [H1] });
  });

  it('takes header names in any case, values with blanks around, and passes over info hashes of another length', () => {
    const a = parseAnnounce(announce('PORT:6881', `infohash:   ${H2.toString('hex')}\t`, 'X-Other: anything', `InfoHash: ${'ab'.repeat(32)}`, `Infohash: ${H2.toString('hex').toUpperCase()}`));
    expect(a).toEqual({ port: 6881, infoHashes: [H2] });
  });

  it('refuses what is not one well-formed announce, saying why', () => {
    const ih = `Infohash: ${H1.toString('hex')}`;
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /no blank line/],
      [text('hello'), /no blank line/],
      [Buffer.concat([announce('Port: 1', ih).subarray(0, 30), Buffer.from([0, 1, 2]), text('\r\n\r\n')]), /not plain ASCII/],
      [text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n${ih}\r\n\r\n`.replace('Port', 'P\u00f6rt')), /not plain ASCII/],
      [announce('Port: 1', ih, 'x'.repeat(MAX_MESSAGE_BYTES)), /over 1400/],
      [text(`BT-SEARCH * HTTP/1.1\nPort: 1\n${ih}\n\n`), /no blank line/],
      [text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n${ih}\r\n\r\nGET / HTTP/1.1\r\n\r\n`), /bytes after the headers/],
      [text(`GET * HTTP/1.1\r\nPort: 1\r\n${ih}\r\n\r\n`), /not a BT-SEARCH/],
      [text(`BT-SEARCH / HTTP/1.1\r\nPort: 1\r\n${ih}\r\n\r\n`), /not a BT-SEARCH/],
      [text(`BT-SEARCH * HTTP/2.0\r\nPort: 1\r\n${ih}\r\n\r\n`), /not a BT-SEARCH/],
      [announce(ih), /no Port/],
      [announce('Port: 6881'), /no Infohash/],
      [announce('Port: 6881', `Infohash: ${H1.toString('hex').slice(1)}`), /no Infohash/],
      [announce('Port: 0', ih), /no port number/],
      [announce('Port: 65536', ih), /no port number/],
      [announce('Port: 6881x', ih), /no port number/],
      [announce('Port: +6881', ih), /no port number/],
      [announce('Port: 000006881', ih), /no port number/],
      [announce('Port: 6881', 'Port: 6881', ih), /more than one Port/],
      [announce('Port: 6881', ih, 'cookie: a', 'cookie: b'), /more than one cookie/],
      [announce('Port: 6881', ih, `cookie: ${'c'.repeat(65)}`), /cookie longer/],
      [announce('Port : 6881', ih), /not "Name: value"/],
      [announce('Port: 6881', ih, 'no colon here'), /not "Name: value"/],
      [announce('Port: 6881', `${ih}\rInfohash: ${H2.toString('hex')}`), /not "Name: value"/],
      [announce('Port: 6881', ih, ...Array.from({ length: MAX_HEADERS }, (_, i) => `X${i}: y`)), /more than 40 headers/],
    ];
    for (const [b, why] of cases) expect(refused(b), JSON.stringify(b.toString('latin1').slice(0, 80))).toMatch(why);
  });

  it('a message of every header it may hold, at the size limit, parses; one byte more does not', () => {
    const hashes = Array.from({ length: 25 }, (_, i) => Buffer.alloc(20, i + 1));
    const full = buildAnnounce({ family: 6, port: 1, infoHashes: hashes, cookie: 'x' });
    expect(full.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    // Line ends after the blank line are allowed (BEP 14 itself shows one more): up to the limit.
    const padded = Buffer.concat([full, Buffer.alloc(MAX_MESSAGE_BYTES - full.length, 0x0a)]);
    expect(parseAnnounce(padded).infoHashes).toHaveLength(25);
    expect(refused(Buffer.concat([padded, text('\n')]))).toMatch(/over 1400/);
    expect(() => buildAnnounce({ family: 6, port: 1, infoHashes: Array.from({ length: 26 }, () => H1), cookie: 'x' })).toThrow(RangeError);
  });

  it('random bytes and random mutations of a good announce give an announce or an LsdMessageError, never anything else', () => {
    const good = buildAnnounce({ family: 4, port: 6881, infoHashes: [H1, H2], cookie: 'c0ffee' });
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = i % 4 === 0 ? randomBytes(i % 1500) : Buffer.from(good);
      if (i % 4 !== 0) for (let k = 0; k <= i % 5; k++) b[(b.length * Math.random()) | 0] = (Math.random() * 256) | 0;
      try {
        const a = parseAnnounce(b);
        parsed++;
        expect(a.port).toBeGreaterThan(0);
        expect(a.port).toBeLessThanOrEqual(65535);
        for (const h of a.infoHashes) expect(h).toHaveLength(20);
      } catch (e) {
        expect(e).toBeInstanceOf(LsdMessageError);
      }
    }
    // Mutations that only touch a value (a hex digit, the cookie) still parse.
    expect(parsed).toBeGreaterThan(100);
  });
});
