/**
 * The MSE handshake state machines on their own (no transport): with fixed DH private keys and
 * padding the transcript is exactly the spec's, built here independently (Node's OpenSSL
 * Diffie-Hellman, SHA-1 and RC4); the sync marks are found after a padding of every length
 * 0..512 and refused after 513; PadC and PadD of 0 and 512 pass and 513 is refused.
 */
import { createDiffieHellman, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKey, sharedSecret } from '../../src/mse/dh.js';
import {
  InitiatorHandshake,
  infoHashIndex,
  MseError,
  ResponderHandshake,
  type CryptoMethod,
  type HandshakeOutcome,
  type MseEntropy,
} from '../../src/mse/handshake.js';
import { req1, req2, req3, streamCiphers, xor20 } from '../../src/mse/keys.js';
import { opensslKeystreams } from '../support/openssl-rc4.js';

const PRIME = Buffer.from(
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
  'hex',
);

/** Fixed keys and pads: `pads` are the lengths handed out in order (A: PadA, PadC; B: PadB, PadD). */
function fixedEntropy(privateKey: Buffer, pads: number[], fill: number): MseEntropy {
  const queue = [...pads];
  return {
    privateKey: () => privateKey,
    padLength: () => queue.shift() ?? 0,
    padding: (n) => Buffer.alloc(n, fill),
  };
}

const sha1 = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Left-pad to 96 bytes (OpenSSL drops leading zero bytes). */
const dh96 = (b: Buffer) => Buffer.concat([Buffer.alloc(96 - b.length), b]);

const xorInto = (data: Buffer, ks: Buffer) => Buffer.from(data.map((v, i) => v ^ ks[i]!));

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u32 = (n: number) => Buffer.from([0, 0, 0, n]);

interface Run {
  sent: { a: Buffer[]; b: Buffer[] };
  a: HandshakeOutcome;
  b: HandshakeOutcome;
}

/** Runs both machines against each other, handing bytes over in `chunk`-byte pieces. */
function run(a: InitiatorHandshake, b: ResponderHandshake, chunk = Infinity, trailingFromB = Buffer.alloc(0)): Run {
  const sent = { a: [a.start()], b: [] as Buffer[] };
  let outA: HandshakeOutcome | undefined;
  let outB: HandshakeOutcome | undefined;
  let toB = [sent.a[0]!];
  let toA: Buffer[] = [];
  const pieces = (bufs: Buffer[]) => {
    const all = Buffer.concat(bufs);
    const out: Buffer[] = [];
    for (let o = 0; o < all.length; o += Math.min(chunk, all.length)) out.push(all.subarray(o, o + chunk));
    return out;
  };
  for (let round = 0; round < 10 && !(outA && outB); round++) {
    const nextA: Buffer[] = [];
    for (const p of pieces(toB)) {
      const step = b.feed(p);
      nextA.push(...step.send);
      sent.b.push(...step.send);
      if (step.done) {
        outB = step.done;
        nextA.push(trailingFromB);
      }
    }
    toA = nextA;
    const nextB: Buffer[] = [];
    for (const p of pieces(toA)) {
      if (outA) break;
      const step = a.feed(p);
      nextB.push(...step.send);
      sent.a.push(...step.send);
      if (step.done) outA = step.done;
    }
    toB = nextB;
  }
  if (!outA || !outB) throw new Error('handshake did not finish');
  return { sent, a: outA, b: outB };
}

describe('MSE handshake: fixed vectors', () => {
  for (const select of ['rc4', 'plaintext'] as CryptoMethod[]) {
    it(`known private keys give the spec's transcript (${select} selected)`, async () => {
      const xa = sha1('private key A');
      const xb = sha1('private key B');
      const skey = sha1('the info hash');
      const ia = Buffer.from('initial payload: normally the 68-byte BitTorrent handshake');
      const trailing = Buffer.from('payload B sends right after its step 4');
      const a = new InitiatorHandshake({ infoHash: skey, initialPayload: ia, provide: ['rc4', 'plaintext'], entropy: fixedEntropy(xa, [5, 3], 0xaa) });
      const b = new ResponderHandshake({ findInfoHash: infoHashIndex([sha1('other'), skey]), allowed: [select], entropy: fixedEntropy(xb, [7, 2], 0xbb) });
      const r = run(a, b, Infinity, trailing);

      // Independently: OpenSSL's DH and RC4, SHA-1 over the spec's concatenations.
      const dhA = createDiffieHellman(PRIME, 2);
      dhA.setPrivateKey(xa);
      const ya = dh96(dhA.generateKeys());
      const dhB = createDiffieHellman(PRIME, 2);
      dhB.setPrivateKey(xb);
      const yb = dh96(dhB.generateKeys());
      const s = dh96(dhA.computeSecret(yb));
      expect(dh96(dhB.computeSecret(ya))).toEqual(s);
      const [ksA, ksB] = await opensslKeystreams([
        [sha1('keyA', s, skey), 2048],
        [sha1('keyB', s, skey), 2048],
      ]);
      const streamA = ksA!.subarray(1024);
      const streamB = ksB!.subarray(1024);
      const step3Plain = Buffer.concat([Buffer.alloc(8), u32(0x03), u16(3), Buffer.alloc(3, 0xaa), u16(ia.length), ia]);
      const step4Plain = Buffer.concat([Buffer.alloc(8), u32(select === 'rc4' ? 0x02 : 0x01), u16(2), Buffer.alloc(2, 0xbb)]);
      const obfuscated = Buffer.from(sha1('req2', skey).map((v, i) => v ^ sha1('req3', s)[i]!));

      expect(r.sent.a).toEqual([Buffer.concat([ya, Buffer.alloc(5, 0xaa)]), Buffer.concat([sha1('req1', s), obfuscated, xorInto(step3Plain, streamA)])]);
      expect(r.sent.b).toEqual([Buffer.concat([yb, Buffer.alloc(7, 0xbb)]), xorInto(step4Plain, streamB)]);

      expect(r.a.method).toBe(select);
      expect(r.b.method).toBe(select);
      expect(r.b.infoHash).toEqual(skey);
      // B's view starts with the IA; A's with what B sent after its step 4 (fed here as B wrote it:
      // plaintext if selected, else raw bytes that A decrypts with B's stream past step 4).
      expect(r.b.rest).toEqual(ia);
      const expectedTrailing = select === 'rc4' ? xorInto(trailing, streamB.subarray(step4Plain.length)) : trailing;
      expect(r.a.rest).toEqual(expectedTrailing);
      // The streams continue where the handshake left them: A's next encrypted byte is keystream byte 1024 + len(step 3's encrypted part).
      const next = Buffer.alloc(4);
      r.a.ciphers.encrypt.xor(next, next);
      expect(next).toEqual(streamA.subarray(step3Plain.length, step3Plain.length + 4));
    });
  }

  it('our DH agrees with a fresh OpenSSL object and with BigInt arithmetic on random keys (short ones too), and refuses degenerate public keys', () => {
    const p = BigInt('0x' + PRIME.toString('hex'));
    const big = (b: Buffer) => BigInt('0x' + (b.toString('hex') || '0'));
    const bytes = (n: bigint) => Buffer.from(n.toString(16).padStart(192, '0'), 'hex');
    const modPow = (b: bigint, e: bigint) => {
      let r = 1n;
      for (b %= p; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) r = (r * b) % p;
      return r;
    };
    for (let i = 0; i < 20; i++) {
      const x = randomBytes(20);
      const dh = createDiffieHellman(PRIME, 2);
      dh.setPrivateKey(x);
      expect(publicKey(x)).toEqual(dh96(dh.generateKeys()));
      expect(publicKey(x)).toEqual(bytes(modPow(2n, big(x))));
      // Peer keys with leading zero bytes: the secret is still 96 bytes, and right.
      const peer = i % 2 ? publicKey(randomBytes(20)) : Buffer.concat([Buffer.alloc(1 + (i % 7)), randomBytes(95 - (i % 7))]);
      expect(sharedSecret(x, peer)).toEqual(dh96(dh.computeSecret(peer)));
      expect(sharedSecret(x, peer)).toEqual(bytes(modPow(big(peer), big(x))));
    }
    for (const y of [0n, 1n, p - 1n, p, p + 5n]) {
      const b = bytes(y);
      expect(sharedSecret(randomBytes(20), b.length === 96 ? b : b.subarray(b.length - 96))).toBeUndefined();
    }
    for (const y of [2n, p - 2n]) expect(sharedSecret(randomBytes(20), bytes(y))).toHaveLength(96);
    expect(sharedSecret(randomBytes(20), Buffer.alloc(95, 1))).toBeUndefined();
  });
});

const SKEY = sha1('torrent');
const initiator = (pads: number[], provide: CryptoMethod[] = ['rc4', 'plaintext']) =>
  new InitiatorHandshake({ infoHash: SKEY, initialPayload: Buffer.from('IA'), provide, entropy: fixedEntropy(randomBytes(20), pads, 0x5a) });
const responder = (pads: number[], allowed: CryptoMethod[] = ['rc4', 'plaintext']) =>
  new ResponderHandshake({ findInfoHash: infoHashIndex([SKEY]), allowed, entropy: fixedEntropy(randomBytes(20), pads, 0xa5) });

describe('MSE handshake: sync marks and padding bounds', () => {
  it('finds both sync marks after a padding of every length 0..512', () => {
    for (let pad = 0; pad <= 512; pad++) {
      // PadA = PadB = pad; a few lengths also byte by byte (a mark split across every boundary).
      const r = run(initiator([pad, 0]), responder([pad, 0]), pad % 97 === 0 ? 1 : Infinity);
      expect(r.b.rest.toString(), `pad ${pad}`).toBe('IA');
      expect(r.a.method).toBe('rc4');
    }
  });

  it('takes PadC and PadD of 0 and of 512 bytes', () => {
    for (const pad of [0, 512]) {
      const r = run(initiator([0, pad]), responder([0, pad]), 13);
      expect(r.b.rest.toString()).toBe('IA');
    }
  });

  it('refuses to send a padding over 512 bytes', () => {
    expect(() => initiator([513]).start()).toThrow(RangeError);
  });

  it("refuses a PadA of 513 bytes: HASH('req1', S) outside the window", () => {
    const xa = randomBytes(20);
    const b = responder([0, 0]);
    const yb = b.feed(Buffer.concat([publicKey(xa), Buffer.alloc(513, 1)])).send[0]!.subarray(0, 96);
    const s = sharedSecret(xa, yb)!;
    expect(() => b.feed(req1(s))).toThrow(/no HASH\('req1', S\) within the first 512 bytes/);
  });

  it('refuses a PadB of 513 bytes: ENCRYPT(VC) outside the window', () => {
    const a = initiator([0, 0]);
    const ya = a.start();
    const xb = randomBytes(20);
    a.feed(Buffer.concat([publicKey(xb), Buffer.alloc(513, 2)]));
    const { decrypt } = streamCiphers(sharedSecret(xb, ya)!, SKEY, false);
    const vc = Buffer.alloc(8);
    decrypt.xor(vc, vc); // B's encrypt stream = A's decrypt stream; any 8 bytes: the window is past
    expect(() => a.feed(vc)).toThrow(/no verification constant within the first 512 bytes/);
  });

  /** A correct step 3 by hand, with the crypto_provide, len(PadC), VC and SKEY given. */
  function step3(s: Buffer, o: { skey?: Buffer; vc?: Buffer; provide?: number; padC?: number; ia?: Buffer }): Buffer {
    const skey = o.skey ?? SKEY;
    const { encrypt } = streamCiphers(s, skey, true);
    const ia = o.ia ?? Buffer.alloc(0);
    const padC = o.padC ?? 0;
    const body = Buffer.concat([o.vc ?? Buffer.alloc(8), u32(o.provide ?? 0x02), u16(padC), Buffer.alloc(Math.min(padC, 600)), u16(ia.length), ia]);
    encrypt.xor(body, body);
    return Buffer.concat([req1(s), xor20(req2(skey), req3(s)), body]);
  }

  /** Feeds a responder our Ya; returns S and the responder. */
  function openResponder(allowed: CryptoMethod[] = ['rc4', 'plaintext']): { s: Buffer; b: ResponderHandshake } {
    const xa = randomBytes(20);
    const b = responder([0, 0], allowed);
    const yb = b.feed(publicKey(xa)).send[0]!.subarray(0, 96);
    return { s: sharedSecret(xa, yb)!, b };
  }

  it('refuses a PadC of 513 bytes, a wrong verification constant, an unknown info hash, no common crypto', () => {
    let r = openResponder();
    expect(() => r.b.feed(step3(r.s, { padC: 513 }))).toThrow(/PadC of 513 bytes exceeds 512/);
    r = openResponder();
    expect(() => r.b.feed(step3(r.s, { vc: Buffer.from('0100000000000000', 'hex') }))).toThrow(/wrong verification constant/);
    r = openResponder();
    expect(() => r.b.feed(step3(r.s, { skey: sha1('not ours') }))).toThrow(/torrent we do not have/);
    r = openResponder(['rc4']);
    expect(() => r.b.feed(step3(r.s, { provide: 0x01 }))).toThrow(/none of which we allow/);
    r = openResponder();
    expect(() => r.b.feed(step3(r.s, { provide: 0 }))).toThrow(MseError);
  });

  /** A responder's steps 2 and 4 by hand. */
  function replyTo(ya: Buffer, o: { select?: number; padD?: number }): Buffer {
    const xb = randomBytes(20);
    const s = sharedSecret(xb, ya)!;
    const { encrypt } = streamCiphers(s, SKEY, false);
    const padD = o.padD ?? 0;
    const body = Buffer.concat([Buffer.alloc(8), u32(o.select ?? 0x02), u16(padD), Buffer.alloc(Math.min(padD, 600))]);
    encrypt.xor(body, body);
    return Buffer.concat([publicKey(xb), body]);
  }

  it('refuses a PadD of 513 bytes and a crypto_select we did not offer, or more than one', () => {
    let a = initiator([0, 0]);
    expect(() => a.feed(replyTo(a.start(), { padD: 513 }))).toThrow(/PadD of 513 bytes exceeds 512/);
    a = initiator([0, 0], ['rc4']);
    expect(() => a.feed(replyTo(a.start(), { select: 0x01 }))).toThrow(/not one of the offered 0x2/);
    a = initiator([0, 0]);
    expect(() => a.feed(replyTo(a.start(), { select: 0x03 }))).toThrow(/selected crypto 0x3/);
    a = initiator([0, 0]);
    expect(a.feed(replyTo(a.start(), { padD: 512 })).done?.method).toBe('rc4');
  });
});
