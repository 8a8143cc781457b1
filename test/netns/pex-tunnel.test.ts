/**
 * PEX across the built-in tunnel, in the tunnel tests' namespaces (test/support/netns.ts):
 *   - the sixswarm on the IPv4-only host, tunneled, is told of one native IPv6 peer only; it
 *     learns another from that peer's PEX, dials it through the tunnel and downloads from it;
 *   - a native IPv6 peer is told of one peer only; it learns the tunneled host's address (in the
 *     tunnel's prefix) from that peer's PEX and connects in to it through the tunnel.
 * In both, a seed that only the PEX-learned peer knows joins last (a raw peer without BEP 10: it
 * passes nothing on, and nobody can pass it on), and the newcomer completes, every connection its own.
 *
 *     client ns (IPv4 only)  --192.0.2.0/24-->  broker ns (tunnel server)  --2001:db8:ffff::/64-->  peer ns (IPv6 only)
 */
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { createTunnelTopology, destroyAfterAll, netnsUnavailable, type Netns, type NsProcess, type TunnelTopology } from '../support/netns.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { heardPex } from '../support/pex.js';
import { RawPeer } from '../support/raw-peer.js';
import { CLI, seedPayload, sixswarm, stopAll, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const unavailable = netnsUnavailable();
const TUNNEL_PORT = 14631;
/** The first /64 of the topology's tunnel range, and the address the client takes in it. */
const PREFIX = '2001:db8:100::/64';
const TUNNEL_ADDRESS = '2001:db8:100::1';
const TREE = { 'a.bin': 4 * 1024 * 1024 + 4321 };
const PIECE = 64 * 1024;

describe.skipIf(unavailable !== undefined)('PEX over the tunnel (network namespaces)', () => {
  let topo: TunnelTopology;
  let work: string;
  let server: NsProcess;
  let runs = 0;

  /** sixswarm inside `ns`, trackers off, a state folder of its own. */
  function inNs(ns: Netns, args: string[], label: string): SixswarmProcess {
    return sixswarm([...args, '--port', '0', '--json', '--no-trackers', '--state-dir', join(work, `state-${runs}-${label}`)], { wrap: ['ip', 'netns', 'exec', ns.name], label });
  }
  /** A native peer: the peer namespace has no IPv4 but loopback. */
  const native = (args: string[], label: string) => inNs(topo.peer, [...args, '--no-ipv4'], label);
  const tunneled = (args: string[], label: string) => inNs(topo.client, [...args, '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`], label);
  const connected = (p: SixswarmProcess) => p.events.filter((e) => e.event === 'peer-connected');
  const connectedTo = (address: string) => (e: JsonEvent) => e.event === 'peer-connected' && e.address === address;
  const v6 = (host: string, port: number) => `[${host}]:${port}`;

  async function payload() {
    const d = join(work, `run-${++runs}`);
    const { torrent, meta, payload } = await seedPayload(d, TREE, PIECE);
    return { d, torrent, digest: await treeDigest(join(d, 'seed')), seed: (host: string, port: number) => rawSeed(host, port, meta, payload) };
  }

  /** The seed, dialing host:port from inside the peer namespace. */
  async function rawSeed(host: string, port: number, meta: Metainfo, data: Buffer): Promise<RawPeer> {
    const s = new RawPeer(await topo.peer.connect(host, port));
    await s.seed(meta.infoHash, data, meta.pieceLength);
    return s;
  }

  /**
   * Native leechers with nothing yet, dialing A: D, then B (B's first PEX message from A names D,
   * and so on: once the first messages are out (heardPex), the next wait a minute, so nobody
   * hears of the newcomer and dials it while it dials them).
   */
  async function dialA(torrent: string, d: string, portA: number, label: string, ns: 'native' | 'tunneled' = 'native'): Promise<{ p: SixswarmProcess; port: number }> {
    const args = ['download', torrent, '-o', join(d, label), '--peer', v6(topo.addresses.peerV6, portA)];
    const p = ns === 'native' ? native(args, label) : tunneled(args, label);
    await p.waitFor(connectedTo(v6(topo.addresses.peerV6, portA)), 20_000, `${label} connected to A`);
    return { p, port: (await p.waitFor((e) => e.event === 'listening' && e.family === 6, 5000)).port as number };
  }

  async function expectCompleted(p: SixswarmProcess, out: string, digest: Record<string, string>): Promise<void> {
    await p.event('complete', 40_000);
    expect(await p.exitCode(), p.stderr).toBe(0);
    expect(await treeDigest(out)).toEqual(digest);
    expect(p.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);
    for (const c of connected(p)) expect(c, JSON.stringify(c)).toMatchObject({ family: 6, direction: 'out' });
  }

  beforeAll(async () => {
    ensureBuilt();
    topo = await createTunnelTopology();
    work = await tempDir('sixswarm-pex-tunnel-');
    server = topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json',
      '--listen', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`,
      '--prefix-range', topo.addresses.tunnelRange,
      '--assignments', join(work, 'assignments.json'),
    ]);
    await server.waitForLine((l) => l.includes('"listening"'));
  });

  afterEach(async () => {
    await stopAll();
  });

  destroyAfterAll(() => topo, () => work, stopAll);

  it('the tunneled IPv4-only host learns a native IPv6 peer from PEX and downloads from it through the tunnel', async () => {
    const { d, torrent, digest, seed } = await payload();
    const a = native(['download', torrent, '-o', join(d, 'a')], 'A');
    const portA = await a.port();
    const { p: dd } = await dialA(torrent, d, portA, 'D');
    const { p: b, port: portB } = await dialA(torrent, d, portA, 'B');
    await b.waitFor(() => connected(b).length >= 2, 10_000, 'B connected to D');
    await heardPex([a, b, dd], 2);

    const t = tunneled(['download', torrent, '-o', join(d, 't'), '--peer', v6(topo.addresses.peerV6, portA), '--exit-on-complete'], 'T');
    const up = await t.waitFor((e) => e.event === 'tunnel' && e.state === 'up', 15_000, 'tunnel up');
    expect(up).toMatchObject({ prefix: PREFIX, address: TUNNEL_ADDRESS });
    const viaPex = await t.waitFor(connectedTo(v6(topo.addresses.peerV6, portB)), 15_000, 'T connected to B');
    expect(viaPex).toMatchObject({ source: 'pex', direction: 'out', family: 6 });
    // B saw it come from the tunnel's address.
    const atB = await b.waitFor((e) => e.event === 'peer-connected' && String(e.address).startsWith(`[${TUNNEL_ADDRESS}]:`), 5000, 'T at B');
    expect(atB).toMatchObject({ direction: 'in', family: 6 });

    const s = await seed(topo.addresses.peerV6, portB);
    await expectCompleted(t, join(d, 't'), digest);
    s.close();
    // Everything came through the tunnel: the host has no other IPv6.
    const last = t.events.filter((e) => e.event === 'progress').at(-1)!;
    expect((last.tunnel as { bytesIn: number }).bytesIn).toBeGreaterThan(TREE['a.bin']);
    expect((last.pex as { taken: number }).taken).toBeGreaterThanOrEqual(2); // B and D, from A
  });

  it('a native IPv6 peer learns the tunneled host\'s address from PEX and connects in to it through the tunnel', async () => {
    const { d, torrent, digest, seed } = await payload();
    const a = native(['download', torrent, '-o', join(d, 'a')], 'A');
    const portA = await a.port();
    const { p: dd } = await dialA(torrent, d, portA, 'D');
    const { p: t, port: portT } = await dialA(torrent, d, portA, 'T', 'tunneled');
    expect(t.events.find((e) => e.event === 'tunnel' && e.state === 'up')).toMatchObject({ prefix: PREFIX, address: TUNNEL_ADDRESS });
    await t.waitFor(() => connected(t).length >= 2, 10_000, 'T connected to D');
    await heardPex([a, t, dd], 2);

    const c = native(['download', torrent, '-o', join(d, 'c'), '--peer', v6(topo.addresses.peerV6, portA), '--exit-on-complete'], 'C');
    const viaPex = await c.waitFor(connectedTo(v6(TUNNEL_ADDRESS, portT)), 15_000, 'C connected to T');
    expect(viaPex).toMatchObject({ source: 'pex', direction: 'out', family: 6 });
    const inAtT = await t.waitFor((e) => e.event === 'peer-connected' && e.direction === 'in' && connected(t).length >= 3, 5000, 'C at T');
    expect(inAtT.address).toMatch(new RegExp(`^\\[${topo.addresses.peerV6}\\]:\\d+$`));

    // The seed dials the tunneled host only.
    const s = await seed(TUNNEL_ADDRESS, portT);
    await expectCompleted(c, join(d, 'c'), digest);
    s.close();
  });
});
