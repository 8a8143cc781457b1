/**
 * The MSE layer between two transports in memory (test/support/memory-transport.ts): initiator
 * and responder agree on RC4 or plaintext, whole writes or one byte at a time, chunks handed over
 * as transient (overwritten after each delivery) or kept; what crosses the wire never shows the
 * payload when RC4 is selected, and the bytes each side reads are exactly what the other wrote.
 * Incoming connections are told apart by their first bytes.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { infoHashIndex, MseError, type CryptoMethod } from '../../src/mse/handshake.js';
import { acceptIncoming, initiateMse } from '../../src/mse/negotiate.js';
import type { Transport } from '../../src/transport/transport.js';
import { encodeHandshake } from '../../src/wire/handshake.js';
import { memoryPair, type MemoryPairOptions } from '../support/memory-transport.js';

/** Collects what a transport delivers; records whether chunks came transient. */
function reader(t: Transport) {
  const chunks: Buffer[] = [];
  const transient: boolean[] = [];
  let closed: string | undefined;
  t.start({
    data(chunk, tr) {
      chunks.push(Buffer.from(chunk));
      transient.push(tr);
    },
    drain() {},
    close(reason) {
      closed = reason;
    },
  });
  return {
    bytes: () => Buffer.concat(chunks),
    transient,
    closed: () => closed,
    async until(n: number) {
      for (let i = 0; i < 5000 && Buffer.concat(chunks).length < n; i++) await new Promise((r) => setImmediate(r));
      return Buffer.concat(chunks);
    },
  };
}

const infoHash = randomBytes(20);
const others = [randomBytes(20), randomBytes(20)];

async function pair(opts: MemoryPairOptions, select: CryptoMethod) {
  const [a, b] = memoryPair(opts);
  const handshake = encodeHandshake(infoHash, randomBytes(20));
  const [out, inc] = await Promise.all([
    initiateMse(a, { infoHash, initialPayload: handshake, provide: ['rc4', 'plaintext'] }),
    acceptIncoming(b, { plaintext: true, mse: { findInfoHash: infoHashIndex([...others, infoHash]), allowed: [select] } }),
  ]);
  return { a, b, out, inc, handshake };
}

describe('MSE over memory transports', () => {
  for (const select of ['rc4', 'plaintext'] as CryptoMethod[]) {
    for (const opts of [{}, { chunkBytes: 1, transient: true }, { chunkBytes: 1000 }, { transient: true }] as MemoryPairOptions[]) {
      it(`${select}, ${JSON.stringify(opts)}: both ways, exactly, and ${select === 'rc4' ? 'never in the clear' : 'in the clear after the handshake'}`, async () => {
        const { a, b, out, inc, handshake } = await pair(opts, select);
        expect(out.method).toBe(select);
        expect(inc.kind).toBe('mse');
        if (inc.kind !== 'mse') return;
        expect(inc.method).toBe(select);
        expect(inc.infoHash).toEqual(infoHash);
        expect(out.transport.encrypted).toBe(select === 'rc4');
        expect(inc.transport.encrypted).toBe(select === 'rc4');

        const big = opts.chunkBytes === 1 ? 3000 : 300_000;
        const fromA = randomBytes(big);
        const fromB = randomBytes(big);
        const atB = reader(inc.transport);
        const atA = reader(out.transport);
        // Written in uneven pieces, some before the other side reads.
        for (let o = 0; o < big; o += 7777) out.transport.write(fromA.subarray(o, o + 7777));
        inc.transport.write(fromB.subarray(0, 10));
        inc.transport.write(fromB.subarray(10));
        expect((await atB.until(handshake.length + big)).equals(Buffer.concat([handshake, fromA]))).toBe(true);
        expect((await atA.until(big)).equals(fromB)).toBe(true);
        // Transient chunks go on as transient (decrypted where they lay), the others as kept copies.
        expect(new Set(atB.transient.slice(1))).toEqual(new Set([opts.transient === true]));

        // What crossed: never the payload (nor the BT handshake, which travels as the RC4'd IA) under RC4.
        const wireAB = Buffer.concat(a.sent);
        const wireBA = Buffer.concat(b.sent);
        expect(wireAB.includes(handshake.subarray(0, 20))).toBe(false);
        const probe = fromA.subarray(50_000 % big, (50_000 % big) + 64);
        expect(wireAB.includes(probe)).toBe(select === 'plaintext');
        expect(wireBA.includes(fromB.subarray(100, 164))).toBe(select === 'plaintext');

        out.transport.close();
        await new Promise((r) => setTimeout(r, 20));
        expect(atB.closed()).toBe('connection closed by peer');
        expect(atA.closed()).toBeUndefined(); // close() calls no handler of its own side
      });
    }
  }

  for (const transient of [false, true]) {
    it(`delivers what arrived before start() (transient: ${transient}), then tells that the peer hung up`, async () => {
      const { a, out, inc } = await pair({ chunkBytes: 5, transient }, 'rc4');
      out.transport.write(Buffer.from('early bytes'));
      out.transport.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(a.closed).toBe(true);
      const got = reader(inc.transport);
      expect(got.bytes().subarray(68).toString()).toBe('early bytes');
      expect(got.closed()).toBe('connection closed by peer');
    });
  }

  it('closes a connection whose peer sends more than 256 KiB before anyone reads', async () => {
    const { b, out, inc } = await pair({ transient: true }, 'rc4');
    out.transport.write(randomBytes(300 * 1024));
    await new Promise((r) => setTimeout(r, 50));
    expect(b.closed).toBe(true);
    const got = reader(inc.transport);
    expect(got.closed()).toBe('peer sent too much before anyone read it');
  });
});

describe('incoming connections: plaintext or MSE by the first bytes', () => {
  it('a plaintext BitTorrent handshake, even one byte at a time, passes through untouched', async () => {
    const [a, b] = memoryPair({ chunkBytes: 1, transient: true });
    const hs = encodeHandshake(infoHash, randomBytes(20));
    a.start({ data() {}, drain() {}, close() {} });
    a.write(Buffer.concat([hs, Buffer.from('and a message')]));
    const inc = await acceptIncoming(b, { plaintext: true, mse: { findInfoHash: infoHashIndex([infoHash]), allowed: ['rc4'] } });
    expect(inc.kind).toBe('plaintext');
    expect(inc.transport.encrypted).toBe(false);
    const got = reader(inc.transport);
    expect((await got.until(hs.length + 13)).equals(Buffer.concat([hs, Buffer.from('and a message')]))).toBe(true);
  });

  it('refuses plaintext when only encryption is accepted, and MSE when encryption is off', async () => {
    let [a, b] = memoryPair();
    a.start({ data() {}, drain() {}, close() {} });
    a.write(encodeHandshake(infoHash, randomBytes(20)));
    await expect(acceptIncoming(b, { plaintext: false, mse: { findInfoHash: infoHashIndex([infoHash]), allowed: ['rc4'] } })).rejects.toThrow(
      /it does not speak encryption \(a plaintext handshake\); --encryption require refuses it/,
    );
    expect(b.closed).toBe(true);
    [a, b] = memoryPair();
    void initiateMse(a, { infoHash, provide: ['rc4'] }).catch(() => undefined);
    await expect(acceptIncoming(b, { plaintext: true })).rejects.toThrow(/--encryption off refuses it/);
    expect(b.closed).toBe(true);
  });

  it('an initiator offering only RC4 is refused by a responder that allows only plaintext, and both close', async () => {
    const [a, b] = memoryPair();
    const out = initiateMse(a, { infoHash, provide: ['rc4'] });
    const inc = acceptIncoming(b, { plaintext: true, mse: { findInfoHash: infoHashIndex([infoHash]), allowed: ['plaintext'] } });
    await expect(inc).rejects.toThrow(/none of which we allow/);
    const e = await out.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(MseError);
    expect((e as MseError).peerSpokeMse).toBe(false);
    expect(a.closed && b.closed).toBe(true);
  });
});
