/**
 * The npm bittorrent-tracker server (webtorrent's; a devDependency) as a process of its own, HTTP
 * and UDP on one port over both families: HTTP on `::` (IPv4 arrives v4-mapped), UDP on 0.0.0.0
 * and `::`. Run it inside a namespace of the test's own (`wrap`) so that the wildcard addresses
 * reach nothing else. Its WebSocket tracker and stats page are off.
 */
import { ROOT, spawnTracked, type SixswarmProcess } from './sixswarm.js';

const SERVER = String.raw`
import Server from 'bittorrent-tracker/server';
const port = Number(process.argv[1]);
const server = new Server({ ws: false, stats: false, trustProxy: false });
server.on('error', (e) => console.error('error', e.message));
server.on('warning', (e) => console.error('warning', e.message));
server.on('listening', () => console.log(JSON.stringify({ type: 'listening', port, http: server.http.address().port, udp4: server.udp4.address().port, udp6: server.udp6.address().port })));
server.listen(port, { http: '::', udp: '0.0.0.0', udp6: '::' });
`;

export interface BittorrentTracker {
  port: number;
  proc: SixswarmProcess;
}

/** Starts it on `port` (fixed: the sockets of an ephemeral one would each get another port) under `wrap`. */
export async function startBittorrentTracker(port: number, wrap: string[]): Promise<BittorrentTracker> {
  const cmd = [...wrap, process.execPath, '--input-type=module', '-e', SERVER, String(port)];
  const proc = spawnTracked(cmd[0]!, cmd.slice(1), { cwd: ROOT, label: 'bittorrent-tracker' });
  await proc.waitFor((e) => (e as { type?: string }).type === 'listening', 15_000, 'listening');
  return { port, proc };
}
