/**
 * Hostile MSE peers over real sockets on [::1]: garbage first bytes, an endless padding, a wrong
 * verification constant, a handshake for an info hash we do not have, a peer that stops half way;
 * and on the dialing side a peer that speaks only plaintext and one that pads forever. Each one
 * costs only its own connection, within the bound (the 628-byte sync window, the timeout), while
 * an honest peer handshakes with the same listener at the same time. Then the same through the
 * handshaker and its policies: an MSE stream key for one torrent and a handshake for another,
 * the per-host bound during MSE, what require and off refuse without a byte in return, and
 * when prefer must not fall back to plaintext.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { publicKey, sharedSecret } from '../../src/mse/dh.js';
import { infoHashIndex, MseError } from '../../src/mse/handshake.js';
import { req1, req2, req3, streamCiphers, xor20 } from '../../src/mse/keys.js';
import { acceptIncoming, initiateMse, type IncomingConnection } from '../../src/mse/negotiate.js';
import { connectSharedRead } from '../../src/transport/kernel/shared-read.js';
import { TcpTransport } from '../../src/transport/kernel/tcp-transport.js';
import type { EncryptionPolicy } from '../../src/wire/encryption-policy.js';
import { encodeHandshake } from '../../src/wire/handshake.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import { Handshaker } from '../../src/wire/handshaker.js';
import type { PeerWire } from '../../src/wire/peer-wire.js';

const INFO_HASH = randomBytes(20);
const TIMEOUT_MS = 1000;

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

interface Listener {
  port: number;
  /** acceptIncoming's promise per connection, by the remote port. */
  outcomes: Map<number, Promise<IncomingConnection>>;
}

/** Our listener: every connection goes through acceptIncoming. */
async function ourListener(): Promise<Listener> {
  const outcomes = new Map<number, Promise<IncomingConnection>>();
  const server = createServer((s) => {
    const p = acceptIncoming(new TcpTransport(s), {
      plaintext: true,
      mse: { findInfoHash: infoHashIndex([randomBytes(20), INFO_HASH]), allowed: ['rc4', 'plaintext'] },
      timeoutMs: TIMEOUT_MS,
    });
    p.catch(() => undefined); // inspected by the test
    outcomes.set(s.remotePort!, p);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '::1', r));
  return { port: (server.address() as { port: number }).port, outcomes };
}

/** A raw client: what it received, how much it wrote, and a promise for its close. */
function rawClient(port: number) {
  const s = connect({ host: '::1', port });
  sockets.push(s);
  const got: Buffer[] = [];
  let written = 0;
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => undefined);
  const closed = new Promise<number>((r) => s.once('close', () => r(Date.now())));
  const localPort = new Promise<number>((r) => s.once('connect', () => r(s.localPort!)));
  return {
    socket: s,
    localPort,
    write(b: Buffer) {
      if (s.destroyed) return;
      written += b.length;
      s.write(b);
    },
    written: () => written,
    received: () => Buffer.concat(got),
    closed,
    async receivedAtLeast(n: number) {
      for (let i = 0; i < 200 && Buffer.concat(got).length < n; i++) await new Promise((r) => setTimeout(r, 10));
      return Buffer.concat(got);
    },
  };
}

/** An honest initiator through the same listener, to show it is not affected. */
async function honest(port: number): Promise<void> {
  const t = await new Promise<TcpTransport>((resolve, reject) => {
    const s = connectSharedRead({ host: '::1', port });
    sockets.push(s);
    s.once('connect', () => resolve(new TcpTransport(s)));
    s.once('error', reject);
  });
  const c = await initiateMse(t, { infoHash: INFO_HASH, initialPayload: encodeHandshake(INFO_HASH, randomBytes(20)), provide: ['rc4'] });
  expect(c.method).toBe('rc4');
  c.transport.close();
}

async function rejection(p: Promise<unknown>): Promise<MseError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MseError);
  return e as MseError;
}

/** Our Ya to the listener, its Yb back: the shared secret, for a hand-made step 3. */
async function keyExchange(c: ReturnType<typeof rawClient>): Promise<Buffer> {
  const xa = randomBytes(20);
  c.write(publicKey(xa));
  const yb = (await c.receivedAtLeast(96)).subarray(0, 96);
  return sharedSecret(xa, yb)!;
}

function step3(s: Buffer, skey: Buffer, vc: Buffer): Buffer {
  const { encrypt } = streamCiphers(s, skey, true);
  const body = Buffer.concat([vc, Buffer.from([0, 0, 0, 2, 0, 0, 0, 0])]);
  encrypt.xor(body, body);
  return Buffer.concat([req1(s), xor20(req2(skey), req3(s)), body]);
}

describe('hostile peers dialing us', () => {
  it('garbage first bytes (also ones that start like a plaintext handshake) close only that connection', async () => {
    const l = await ourListener();
    for (const garbage of [randomBytes(64 * 1024), Buffer.concat([Buffer.from('\x13BitTorrent protocoX', 'latin1'), randomBytes(2000)])]) {
      const c = rawClient(l.port);
      c.write(garbage);
      const [e] = await Promise.all([outcomeOf(l, c), honest(l.port)]);
      expect(e.message).toMatch(/no HASH\('req1', S\) within the first 512 bytes of padding/);
      await c.closed;
    }
  });

  it('an endless padding is cut off once the 628-byte window is past', async () => {
    const l = await ourListener();
    const c = rawClient(l.port);
    c.write(publicKey(randomBytes(20)));
    const pump = setInterval(() => c.write(randomBytes(64)), 2);
    const [e] = await Promise.all([outcomeOf(l, c), honest(l.port)]);
    await c.closed;
    clearInterval(pump);
    expect(e.message).toMatch(/no HASH\('req1', S\)/);
    // 96 + 512 + 20 bytes decide it; a few more 64-byte writes were in flight when it closed.
    expect(c.written()).toBeLessThan(628 + 64 * 40);
  });

  it('a wrong verification constant, and an info hash we do not have, close only that connection', async () => {
    const l = await ourListener();
    for (const [skey, vc, why] of [
      [INFO_HASH, Buffer.from('0000000000000001', 'hex'), /wrong verification constant/],
      [randomBytes(20), Buffer.alloc(8), /torrent we do not have/],
    ] as const) {
      const c = rawClient(l.port);
      const s = await keyExchange(c);
      c.write(step3(s, skey, vc));
      const [e] = await Promise.all([outcomeOf(l, c), honest(l.port)]);
      expect(e.message).toMatch(why);
      expect(e.peerSpokeMse).toBe(true);
      await c.closed;
    }
  });

  it('a peer that stops half way is closed when the timeout runs out', { timeout: 10_000 }, async () => {
    const l = await ourListener();
    const c = rawClient(l.port);
    const s = await keyExchange(c);
    const t0 = Date.now();
    c.write(step3(s, INFO_HASH, Buffer.alloc(8)).subarray(0, 30));
    const [e] = await Promise.all([outcomeOf(l, c), honest(l.port)]);
    const closedAt = await c.closed;
    expect(e.message).toMatch(/not done within 1 s/);
    expect(closedAt - t0).toBeLessThan(TIMEOUT_MS + 1000);
  });
});

/** How our listener ended the raw client's connection. */
async function outcomeOf(l: Listener, c: ReturnType<typeof rawClient>): Promise<MseError> {
  const port = await c.localPort;
  for (let i = 0; i < 400 && !l.outcomes.has(port); i++) await new Promise((r) => setTimeout(r, 5));
  return rejection(l.outcomes.get(port)!);
}

describe('hostile peers we dial', () => {
  async function listener(onConnection: (s: Socket) => void): Promise<number> {
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      onConnection(s);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '::1', r));
    return (server.address() as { port: number }).port;
  }

  async function dialMse(port: number): Promise<MseError> {
    const t = await new Promise<TcpTransport>((resolve) => {
      const s = connectSharedRead({ host: '::1', port });
      s.once('connect', () => resolve(new TcpTransport(s)));
    });
    return rejection(initiateMse(t, { infoHash: INFO_HASH, provide: ['rc4', 'plaintext'], timeoutMs: TIMEOUT_MS }));
  }

  it('a plaintext-only peer (it hangs up on our DH key) fails as a peer that did not speak MSE', async () => {
    const port = await listener((s) => s.once('data', () => s.end(encodeHandshake(INFO_HASH, randomBytes(20)))));
    const e = await dialMse(port);
    expect(e.message).toMatch(/connection closed during the MSE handshake/);
    expect(e.peerSpokeMse).toBe(false);
  });

  it('a peer padding forever after its key is cut off past the window', async () => {
    let sent = 0;
    const port = await listener((s) => {
      s.write(publicKey(randomBytes(20)));
      const pump = setInterval(() => {
        if (s.destroyed) return clearInterval(pump);
        sent += 64;
        s.write(randomBytes(64));
      }, 2);
    });
    const e = await dialMse(port);
    expect(e.message).toMatch(/no verification constant within the first 512 bytes/);
    expect(sent).toBeLessThan(520 + 64 * 40);
  });
});

describe("hostile peers against the handshaker's policy paths", () => {
  const OTHER_HASH = randomBytes(20);
  const HS_TIMEOUT_MS = 1000;

  /** A Handshaker listening on [::1] with two torrents; the wires it hands on, and the bytes it sent per connection. */
  async function handshakerListener(encryption: EncryptionPolicy) {
    const accepted: PeerWire[] = [];
    const hs = new Handshaker({ network: new KernelNetwork(),
      peerId: randomBytes(20),
      encryption,
      timeoutMs: HS_TIMEOUT_MS,
      maxUnfinishedPerHost: 4,
      directory: {
        find: (h) => (h.equals(INFO_HASH) || h.equals(OTHER_HASH) ? { accept: (w) => (accepted.push(w), true) } : undefined),
        findByReq2: infoHashIndex([INFO_HASH, OTHER_HASH]),
      },
    });
    const server = createServer((s) => hs.incoming(new TcpTransport(s)));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '::1', r));
    return { hs, accepted, port: (server.address() as { port: number }).port };
  }

  /** Resolves once `closed` does; fails the test after `ms`. */
  function within<T>(closed: Promise<T>, ms: number, what: string): Promise<T> {
    return Promise.race([closed, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms))]);
  }

  /** An honest encrypted dial through the same handshaker: it is not affected. */
  async function honestDial(port: number): Promise<void> {
    const d = new Handshaker({ network: new KernelNetwork(), peerId: randomBytes(20), encryption: 'require', directory: { find: () => undefined, findByReq2: () => undefined } });
    const wire = await d.connect([{ host: '::1', port }], INFO_HASH, {});
    expect(wire.encrypted).toBe(true);
    wire.close('done');
    d.close();
  }

  async function dialTcp(port: number): Promise<TcpTransport> {
    return new Promise((resolve) => {
      const s = connectSharedRead({ host: '::1', port });
      sockets.push(s);
      s.once('connect', () => resolve(new TcpTransport(s)));
    });
  }

  it('an MSE connection whose handshake names another torrent than its stream key is refused (both torrents ours)', async () => {
    const l = await handshakerListener('prefer');
    const c = await initiateMse(await dialTcp(l.port), { infoHash: INFO_HASH, initialPayload: encodeHandshake(OTHER_HASH, randomBytes(20)), provide: ['rc4'] });
    const closed = new Promise<string>((r) => c.transport.start({ data: () => {}, drain: () => {}, close: r }));
    expect(await within(closed, 2000, 'the listener closing the connection')).toBe('connection closed by peer');
    expect(l.accepted).toEqual([]);
    await honestDial(l.port);
    expect(l.accepted).toHaveLength(1);
  });

  it('garbage, an unknown torrent and a peer that stops half way each cost one connection, and leave no handshake pending', { timeout: 10_000 }, async () => {
    const l = await handshakerListener('prefer');
    const garbage = rawClient(l.port);
    garbage.write(randomBytes(2000));
    const unknown = rawClient(l.port);
    const s1 = await keyExchange(unknown);
    unknown.write(step3(s1, randomBytes(20), Buffer.alloc(8)));
    const halfway = rawClient(l.port);
    const s2 = await keyExchange(halfway);
    halfway.write(step3(s2, INFO_HASH, Buffer.alloc(8)).subarray(0, 30));
    const t0 = Date.now();
    await Promise.all([garbage.closed, unknown.closed, honestDial(l.port)]);
    expect(Date.now() - t0, 'garbage and the unknown torrent are refused at once').toBeLessThan(HS_TIMEOUT_MS);
    const halfwayAt = await halfway.closed;
    expect(halfwayAt - t0).toBeLessThan(HS_TIMEOUT_MS + 1000);
    for (const c of [garbage, unknown, halfway]) expect(c.received().length).toBeLessThanOrEqual(96 + 512);
    expect(l.accepted).toHaveLength(1);
    await expect.poll(() => l.hs.pending).toBe(0);
  });

  it('silent MSE-sized connections count against the per-host bound while they handshake', async () => {
    const l = await handshakerListener('prefer');
    const flood: ReturnType<typeof rawClient>[] = [];
    for (let i = 0; i < 5; i++) {
      const c = rawClient(l.port);
      flood.push(c);
      c.write(publicKey(randomBytes(20)).subarray(0, 50)); // half a key: still undecided
      await expect.poll(() => l.hs.pending).toBe(Math.min(i + 1, 4));
    }
    // The fifth from the host took the slot of the host's oldest.
    await within(flood[0]!.closed, 2000, "the host's oldest handshake to go");
    expect(l.hs.pending).toBe(4);
    await Promise.all(flood.slice(1).map((c) => c.closed));
    await expect.poll(() => l.hs.pending).toBe(0);
  });

  it('require: a plaintext handshake is closed without a byte in return; off: so is an MSE attempt', async () => {
    for (const [policy, hello] of [
      ['require', encodeHandshake(INFO_HASH, randomBytes(20))],
      ['off', publicKey(randomBytes(20))],
    ] as const) {
      const l = await handshakerListener(policy);
      const c = rawClient(l.port);
      c.write(hello);
      await within(c.closed, 2000, `the ${policy} listener closing the connection`);
      expect(c.received().length, policy).toBe(0);
      expect(l.accepted).toEqual([]);
    }
  });

  it('prefer does not redial in plaintext a peer that spoke MSE and then broke it; require never sends plaintext to a plaintext-only peer', async () => {
    const seen: Buffer[][] = [];
    const port = await new Promise<number>((resolve) => {
      const server = createServer((s) => {
        sockets.push(s);
        const got: Buffer[] = [];
        seen.push(got);
        s.on('error', () => undefined);
        s.on('data', async (d: Buffer) => {
          got.push(d);
          const all = Buffer.concat(got);
          if (seen.length === 1 && all.length >= 96 && got.length === 1) {
            // Speak MSE: our key, then an encrypted VC that checks out, then a selection nobody offered.
            const xb = randomBytes(20);
            s.write(publicKey(xb));
            const sec = sharedSecret(xb, all.subarray(0, 96))!;
            const { encrypt } = streamCiphers(sec, INFO_HASH, false);
            const reply = Buffer.concat([Buffer.alloc(8), Buffer.from([0, 0, 0, 0x08, 0, 0])]);
            encrypt.xor(reply, reply);
            s.write(reply);
          } else if (seen.length > 1) s.end(); // plaintext only: hangs up on anything it does not understand
        });
      });
      servers.push(server);
      server.listen(0, '::1', () => resolve((server.address() as { port: number }).port));
    });
    const prefer = new Handshaker({ network: new KernelNetwork(), peerId: randomBytes(20), encryption: 'prefer', timeoutMs: HS_TIMEOUT_MS, directory: { find: () => undefined, findByReq2: () => undefined } });
    await expect(prefer.connect([{ host: '::1', port }], INFO_HASH, {})).rejects.toThrow(/peer selected crypto 0x8/);
    expect(seen).toHaveLength(1);
    const require = new Handshaker({ network: new KernelNetwork(), peerId: randomBytes(20), encryption: 'require', timeoutMs: HS_TIMEOUT_MS, directory: { find: () => undefined, findByReq2: () => undefined } });
    // Now plaintext-only (it hangs up on MSE): require says so, and sends it no plaintext.
    await expect(require.connect([{ host: '::1', port }], INFO_HASH, {})).rejects.toThrow(/^it does not speak encryption \(.*\); --encryption require refuses it$/);
    expect(seen).toHaveLength(2);
    expect(Buffer.concat(seen[1]!).includes(Buffer.from('BitTorrent protocol'))).toBe(false);
    prefer.close();
    require.close();
  });
});
