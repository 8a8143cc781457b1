/**
 * ut_holepunch (BEP 55) against hostile partners, over real sockets on loopback: raw peers that
 * speak the wire byte by byte connect to a sixswarm seed and
 * - flood it with rendezvous naming another partner: the target hears a bounded number of
 *   `connect`s, the asker a bounded number of answers (a relay cannot be made to flood anyone),
 *   and another asker still reaches the target;
 * - flood it with `connect`s naming a third party: the seed's uTP SYNs to it stay a handful;
 * - send a malformed message: that partner alone is closed, with a reason that names it;
 * and a private torrent offers no ut_holepunch at all and says why in its status.
 */
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { decodeHolepunch, encodeHolepunch, type HolepunchMessage } from '../../src/ext/ut-holepunch/codec.js';
import { PRIVATE_REASON } from '../../src/ext/ut-holepunch/index.js';
import { CONNECTS_PER_PAIR, DIALS_PER_HOST } from '../../src/ext/ut-holepunch/torrent.js';
import { waitUntil } from '../support/peers.js';
import { MSG, RawPeer } from '../support/raw-peer.js';
import { ensureBuilt, freePort, removeDir, runCli, seedPayload, sixswarm, stopAll, tempDir, type SixswarmProcess } from '../support/sixswarm.js';

/** Our id for ut_holepunch in the raw peers' extended handshake. */
const HP_ID = 9;

let dir: string;
let meta: { infoHash: Buffer };
let torrent: string;

/** A raw partner from `from` (each its own loopback address: limits are per host): handshaken, its BEP 10 handshake sent (ut_holepunch on HP_ID, listening on `port`), what it hears collected. */
async function partner(port: number, listenPort: number, from: string) {
  const peer = await RawPeer.connect('127.0.0.1', port, 5000, from);
  const heard: HolepunchMessage[] = [];
  let theirId: number | undefined;
  let m: Map<string, number> | undefined;
  peer.onMessage((msg) => {
    if (msg.id !== MSG.extended) return;
    if (msg.payload[0] === 0) {
      const d = decode(msg.payload.subarray(1)) as BDict;
      const md = d.get('m') as BDict;
      m = new Map([...md].map(([k, v]) => [k, v as number]));
      theirId = m.get('ut_holepunch');
    } else if (msg.payload[0] === HP_ID) {
      heard.push(decodeHolepunch(msg.payload.subarray(1)));
    }
  });
  peer.sendHandshake(meta.infoHash, { extended: true });
  await peer.readHandshake();
  peer.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: { ut_holepunch: HP_ID, ut_pex: 0 }, p: listenPort })]));
  await waitUntil(() => m, 5000, () => 'the seed\'s extended handshake');
  return {
    peer,
    heard,
    m: () => m!,
    say(msg: HolepunchMessage | Buffer) {
      const body = Buffer.isBuffer(msg) ? msg : encodeHolepunch(msg);
      peer.sendMessage(MSG.extended, Buffer.concat([Buffer.from([theirId!]), body]));
    },
  };
}

function seed(t: string, port: number, label: string): SixswarmProcess {
  return sixswarm(['seed', t, join(dir, 'seed'), '--port', String(port), '--no-trackers', '--no-dht', '--no-port-mapping', '--no-ipv6', '--json'], {
    env: { ...process.env, SIXSWARM_STATE_DIR: join(dir, 'state', label) },
    label,
  });
}

describe('ut_holepunch against hostile partners', () => {
  let port: number;
  let s: SixswarmProcess;

  beforeAll(async () => {
    ensureBuilt();
    dir = await tempDir('sixswarm-hp-hostile-');
    ({ torrent, meta } = await seedPayload(dir, { 'a.bin': 300_000 }, 32 * 1024));
    port = await freePort();
    s = seed(torrent, port, 'public');
    await s.event('listening');
    await s.event('checked');
  }, 30_000);

  afterAll(async () => {
    await stopAll();
    await removeDir(dir);
  });

  it('relays a bounded number of introductions however often it is asked', async () => {
    const a = await partner(port, 40001, '127.0.0.2');
    const b = await partner(port, 40002, '127.0.0.3');
    expect(a.m().get('ut_holepunch')).toBeGreaterThan(0);
    const bAt = { host: '127.0.0.3', port: b.peer.socket.localPort!, family: 4 as const };
    for (let i = 0; i < 2000; i++) a.say({ type: 'rendezvous', peer: bAt });
    await waitUntil(() => a.heard.length >= CONNECTS_PER_PAIR.burst, 5000, () => `answers to the asker (${a.heard.length})`);
    await new Promise((r) => setTimeout(r, 500));
    // Each side hears the pair's burst: the asker B's address as it asked, B the asker at its listening port.
    expect(a.heard.length).toBe(CONNECTS_PER_PAIR.burst);
    expect(a.heard.every((m) => m.type === 'connect' && m.peer.port === bAt.port)).toBe(true);
    expect(b.heard.length).toBe(CONNECTS_PER_PAIR.burst);
    expect(b.heard[0]).toEqual({ type: 'connect', peer: { host: '127.0.0.2', port: 40001, family: 4 } });
    expect(a.peer.isClosed).toBe(false);
    // The flood locked nobody else out of B: another asker is introduced at once.
    const d = await partner(port, 40020, '127.0.0.20');
    d.say({ type: 'rendezvous', peer: bAt });
    await waitUntil(() => d.heard.length >= 1, 5000, () => 'the other asker introduced');
    expect(d.heard).toEqual([{ type: 'connect', peer: bAt }]);
    await waitUntil(() => b.heard.length > CONNECTS_PER_PAIR.burst, 5000, () => 'B told of the other asker');
    expect(b.heard.at(-1)).toEqual({ type: 'connect', peer: { host: '127.0.0.20', port: 40020, family: 4 } });
    a.peer.close();
    b.peer.close();
    d.peer.close();
  });

  it('answers rendezvous it cannot serve with the BEP 55 error', async () => {
    const c = await partner(port, 40003, '127.0.0.4');
    c.say({ type: 'rendezvous', peer: { host: '127.0.0.9', port: 1, family: 4 } });
    c.say({ type: 'rendezvous', peer: { host: '127.0.0.1', port, family: 4 } });
    c.say({ type: 'rendezvous', peer: { host: '0.0.0.0', port: 6881, family: 4 } });
    await waitUntil(() => c.heard.length >= 3, 5000, () => `three answers (${JSON.stringify(c.heard)})`);
    expect(c.heard.map((m) => (m.type === 'error' ? m.error : m.type))).toEqual(['notConnected', 'noSelf', 'noSuchPeer']);
    c.peer.close();
  });

  it('cannot be made to flood a third party with uTP SYNs by connect messages', async () => {
    const victim = createSocket('udp4');
    let syns = 0;
    victim.on('message', (b) => {
      if (b.length >= 20 && b[0]! >> 4 === 4 && (b[0]! & 0x0f) === 1) syns++; // ST_SYN, version 1
    });
    await new Promise<void>((r) => victim.bind(0, '127.0.0.1', r));
    const at = { host: '127.0.0.1', port: victim.address().port, family: 4 as const };
    const relays = await Promise.all([40004, 40005, 40006].map((p, i) => partner(port, p, `127.0.0.${5 + i}`)));
    for (let i = 0; i < 1000; i++) for (const r of relays) r.say({ type: 'connect', peer: at });
    // It does dial (the target's role is real) ...
    await waitUntil(() => syns > 0, 5000, () => 'a SYN at the address named');
    await new Promise((r) => setTimeout(r, 4000));
    // ... a few times at most: one dial at a time per address, a burst per host; each dial is a SYN and its two retries.
    expect(syns).toBeLessThanOrEqual(DIALS_PER_HOST.burst * 3);
    const summary = (await s.waitFor((e) => e.event === 'progress' && ((e.holepunch as { connectsIn?: number } | undefined)?.connectsIn ?? 0) >= 3000, 5000, 'the counts')).holepunch as Record<string, number>;
    expect(summary.connectsRefused).toBeGreaterThanOrEqual(3000 - DIALS_PER_HOST.burst);
    victim.close();
    for (const r of relays) r.peer.close();
  }, 20_000);

  it('closes a partner that sends a malformed message, and only it', async () => {
    const bad = await partner(port, 40007, '127.0.0.8');
    const good = await partner(port, 40008, '127.0.0.9');
    bad.say(Buffer.from([0, 1, 2]));
    await bad.peer.waitClosed(5000);
    const left = await s.waitFor((e) => e.event === 'peer-disconnected' && /ut_holepunch/.test(String(e.reason)), 5000, 'the reason');
    expect(left.reason).toBe('protocol error: ut_holepunch rendezvous with an IPv6 address is 20 or 24 bytes, not 3');
    expect(good.peer.isClosed).toBe(false);
    good.peer.close();
  });

  it('offers no ut_holepunch on a private torrent, and says why', async () => {
    const priv = join(dir, 'private.torrent');
    expect((await runCli(['create', join(dir, 'seed', 'payload'), '-o', priv, '--piece-length', '32K', '--private'])).code).toBe(0);
    const privPort = await freePort();
    const p = seed(priv, privPort, 'private');
    await p.event('checked');
    const progress = await p.waitFor((e) => e.event === 'progress' && e.holepunch !== undefined, 5000, 'a progress line');
    expect((progress.holepunch as { off?: string }).off).toBe(PRIVATE_REASON);
    const privMeta = (await import('../../src/metainfo/torrent.js')).readTorrentFile;
    meta = await privMeta(priv);
    const x = await partner(privPort, 40009, '127.0.0.10');
    expect(x.m().get('ut_holepunch') ?? 0).toBe(0);
    expect(x.m().get('ut_pex') ?? 0).toBe(0);
    x.peer.close();
  });
});
