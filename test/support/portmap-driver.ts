/**
 * A PortMapper in a process of its own, for tests that run it inside a network namespace (a
 * process cannot move a socket between namespaces). Bundled by natlab.ts with esbuild from the
 * sources, so it always runs the code under test.
 *
 *   node portmap-driver.mjs '{"port":6881,"protocols":["pcp"],...}'
 *
 * Listens on the port itself (TCP and UDP, both families: what a torrent client would), answers
 * each TCP connection and UDP datagram with "hello-from-<tag>", runs the mapper and prints JSON
 * lines on stdout: {"type":"log"|"mapping"|"status"|"started"|"stopped", ...}. Reads commands
 * on stdin: "status" prints the verdicts, "stop" deletes the mappings, prints "stopped" and exits.
 * SIGTERM does the same as "stop".
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { PortMapper, type PortMapperOptions } from '../../src/portmap/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as PortMapperOptions & { tag?: string };
const tag = opts.tag ?? 'lan';
const print = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);

const tcp = createServer((s) => {
  s.on('error', () => {});
  s.end(`hello-from-${tag}\n`);
});
await new Promise<void>((resolve) => tcp.listen({ host: '::', port: opts.port }, resolve));
for (const type of ['udp4', 'udp6'] as const) {
  const u = createSocket({ type, ipv6Only: type === 'udp6' });
  u.on('message', (_m, r) => u.send(`hello-from-${tag}\n`, r.port, r.address));
  await new Promise<void>((resolve) => u.bind({ port: opts.port, address: type === 'udp4' ? '0.0.0.0' : '::' }, resolve));
}

const mapper = new PortMapper({ ...opts, log: (line) => print({ type: 'log', line }) });
mapper.on('mapping', (e) => print({ type: 'mapping', ...e }));
mapper.on('status', (s) => print({ type: 'status', status: s }));

let stopping: Promise<void> | undefined;
const stop = () =>
  (stopping ??= (async () => {
    const t0 = Date.now();
    await mapper.stop();
    print({ type: 'stopped', ms: Date.now() - t0, status: mapper.status() });
    process.exit(0);
  })());
process.on('SIGTERM', () => void stop());
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'status') print({ type: 'status', status: mapper.status(), advertised: { 4: mapper.advertised(4) ?? null, 6: mapper.advertised(6) ?? null } });
  if (line.trim() === 'stop') void stop();
});

const t0 = Date.now();
await mapper.start();
print({ type: 'started', ms: Date.now() - t0, status: mapper.status(), advertised: { 4: mapper.advertised(4) ?? null, 6: mapper.advertised(6) ?? null } });
