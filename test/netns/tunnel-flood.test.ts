/**
 * The tunnel server against one host that floods it, in network namespaces: silent connections
 * must not keep another host's client from its tunnel, fresh Ids from one address must not take
 * returning clients' prefixes (without tokens), and an Id that is not printable ASCII is refused
 * without reaching the log. The flooding host is a second address of the client namespace.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTunnelTopology, destroyAfterAll, netnsUnavailable, type NsProcess, type TunnelTopology } from '../support/netns.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'sixswarm.js');
const PORT = 14629;
const unavailable = netnsUnavailable() ?? (existsSync(CLI) ? undefined : 'dist/bin/sixswarm.js is missing: run `npm run build` first');

/**
 * Runs inside the client namespace: `silent N FROM...` opens N connections spread over the FROM
 * addresses and sends nothing (prints "open N" once all connected); `hellos FROM ID...` sends one
 * hello per Id from FROM, one at a time, and prints each reply (or "closed") as a JSON line.
 */
const FLOODER = `
const net = require('node:net');
const [mode, host, port, ...rest] = process.argv.slice(1);
if (mode === 'silent') {
  const [n, ...from] = rest;
  let open = 0;
  for (let i = 0; i < Number(n); i++) {
    const s = net.connect({ host, port: Number(port), localAddress: from[i % from.length] });
    s.on('error', () => {});
    s.on('connect', () => { if (++open === Number(n)) console.log('open ' + open); });
  }
} else {
  const [from, ...ids] = rest;
  (async () => {
    for (const id of ids) {
      const reply = await new Promise((resolve) => {
        const s = net.connect({ host, port: Number(port), localAddress: from });
        let got = '';
        s.on('error', () => {});
        s.on('connect', () => s.write(JSON.stringify({ Id: id })));
        s.on('data', (d) => { got += d; if (got.includes('}')) { s.destroy(); resolve(got.slice(0, got.indexOf('}') + 1)); } });
        s.on('close', () => resolve(got || 'closed'));
      });
      console.log(JSON.stringify({ id, reply }));
    }
    console.log('done');
  })();
}
`;

describe.skipIf(unavailable !== undefined)('the tunnel server under a flood from one host (network namespaces)', () => {
  let topo: TunnelTopology;
  let dir: string;
  const procs: NsProcess[] = [];
  const flooder = '192.0.2.3';
  const many = Array.from({ length: 20 }, (_, i) => `192.0.2.${10 + i}`);

  beforeAll(async () => {
    topo = await createTunnelTopology();
    for (const a of [flooder, ...many]) await topo.client.ip(['addr', 'add', `${a}/24`, 'dev', 'up0']);
    dir = await mkdtemp(join(tmpdir(), 'sixswarm-tunnel-flood-'));
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await rm(join(dir, 'assignments.json'), { force: true });
  });
  destroyAfterAll(() => topo, () => dir);

  async function startServer(extra: string[] = []): Promise<NsProcess> {
    const server = topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json', '--listen', `${topo.addresses.brokerV4}:${PORT}`,
      '--prefix-range', topo.addresses.tunnelRange, '--assignments', join(dir, 'assignments.json'), ...extra,
    ]);
    procs.push(server);
    await server.waitForLine((l) => l.includes('"listening"'));
    return server;
  }

  function flood(args: string[]): NsProcess {
    const p = topo.client.spawn(process.execPath, ['-e', FLOODER, args[0]!, topo.addresses.brokerV4, String(PORT), ...args.slice(1)]);
    procs.push(p);
    return p;
  }

  /** `tunnel up` from the client's own address; resolves with its "up" event and how long it took. */
  async function tunnelUp(id: string): Promise<{ up: { prefix: string }; ms: number; client: NsProcess }> {
    const started = Date.now();
    const client = topo.client.spawn(process.execPath, [CLI, 'tunnel', 'up', '--json', '--no-offload', '--server', `${topo.addresses.brokerV4}:${PORT}`, '--id', id]);
    procs.push(client);
    const up = JSON.parse(await client.waitForLine((l) => l.includes('"up"'), { timeoutMs: 30_000 })) as { prefix: string };
    return { up, ms: Date.now() - started, client };
  }

  it('300 silent connections from one host, then from 20: a good client from another address is up at once', async () => {
    await startServer();
    for (const from of [[flooder], many]) {
      const silent = flood(['silent', '300', ...from]);
      await silent.waitForLine((l) => l === 'open 300');
      const { ms, client } = await tunnelUp('good-client');
      expect(ms).toBeLessThan(3000);
      await client.stop();
      await silent.stop('SIGKILL');
    }
  });

  it('300 fresh Ids from one address, no tokens: a returning client keeps its prefix; the flood cycles through its own 16', async () => {
    const server = await startServer();
    const first = await tunnelUp('returning-client');
    await first.client.stop();
    const ids = Array.from({ length: 300 }, (_, i) => `fresh-${i}`);
    const hellos = flood(['hellos', flooder, ...ids]);
    await hellos.waitForLine((l) => l === 'done', { timeoutMs: 120_000 });
    const replies = hellos.json<{ id: string; reply: string }>();
    expect(replies.filter((r) => r.reply.includes('"Prefix"'))).toHaveLength(300);
    const again = await tunnelUp('returning-client');
    expect(again.up.prefix).toBe(first.up.prefix);
    const file = JSON.parse(await readFile(join(dir, 'assignments.json'), 'utf8')) as Record<string, { Source?: string }>;
    expect(Object.values(file).filter((e) => e.Source === flooder)).toHaveLength(16);
    expect(file['returning-client']).toMatchObject({ Source: topo.addresses.clientV4 });
    expect(server.lines.some((l) => l.includes('"prefix-reused"') && l.includes('"fromId":"returning-client"'))).toBe(false);
  });

  it('--ids-per-address 0 keeps the original behaviour: one address may take every prefix', async () => {
    await startServer(['--ids-per-address', '0']);
    const ids = Array.from({ length: 40 }, (_, i) => `many-${i}`);
    const hellos = flood(['hellos', flooder, ...ids]);
    await hellos.waitForLine((l) => l === 'done', { timeoutMs: 60_000 });
    const file = JSON.parse(await readFile(join(dir, 'assignments.json'), 'utf8')) as Record<string, { Source?: string }>;
    expect(Object.keys(file)).toHaveLength(40);
  });

  it('an Id that is not printable ASCII is refused, and never reaches the log', async () => {
    const server = await startServer();
    const bad = ['\u202eevil', 'a\ud800b', 'caf\u00e9', 'two words', 'x'.repeat(129)];
    const hellos = flood(['hellos', flooder, ...bad, 'fine-id']);
    await hellos.waitForLine((l) => l === 'done', { timeoutMs: 30_000 });
    const replies = hellos.json<{ id: string; reply: string }>();
    for (const r of replies.slice(0, bad.length)) expect(r.reply).toContain('"Error":"\\"Id\\" refused: an Id is 1-128 printable ASCII characters without spaces');
    expect(replies.at(-1)!.reply).toContain('"Prefix"');
    await server.waitForLine((l) => l.includes('"session-down"') && l.includes('fine-id'));
    const log = server.lines.join('\n');
    for (const id of bad) expect(log).not.toContain(JSON.stringify(id).slice(1, -1));
    expect(log).not.toContain('\u202e');
  });
});
