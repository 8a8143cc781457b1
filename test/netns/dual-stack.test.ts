/**
 * Dual-stack behaviour of the engine: one connection per peer across families (and for two
 * peers that dial each other at once), at most 8 connections per host (an IPv4 address or an
 * IPv6 /64), and Happy-Eyeballs connects to a name with A and AAAA.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dial, orderAddresses } from '../../src/transport/happy-eyeballs.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import { cleanUpAfterEach, freePort, makeTree, ROOT, runCli, sixswarm, type SixswarmProcess, tempDir, treeDigest } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function torrent(): Promise<{ torrentFile: string; env: NodeJS.ProcessEnv }> {
  dir = await tempDir();
  await makeTree(join(dir, 'seed', 'payload'), { 'a.bin': 900_000, 'b/c.bin': 123_457 });
  const torrentFile = join(dir, 't.torrent');
  const made = await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrentFile, '--piece-length', '32768']);
  expect(made.code, made.stderr).toBe(0);
  return { torrentFile, env: { SIXSWARM_STATE_DIR: join(dir, 'state') } };
}

/** Runs `fn` with a namespace of our own holding a veth pair d0/d1 (both up), removed afterwards. */
async function inNamespace(ns: string, fn: (ns: string, ip: (...a: string[]) => Buffer) => Promise<void>): Promise<void> {
  const ip = (...a: string[]) => execFileSync('ip', a);
  ip('netns', 'add', ns);
  try {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
    ip('-n', ns, 'link', 'set', 'd0', 'up');
    ip('-n', ns, 'link', 'set', 'd1', 'up');
    await fn(ns, ip);
  } finally {
    ip('netns', 'del', ns);
  }
}

const connected = (p: SixswarmProcess) => p.events.filter((e) => e.event === 'peer-connected');
/** The most connections a process had open at once, from its event stream. */
function maxLive(p: SixswarmProcess): number {
  let live = 0, max = 0;
  for (const e of p.events) {
    if (e.event === 'peer-connected') max = Math.max(max, ++live);
    if (e.event === 'peer-disconnected') live--;
  }
  return max;
}

describe('one connection per peer', () => {
  it('keeps one connection when the same seed is given over IPv4 and IPv6', async () => {
    const { torrentFile, env } = await torrent();
    const port = await freePort();
    const seed = sixswarm(['seed', torrentFile, join(dir!, 'seed'), '--port', String(port), '--json'], { env, label: 'seed' });
    await seed.event('checked');
    const leech = sixswarm(
      ['download', torrentFile, '-o', join(dir!, 'leech'), '--port', '0', '--peer', `127.0.0.1:${port}`, '--peer', `[::1]:${port}`, '--json'],
      { env, label: 'leech' },
    );
    await leech.event('complete');
    await new Promise((r) => setTimeout(r, 1000));
    // The second handshake was refused on both ends: never two connections to one peer.
    expect(connected(leech)).toHaveLength(1);
    expect(connected(seed)).toHaveLength(1);
    expect(maxLive(leech)).toBe(1);
    expect(await treeDigest(join(dir!, 'leech', 'payload'))).toEqual(await treeDigest(join(dir!, 'seed', 'payload')));
  });

  it('keeps one connection when two peers dial each other at the same time, one over each family', async () => {
    const { torrentFile, env } = await torrent();
    const [seedPort, leechPort] = [await freePort(), await freePort()];
    // The seed dials the leecher over IPv4 while the leecher dials the seed over IPv6.
    const leech = sixswarm(['download', torrentFile, '-o', join(dir!, 'leech'), '--port', String(leechPort), '--peer', `[::1]:${seedPort}`, '--json'], { env, label: 'leech' });
    const seed = sixswarm(['seed', torrentFile, join(dir!, 'seed'), '--port', String(seedPort), '--peer', `127.0.0.1:${leechPort}`, '--json'], { env, label: 'seed' });
    await leech.event('complete');
    await new Promise((r) => setTimeout(r, 1000));
    // Both ends agree on which connection survives (the one opened by the smaller peer id), so
    // neither ever has two open, and the transfer did not lose its connection along the way.
    expect(maxLive(leech)).toBe(1);
    expect(maxLive(seed)).toBe(1);
    // No churn either: at most the two crossing connections were ever set up on each side (the
    // loser is closed by one side, so the other may see it as closed by the peer).
    expect(connected(leech).length).toBeLessThanOrEqual(2);
    expect(connected(seed).length).toBeLessThanOrEqual(2);
    expect(await treeDigest(join(dir!, 'leech', 'payload'))).toEqual(await treeDigest(join(dir!, 'seed', 'payload')));
  });
});

describe('connections per host', () => {
  it('admits at most 8 connections from one IPv4 address and from one IPv6 /64, whatever the peer ids (in a namespace)', async () => {
    // Loopback is exempt (every test peer lives there), so the hosts are documentation addresses
    // on a veth inside a namespace of our own: connections between them are local, not loopback.
    const { torrentFile, env } = await torrent();
    const info = await runCli(['info', torrentFile, '--json']);
    const infoHash = (JSON.parse(info.stdout) as { infoHash: string }).infoHash;
    await inNamespace(`sx-cap-${process.pid}`, async (ns, ip) => {
      for (const a of ['192.0.2.1/24', '192.0.2.2/24']) ip('-n', ns, 'addr', 'add', a, 'dev', 'd0');
      const many6 = Array.from({ length: 10 }, (_, i) => `2001:db8:1::${(0x10 + i).toString(16)}`);
      for (const a of ['2001:db8:1::1', ...many6, '2001:db8:2::10']) ip('-n', ns, '-6', 'addr', 'add', `${a}/64`, 'dev', 'd0', 'nodad');
      const port = 16881;
      const seed = sixswarm(['seed', torrentFile, join(dir!, 'seed'), '--port', String(port), '--no-trackers', '--json'], { env, label: 'seed', wrap: ['ip', 'netns', 'exec', ns] });
      await seed.event('checked');
      // Each connection: a BitTorrent handshake with a peer id of its own, then 1.5 s to see who is still connected.
      const attempts = [
        ...Array.from({ length: 10 }, () => ({ from: '192.0.2.2', to: '192.0.2.1' })),
        ...many6.map((from) => ({ from, to: '2001:db8:1::1' })),
        { from: '2001:db8:2::10', to: '2001:db8:1::1' },
      ];
      const script = `
        import { connect } from 'node:net';
        import { randomBytes } from 'node:crypto';
        const attempts = ${JSON.stringify(attempts)};
        const handshake = () => Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8),
          Buffer.from(${JSON.stringify(infoHash)}, 'hex'), Buffer.from('-XX0001-'), randomBytes(12)]);
        const open = attempts.map(() => false);
        attempts.forEach((a, i) => {
          const s = connect({ host: a.to, port: ${port}, localAddress: a.from });
          s.on('error', () => {});
          s.on('connect', () => { open[i] = true; s.write(handshake()); });
          s.on('close', () => { open[i] = false; });
          s.resume();
        });
        setTimeout(() => { console.log(JSON.stringify(open)); process.exit(0); }, 1500);`;
      const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { timeout: 20_000 }).toString();
      const open = JSON.parse(out) as boolean[];
      expect(open.slice(0, 10).filter(Boolean)).toHaveLength(8); // one IPv4 address
      expect(open.slice(10, 20).filter(Boolean)).toHaveLength(8); // ten addresses of one /64
      expect(open[20]).toBe(true); // another /64 is another host
      // The seed's events were not read while execFileSync held this process.
      await seed.waitFor(() => connected(seed).length >= 17, 5000, '17 peer-connected events');
      expect(connected(seed)).toHaveLength(17);
      seed.kill('SIGTERM');
      expect(await seed.exited).toBe(0);
    });
  });
});

describe('Happy Eyeballs', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));
  const listen = (host: string) =>
    new Promise<number>((resolve) => {
      const s = createServer((c) => c.destroy());
      servers.push(s);
      s.listen(0, host, () => resolve((s.address() as { port: number }).port));
    });

  it('orders addresses IPv6 first, interleaving the families', () => {
    const t = (host: string) => ({ host, port: 1 });
    expect(orderAddresses([t('192.0.2.1'), t('192.0.2.2'), t('2001:db8::1'), t('2001:db8::2'), t('192.0.2.3')]).map((x) => x.host)).toEqual([
      '2001:db8::1', '192.0.2.1', '2001:db8::2', '192.0.2.2', '192.0.2.3',
    ]);
  });

  it('prefers IPv6 when both answer, and falls back to IPv4 at once when IPv6 is refused', async () => {
    const port6 = await listen('::1');
    const kernel = new KernelNetwork();
    const s6 = await dial(kernel, [{ host: '127.0.0.1', port: await listen('127.0.0.1') }, { host: '::1', port: port6 }]);
    expect(s6.remote.family).toBe(6);
    s6.close();
    const closed = await freePort();
    const port4 = await listen('127.0.0.1');
    const t0 = Date.now();
    const s4 = await dial(kernel, [{ host: '::1', port: closed }, { host: '127.0.0.1', port: port4 }], { staggerMs: 5000 });
    expect(s4.remote.family).toBe(4);
    expect(Date.now() - t0).toBeLessThan(2000); // a refusal does not wait for the stagger delay
    s4.close();
  });

  it('starts the next address after the stagger delay when the first hangs (in a namespace)', async () => {
    // A namespace whose IPv6 subnet lies on a veth pair nobody answers on: neighbour discovery gets
    // no reply, so the connect hangs, as on a network with broken IPv6. The dial runs inside it.
    await inNamespace(`sx-he-${process.pid}`, async (ns, ip) => {
      ip('-n', ns, '-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'd0', 'nodad');
      const script = `
        import { createServer } from 'node:net';
        import { dial } from ${JSON.stringify(join(ROOT, 'dist/src/transport/happy-eyeballs.js'))};
        import { KernelNetwork } from ${JSON.stringify(join(ROOT, 'dist/src/transport/kernel/kernel-network.js'))};
        const s = createServer((c) => c.destroy()).listen(0, '127.0.0.1', async () => {
          const t0 = Date.now();
          const c = await dial(new KernelNetwork(), [{ host: '2001:db8:1::99', port: 80 }, { host: '127.0.0.1', port: s.address().port }], { staggerMs: 300 });
          console.log(JSON.stringify({ family: c.remote.family, ms: Date.now() - t0 }));
          process.exit(0);
        });`;
      const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { timeout: 20_000 }).toString();
      const r = JSON.parse(out) as { family: number; ms: number };
      expect(r.family).toBe(4);
      expect(r.ms).toBeGreaterThanOrEqual(290);
      expect(r.ms).toBeLessThan(3000);
    });
  });

  it('dials a host name with A and AAAA records IPv6 first (sixswarm download --peer name:port)', async () => {
    const { torrentFile, env } = await torrent();
    const port = await freePort();
    const seed = sixswarm(['seed', torrentFile, join(dir!, 'seed'), '--port', String(port), '--json'], { env, label: 'seed' });
    await seed.event('checked');
    const hosts = join(dir!, 'hosts');
    await writeFile(hosts, '127.0.0.1 dual.test\n::1 dual.test\n');
    // A private mount namespace gets its own /etc/hosts, so the name resolves to both families.
    const leech = sixswarm(['download', torrentFile, '-o', join(dir!, 'leech'), '--port', '0', '--peer', `dual.test:${port}`, '--exit-on-complete', '--json'], {
      env,
      label: 'leech',
      wrap: ['unshare', '--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts],
    });
    const c = await leech.event('peer-connected');
    expect(c.family).toBe(6);
    expect(await leech.exited).toBe(0);
  });
});
