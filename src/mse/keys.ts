/**
 * What MSE derives from the shared secret S and the stream key SKEY (a torrent's info hash):
 * HASH = SHA-1 over the concatenation of its parts.
 */
import { createHash } from 'node:crypto';
import { createRc4, type Rc4 } from './rc4.js';

function hash(tag: string, ...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1').update(tag, 'latin1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HASH('req1', S): the mark the responder synchronises on after the initiator's padding. */
export function req1(s: Uint8Array): Buffer {
  return hash('req1', s);
}

/** HASH('req2', SKEY): what the responder indexes its torrents by. */
export function req2(skey: Uint8Array): Buffer {
  return hash('req2', skey);
}

/** HASH('req3', S): the mask over HASH('req2', SKEY), so the info hash never crosses in the clear. */
export function req3(s: Uint8Array): Buffer {
  return hash('req3', s);
}

/** HASH('req2', SKEY) xor HASH('req3', S), as the initiator sends it (and the inverse: xor it with req3 again). */
export function xor20(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(20);
  for (let i = 0; i < 20; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** RC4 bytes MSE drops from the start of each keystream (the first ones leak key bits). */
export const RC4_DISCARD = 1024;

/**
 * The two RC4 streams of a connection: the initiator encrypts with HASH('keyA', S, SKEY), the
 * responder with HASH('keyB', S, SKEY); each first 1024 keystream bytes discarded.
 */
export function streamCiphers(s: Uint8Array, skey: Uint8Array, initiator: boolean): { encrypt: Rc4; decrypt: Rc4 } {
  const a = createRc4(hash('keyA', s, skey));
  const b = createRc4(hash('keyB', s, skey));
  const drop = Buffer.alloc(RC4_DISCARD);
  a.xor(drop, drop);
  b.xor(drop, drop);
  return initiator ? { encrypt: a, decrypt: b } : { encrypt: b, decrypt: a };
}
