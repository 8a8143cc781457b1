/**
 * The two sides of the MSE handshake as state machines over bytes (no sockets, no timers: the
 * transport in mse-transport.ts drives them). Vuze wiki spec, as libtorrent and Transmission
 * speak it:
 *
 *   1 A->B: Ya, PadA
 *   2 B->A: Yb, PadB
 *   3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *           ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 *   5 A->B: ENCRYPT2(payload)
 *
 * Every length is bounded: pads are at most 512 bytes, so each side finds the other's sync mark
 * (B: HASH('req1', S); A: ENCRYPT(VC)) within 512 bytes after the 96-byte key or gives up, and
 * len(IA) is a 16-bit field: the initiator reads at most 96 + 512 + 8 + 6 + 512 = 1134 handshake
 * bytes, the responder at most 96 + 512 + 20 + 20 + 14 + 512 + 2 + 65535 (the IA, 68 in practice).
 * A machine throws MseError on any rule break; the caller closes.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { DH_BYTES, PRIVATE_KEY_BYTES, publicKey, sharedSecret } from './dh.js';
import { req1, req2, req3, streamCiphers, xor20 } from './keys.js';
import type { Rc4 } from './rc4.js';

export type CryptoMethod = 'plaintext' | 'rc4';

const METHOD_BITS: Record<CryptoMethod, number> = { plaintext: 0x01, rc4: 0x02 };

/** Encodes a list of methods as the crypto_provide bitfield. */
export function cryptoBits(methods: readonly CryptoMethod[]): number {
  return methods.reduce((bits, m) => bits | METHOD_BITS[m], 0);
}

/** Longest padding (PadA..PadD) either side may send. */
export const MAX_PAD = 512;
/** Longest initial payload: len(IA) is a 16-bit field. */
export const MAX_IA = 0xffff;
const VC_BYTES = 8;
const HASH_BYTES = 20;

export class MseError extends Error {
  constructor(
    message: string,
    /**
     * The peer answered in MSE (its sync mark arrived and checked out), so a failure is not a
     * peer that only speaks plaintext: retrying in plaintext would not help.
     */
    readonly peerSpokeMse = false,
    /** Our `--encryption` policy refused what the peer offered (not a fault of the connection). */
    readonly refusedByPolicy = false,
  ) {
    super(message);
    this.name = 'MseError';
  }
}

/** Where keys and padding come from (injectable: fixed keys give fixed transcripts in tests). */
export interface MseEntropy {
  /** A fresh DH private key (at least 16 bytes; 20 here). */
  privateKey(): Buffer;
  /** Length of the next padding, 0..512. */
  padLength(): number;
  padding(length: number): Buffer;
}

export const secureEntropy: MseEntropy = {
  privateKey: () => randomBytes(PRIVATE_KEY_BYTES),
  padLength: () => randomInt(MAX_PAD + 1),
  padding: (length) => randomBytes(length),
};

/** What a finished handshake hands on. */
export interface HandshakeOutcome {
  method: CryptoMethod;
  /** SKEY: the info hash the connection is for. */
  infoHash: Buffer;
  /** The streams, continued where the handshake left them; used by the payload only if method is rc4. */
  ciphers: { encrypt: Rc4; decrypt: Rc4 };
  /**
   * The payload bytes that came with the handshake, already decrypted (ours to keep): on the
   * responder's side the initial payload first, then whatever followed it.
   */
  rest: Buffer;
}

/** What one call of `feed` asks for: bytes to send now, and the outcome once the handshake is done. */
export interface HandshakeStep {
  send: Buffer[];
  done?: HandshakeOutcome;
}

/**
 * The bytes received and not yet consumed (copied in: a transient chunk may be fed). Chunks are
 * joined only when a step can take its bytes, so an initial payload of 64 KiB trickled in byte
 * by byte is copied a few times, not once per byte (which was 2 GiB of copying).
 */
class Inbox {
  private parts: Buffer[] = [];
  private held = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.parts.push(Buffer.from(chunk));
    this.held += chunk.length;
  }

  get length(): number {
    return this.held;
  }

  /** Everything held, as one buffer (ours). */
  private joined(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts, this.held)];
    return this.parts[0]!;
  }

  /** The next `n` bytes (a view of our own copy), or undefined until that many arrived. */
  take(n: number): Buffer | undefined {
    if (this.held < n) return undefined;
    const all = this.joined();
    this.parts = [all.subarray(n)];
    this.held -= n;
    return all.subarray(0, n);
  }

  /**
   * Skip to just past `mark`, which must start within `window` bytes from here. True once found;
   * false while it may still come; throws when the window is past.
   */
  skipPast(mark: Buffer, window: number, what: string): boolean {
    const all = this.joined();
    const at = all.subarray(0, window + mark.length).indexOf(mark);
    if (at >= 0) {
      this.parts = [all.subarray(at + mark.length)];
      this.held -= at + mark.length;
      return true;
    }
    if (this.held >= window + mark.length) throw new MseError(`no ${what} within the first ${window} bytes of padding`);
    return false;
  }

  /** Everything left (ours). */
  rest(): Buffer {
    const out = this.joined();
    this.parts = [];
    this.held = 0;
    return out;
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function padOf(entropy: MseEntropy): Buffer {
  const n = entropy.padLength();
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAD) throw new RangeError(`MSE padding of ${n} bytes (0..${MAX_PAD} allowed)`);
  return entropy.padding(n);
}

/** ENCRYPT(parts...) in order, continuing `cipher`'s stream. */
function encrypt(cipher: Rc4, parts: Buffer[]): Buffer {
  const b = Buffer.concat(parts);
  cipher.xor(b, b);
  return b;
}

function singleMethod(bits: number): CryptoMethod | undefined {
  if (bits === METHOD_BITS.rc4) return 'rc4';
  if (bits === METHOD_BITS.plaintext) return 'plaintext';
  return undefined;
}

/** The payload after the handshake: decrypted (in our own copy) when RC4 was chosen. */
function payload(method: CryptoMethod, decrypt: Rc4, b: Buffer): Buffer {
  if (method === 'rc4') decrypt.xor(b, b);
  return b;
}

export interface InitiatorOptions {
  /** SKEY: the info hash of the torrent we dial for. */
  infoHash: Buffer;
  /** The initial payload IA, sent with step 3: normally our 68-byte BitTorrent handshake. */
  initialPayload?: Buffer;
  /** What we accept (crypto_provide); the responder picks one. */
  provide: readonly CryptoMethod[];
  entropy?: MseEntropy;
}

/** Side A: we dialed. */
export class InitiatorHandshake {
  private readonly inbox = new Inbox();
  private readonly entropy: MseEntropy;
  private readonly privateKey: Buffer;
  private state: 'yb' | 'vc' | 'select' | 'padD' | 'done' = 'yb';
  private ciphers?: { encrypt: Rc4; decrypt: Rc4 };
  private vc?: Buffer;
  private method: CryptoMethod = 'rc4';
  private padD = 0;

  constructor(private readonly opts: InitiatorOptions) {
    if (opts.infoHash.length !== HASH_BYTES) throw new RangeError('an MSE stream key (info hash) has 20 bytes');
    if ((opts.initialPayload?.length ?? 0) > MAX_IA) throw new RangeError(`an initial payload of at most ${MAX_IA} bytes`);
    if (cryptoBits(opts.provide) === 0) throw new RangeError('provide at least one crypto method');
    this.entropy = opts.entropy ?? secureEntropy;
    this.privateKey = this.entropy.privateKey();
  }

  /** Whether the peer's ENCRYPT(VC) arrived: it speaks MSE and has the torrent. */
  get peerSpokeMse(): boolean {
    return this.state !== 'yb' && this.state !== 'vc';
  }

  /** Step 1: Ya, PadA. */
  start(): Buffer {
    return Buffer.concat([publicKey(this.privateKey), padOf(this.entropy)]);
  }

  feed(chunk: Buffer): HandshakeStep {
    this.inbox.push(chunk);
    const send: Buffer[] = [];
    for (;;) {
      switch (this.state) {
        case 'yb': {
          const yb = this.inbox.take(DH_BYTES);
          if (!yb) return { send };
          send.push(this.step3(yb));
          this.state = 'vc';
          break;
        }
        case 'vc':
          if (!this.inbox.skipPast(this.vc!, MAX_PAD, 'verification constant')) return { send };
          this.state = 'select';
          break;
        case 'select': {
          const b = this.inbox.take(4 + 2);
          if (!b) return { send };
          this.ciphers!.decrypt.xor(b, b);
          const bits = b.readUInt32BE(0);
          const method = singleMethod(bits);
          if (!method || (cryptoBits(this.opts.provide) & bits) === 0) {
            throw new MseError(`peer selected crypto 0x${bits.toString(16)}, not one of the offered 0x${cryptoBits(this.opts.provide).toString(16)}`, true);
          }
          this.method = method;
          this.padD = b.readUInt16BE(4);
          if (this.padD > MAX_PAD) throw new MseError(`peer's PadD of ${this.padD} bytes exceeds ${MAX_PAD}`, true);
          this.state = 'padD';
          break;
        }
        case 'padD': {
          const pad = this.inbox.take(this.padD);
          if (!pad) return { send };
          this.ciphers!.decrypt.xor(pad, pad);
          this.state = 'done';
          const { decrypt } = this.ciphers!;
          return {
            send,
            done: { method: this.method, infoHash: this.opts.infoHash, ciphers: this.ciphers!, rest: payload(this.method, decrypt, this.inbox.rest()) },
          };
        }
        case 'done':
          throw new Error('MSE handshake fed after it finished');
      }
    }
  }

  /** Step 3, once Yb is known; also prepares ENCRYPT(VC), the mark step 4 starts with. */
  private step3(yb: Buffer): Buffer {
    const s = sharedSecret(this.privateKey, yb);
    if (!s) throw new MseError('peer sent an invalid Diffie-Hellman key');
    const skey = this.opts.infoHash;
    this.ciphers = streamCiphers(s, skey, true);
    this.vc = Buffer.alloc(VC_BYTES);
    this.ciphers.decrypt.xor(this.vc, this.vc);
    const ia = this.opts.initialPayload ?? Buffer.alloc(0);
    const padC = padOf(this.entropy);
    return Buffer.concat([
      req1(s),
      xor20(req2(skey), req3(s)),
      encrypt(this.ciphers.encrypt, [Buffer.alloc(VC_BYTES), u32(cryptoBits(this.opts.provide)), u16(padC.length), padC, u16(ia.length), ia]),
    ]);
  }
}

export interface ResponderOptions {
  /** The info hash whose HASH('req2', info hash) this is, if we have that torrent. See `infoHashIndex`. */
  findInfoHash: (req2Hash: Buffer) => Buffer | undefined;
  /** What we accept, most wanted first; the first one the initiator provides is selected. */
  allowed: readonly CryptoMethod[];
  entropy?: MseEntropy;
  /**
   * Asked once Ya is in, before the Diffie-Hellman work it costs: false refuses the peer
   * without doing any (a budget for what anyone can make us compute with 96 random bytes).
   */
  mayComputeDh?: () => boolean;
}

/** Info hashes by HASH('req2', info hash): what `findInfoHash` looks in, as torrents are added. */
export class Req2Index {
  private readonly byReq2 = new Map<string, Buffer>();

  add(infoHash: Buffer): void {
    this.byReq2.set(req2(infoHash).toString('hex'), infoHash);
  }

  find(req2Hash: Buffer): Buffer | undefined {
    return this.byReq2.get(req2Hash.toString('hex'));
  }
}

/** A lookup for `findInfoHash` over a fixed set of info hashes. */
export function infoHashIndex(infoHashes: Iterable<Buffer>): (req2Hash: Buffer) => Buffer | undefined {
  const index = new Req2Index();
  for (const h of infoHashes) index.add(h);
  return (r) => index.find(r);
}

/** Side B: the peer dialed us. */
export class ResponderHandshake {
  private readonly inbox = new Inbox();
  private readonly entropy: MseEntropy;
  private state: 'ya' | 'req1' | 'skey' | 'vc' | 'padC' | 'ia' | 'done' = 'ya';
  private s?: Buffer;
  private mark?: Buffer;
  private infoHash?: Buffer;
  private ciphers?: { encrypt: Rc4; decrypt: Rc4 };
  private method: CryptoMethod = 'rc4';
  private padC = 0;
  private ia = 0;

  constructor(private readonly opts: ResponderOptions) {
    if (cryptoBits(opts.allowed) === 0) throw new RangeError('allow at least one crypto method');
    this.entropy = opts.entropy ?? secureEntropy;
  }

  /** Whether the peer's HASH('req1', S) arrived: it speaks MSE. */
  get peerSpokeMse(): boolean {
    return this.state !== 'ya' && this.state !== 'req1';
  }

  feed(chunk: Buffer): HandshakeStep {
    this.inbox.push(chunk);
    const send: Buffer[] = [];
    for (;;) {
      switch (this.state) {
        case 'ya': {
          const ya = this.inbox.take(DH_BYTES);
          if (!ya) return { send };
          if (this.opts.mayComputeDh?.() === false) throw new MseError('too many encrypted handshakes arrive at once: refused before the key exchange');
          const x = this.entropy.privateKey();
          this.s = sharedSecret(x, ya);
          if (!this.s) throw new MseError('peer sent an invalid Diffie-Hellman key');
          this.mark = req1(this.s);
          send.push(Buffer.concat([publicKey(x), padOf(this.entropy)]));
          this.state = 'req1';
          break;
        }
        case 'req1':
          if (!this.inbox.skipPast(this.mark!, MAX_PAD, "HASH('req1', S)")) return { send };
          this.state = 'skey';
          break;
        case 'skey': {
          const b = this.inbox.take(HASH_BYTES);
          if (!b) return { send };
          this.infoHash = this.opts.findInfoHash(xor20(b, req3(this.s!)));
          if (!this.infoHash) throw new MseError('peer asked for a torrent we do not have (no info hash matches its stream key)', true);
          this.ciphers = streamCiphers(this.s!, this.infoHash, false);
          this.state = 'vc';
          break;
        }
        case 'vc': {
          const b = this.inbox.take(VC_BYTES + 4 + 2);
          if (!b) return { send };
          this.ciphers!.decrypt.xor(b, b);
          if (!b.subarray(0, VC_BYTES).equals(Buffer.alloc(VC_BYTES))) throw new MseError('wrong verification constant', true);
          const provided = b.readUInt32BE(VC_BYTES);
          const method = this.opts.allowed.find((m) => (provided & METHOD_BITS[m]) !== 0);
          if (!method) throw new MseError(`peer provides crypto 0x${provided.toString(16)}, none of which we allow`, true);
          this.method = method;
          this.padC = b.readUInt16BE(VC_BYTES + 4);
          if (this.padC > MAX_PAD) throw new MseError(`peer's PadC of ${this.padC} bytes exceeds ${MAX_PAD}`, true);
          const padD = padOf(this.entropy);
          send.push(encrypt(this.ciphers!.encrypt, [Buffer.alloc(VC_BYTES), u32(METHOD_BITS[method]), u16(padD.length), padD]));
          this.state = 'padC';
          break;
        }
        case 'padC': {
          const b = this.inbox.take(this.padC + 2);
          if (!b) return { send };
          this.ciphers!.decrypt.xor(b, b);
          this.ia = b.readUInt16BE(this.padC);
          this.state = 'ia';
          break;
        }
        case 'ia': {
          const ia = this.inbox.take(this.ia);
          if (!ia) return { send };
          const { decrypt } = this.ciphers!;
          // IA is always RC4 (A did not know the selection when it sent it); what follows is per method.
          decrypt.xor(ia, ia);
          const rest = payload(this.method, decrypt, this.inbox.rest());
          this.state = 'done';
          return { send, done: { method: this.method, infoHash: this.infoHash!, ciphers: this.ciphers!, rest: Buffer.concat([ia, rest]) } };
        }
        case 'done':
          throw new Error('MSE handshake fed after it finished');
      }
    }
  }
}
