/**
 * `--encryption` between two of our handshakers over real sockets, on [::1] and on 127.0.0.1,
 * through a proxy that records the stream: every policy pair connects (RC4 or plaintext) or
 * must not, as the table in src/wire/encryption-policy.ts says; an encrypted stream never shows
 * the BitTorrent protocol string, and `require` never sends it. Then what a prefer dialer
 * remembers per peer, the PEX hint under allow, and the write slabs behind encrypted writes.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { infoHashIndex } from '../../src/mse/handshake.js';
import { WriteSlabs } from '../../src/mse/write-slabs.js';
import { TcpTransport } from '../../src/transport/kernel/tcp-transport.js';
import type { EncryptionPolicy } from '../../src/wire/encryption-policy.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import { Handshaker, type DialHints } from '../../src/wire/handshaker.js';
import type { Message } from '../../src/wire/messages.js';
import type { PeerWire } from '../../src/wire/peer-wire.js';
import { RecordingProxy } from '../support/recording-proxy.js';

const INFO_HASH = randomBytes(20);
const PROTOCOL = Buffer.from('BitTorrent protocol', 'latin1');
const LIMITS = { bitfieldBytes: 0, maxBlock: 16384, maxExtended: 1 << 20 };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A listening handshaker of one policy with our one torrent; it keeps the wires it accepts. */
async function listener(policy: EncryptionPolicy, host: string) {
  const accepted: PeerWire[] = [];
  const hs = new Handshaker({ network: new KernelNetwork(),
    peerId: randomBytes(20),
    encryption: policy,
    timeoutMs: 3000,
    directory: {
      find: (h) => (h.equals(INFO_HASH) ? { accept: (w) => (accepted.push(w), true) } : undefined),
      findByReq2: infoHashIndex([randomBytes(20), INFO_HASH]),
    },
  });
  const server: Server = createServer((s) => hs.incoming(new TcpTransport(s)));
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(
    () => new Promise((r) => server.close(r)),
    () => hs.close(),
    () => accepted.forEach((w) => w.close('test over')),
  );
  return { hs, accepted, port: (server.address() as { port: number }).port };
}

function dialer(policy: EncryptionPolicy): Handshaker {
  const hs = new Handshaker({ network: new KernelNetwork(), peerId: randomBytes(20), encryption: policy, timeoutMs: 3000, directory: { find: () => undefined, findByReq2: () => undefined } });
  cleanups.push(() => hs.close());
  return hs;
}

async function proxyTo(host: string, port: number): Promise<RecordingProxy> {
  const p = await RecordingProxy.start(host, { host, port });
  cleanups.push(() => p.close());
  return p;
}

/** One message each way over a handshaken pair: both ends' ciphers (or none) agree. */
async function exchange(ours: PeerWire, theirs: PeerWire): Promise<void> {
  const heard = (w: PeerWire) =>
    new Promise<Message>((resolve, reject) => {
      w.attach({ onHandshake: () => true, onMessage: resolve, onClose: (r) => reject(new Error(r)) });
      w.startMessages(LIMITS);
    });
  const [atTheirs, atOurs] = [heard(theirs), heard(ours)];
  ours.send.interested();
  theirs.send.have(7);
  expect(await atTheirs).toEqual({ type: 'interested' });
  expect(await atOurs).toEqual({ type: 'have', index: 7 });
}

type Outcome = 'rc4' | 'plaintext' | 'none';

/** dialer policy -> listener policy -> what must happen. */
const MATRIX: Record<EncryptionPolicy, Record<EncryptionPolicy, Outcome>> = {
  prefer: { prefer: 'rc4', require: 'rc4', allow: 'rc4', off: 'plaintext' },
  require: { prefer: 'rc4', require: 'rc4', allow: 'rc4', off: 'none' },
  allow: { prefer: 'plaintext', require: 'none', allow: 'plaintext', off: 'plaintext' },
  off: { prefer: 'plaintext', require: 'none', allow: 'plaintext', off: 'plaintext' },
};

for (const host of ['::1', '127.0.0.1']) {
  describe(`policy pairs over ${host}`, () => {
    for (const [dialPolicy, row] of Object.entries(MATRIX) as [EncryptionPolicy, Record<EncryptionPolicy, Outcome>][]) {
      for (const [listenPolicy, outcome] of Object.entries(row) as [EncryptionPolicy, Outcome][]) {
        it(`--encryption ${dialPolicy} dialing --encryption ${listenPolicy}: ${outcome === 'none' ? 'no connection' : outcome}`, async () => {
          const l = await listener(listenPolicy, host);
          const proxy = await proxyTo(host, l.port);
          const d = dialer(dialPolicy);
          const dialed = d.connect([{ host, port: proxy.port }], INFO_HASH, {});
          if (outcome === 'none') {
            await expect(dialed).rejects.toThrow();
            expect(l.accepted).toEqual([]);
          } else {
            const wire = await dialed;
            expect(wire.encrypted).toBe(outcome === 'rc4');
            await expect.poll(() => l.accepted.length).toBe(1);
            expect(l.accepted[0]!.encrypted).toBe(outcome === 'rc4');
            await exchange(wire, l.accepted[0]!);
          }
          await expect.poll(() => l.hs.pending, { timeout: 4000 }).toBe(0);
          const up = proxy.bytes('up');
          const down = proxy.bytes('down');
          // require never sends the protocol string, in any outcome; an RC4 stream shows it nowhere.
          if (dialPolicy === 'require' || outcome === 'rc4') expect(up.includes(PROTOCOL)).toBe(false);
          if (listenPolicy === 'require' || outcome === 'rc4') expect(down.includes(PROTOCOL)).toBe(false);
          // The control: a plaintext connection does show it, both ways.
          if (outcome === 'plaintext') expect(up.includes(PROTOCOL) && down.includes(PROTOCOL)).toBe(true);
          // prefer falls back by dialing again: the refused encrypted attempt, then plaintext.
          expect(proxy.connections.length).toBe(dialPolicy === 'prefer' && outcome === 'plaintext' ? 2 : 1);
        });
      }
    }
  });
}

describe('what a dialer remembers, and hints', () => {
  it('prefer: a peer that does not speak MSE is dialed in plaintext at once the next time', async () => {
    const l = await listener('off', '::1');
    const proxy = await proxyTo('::1', l.port);
    const d = dialer('prefer');
    const first = await d.connect([{ host: '::1', port: proxy.port }], INFO_HASH, {});
    expect(first.encrypted).toBe(false);
    expect(proxy.connections.map((c) => Buffer.concat(c.up).subarray(0, 20).equals(Buffer.concat([Buffer.from([19]), PROTOCOL])))).toEqual([false, true]);
    first.close('done');
    const second = await d.connect([{ host: '::1', port: proxy.port }], INFO_HASH, {});
    expect(second.encrypted).toBe(false);
    expect(proxy.connections.length).toBe(3);
    expect(Buffer.concat(proxy.connections[2]!.up).subarray(1, 20).equals(PROTOCOL)).toBe(true);
    second.close('done');
  });

  it('prefer: after a plaintext dial fails, the next dial tries MSE again (the peer may require encryption now)', async () => {
    const plainOnly = await listener('off', '::1');
    const required = await listener('require', '::1');
    const proxy = await proxyTo('::1', plainOnly.port);
    const d = dialer('prefer');
    const dial = () => d.connect([{ host: '::1', port: proxy.port }], INFO_HASH, {});
    (await dial()).close('done');
    expect(proxy.connections.length).toBe(2);
    // The same address now requires encryption: the remembered plaintext dial is refused...
    proxy.target = { host: '::1', port: required.port };
    await expect(dial()).rejects.toThrow(/closed/);
    expect(proxy.connections.length).toBe(3);
    expect(Buffer.concat(proxy.connections[2]!.up).includes(PROTOCOL)).toBe(true);
    // ...and forgotten: the next dial is encrypted, and works.
    const wire = await dial();
    expect(wire.encrypted).toBe(true);
    expect(proxy.connections.length).toBe(4);
    expect(Buffer.concat(proxy.connections[3]!.up).includes(PROTOCOL)).toBe(false);
  });

  it('allow: dials in plaintext, but encrypted to a peer that a source says prefers encryption', async () => {
    const l = await listener('require', '::1');
    const d = dialer('allow');
    await expect(d.connect([{ host: '::1', port: l.port }], INFO_HASH, {})).rejects.toThrow(/closed/);
    const hints: DialHints = { prefersEncryption: true };
    const wire = await d.connect([{ host: '::1', port: l.port }], INFO_HASH, {}, hints);
    expect(wire.encrypted).toBe(true);
    expect(wire.mse).toBe(true);
  });

  it('allow with the hint, to an allow listener: MSE with plaintext chosen (obfuscated handshake, plain payload)', async () => {
    const l = await listener('allow', '::1');
    const proxy = await proxyTo('::1', l.port);
    const wire = await dialer('allow').connect([{ host: '::1', port: proxy.port }], INFO_HASH, {}, { prefersEncryption: true });
    expect(wire.mse).toBe(true);
    expect(wire.encrypted).toBe(false);
    await expect.poll(() => l.accepted.length).toBe(1);
    await exchange(wire, l.accepted[0]!);
    // Both handshakes went encrypted (ours as the initial payload, theirs after the selection)...
    expect(proxy.bytes('up').includes(PROTOCOL)).toBe(false);
    expect(proxy.bytes('down').includes(PROTOCOL)).toBe(true);
  });
});

describe('write slabs', () => {
  it('never hand out memory that a write still holds, and reuse slabs once their writes are done', () => {
    const slabs = new WriteSlabs();
    const live: { buf: Buffer; fill: number; release: () => void }[] = [];
    const seen = new Set<ArrayBufferLike>();
    let n = 0;
    for (let i = 0; i < 20_000; i++) {
      const size = [13, 16384 + 13, 16384, 3000, 70_000][i % 5]!;
      const [buf, release] = slabs.take(size);
      expect(buf.length).toBe(size);
      const fill = ++n & 255;
      buf.fill(fill);
      seen.add(buf.buffer);
      live.push({ buf, fill, release });
      // Writes finish out of order, a few hundred KiB behind.
      while (live.length > 40) live.splice(Math.floor(Math.random() * live.length), 1)[0]!.release();
      if (i % 500 === 0) for (const l of live) expect(l.buf.every((b) => b === l.fill)).toBe(true);
    }
    for (const l of live) expect(l.buf.every((b) => b === l.fill)).toBe(true);
    // 16,000 of the writes come from slabs of 256 KiB: a few hundred ArrayBuffers, not thousands.
    expect(seen.size).toBeLessThan(1000);
  });
});
