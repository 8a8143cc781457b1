/**
 * qbittorrent-nox (Debian: qBittorrent 4.5 on libtorrent 2.0) for interop tests, driven over its
 * WebUI API on 127.0.0.1: a profile of its own (DHT, LSD, UPnP off; TCP only unless asked; encryption
 * allowed; a free peer port on loopback), torrents added from files or magnets with a save path,
 * peers added by address, progress read back. Recipe: /work/shared/interop/qbittorrent.sh.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitListening, waitUntil } from './peers.js';
import { freePort, spawnTracked, type SixswarmProcess } from './sixswarm.js';

export interface QbtTorrent {
  hash: string;
  progress: number;
  state: string;
  num_seeds: number;
  num_leechs: number;
  downloaded: number;
  uploaded: number;
}

export interface Qbittorrent {
  proc: SixswarmProcess;
  /** Its BitTorrent port, on 127.0.0.1 and ::1. */
  peerPort: number;
  /** Add a .torrent file (or a magnet link), saving into `savePath`. */
  add(source: { torrent: string } | { magnet: string }, savePath: string): Promise<void>;
  /** Its torrents as /api/v2/torrents/info lists them. */
  torrents(): Promise<QbtTorrent[]>;
  /** Have it dial these peers ([host]:port) for the torrent `hash` (its v2 hash cut to 40 hex digits if it has one, else its v1 hash). */
  addPeers(hash: string, peers: string[]): Promise<void>;
  /** Wait until the torrent `hash` has checked its files and waits for peers. */
  ready(hash: string, timeoutMs: number): Promise<QbtTorrent>;
  /** Wait until the torrent `hash` is complete (progress 1). */
  complete(hash: string, timeoutMs: number): Promise<QbtTorrent>;
  stop(): Promise<void>;
}

/**
 * A qbittorrent-nox in `dir`. `listen`: 'lo' listens on every loopback address (a seed: it only
 * accepts), '::1' binds to that address only (a leech, which must dial out). `protocol`: its peer
 * transports (Session\\BTProtocol; default TCP).
 */
export async function startQbittorrent(dir: string, listen: 'lo' | '::1', protocol: 'TCP' | 'UTP' | 'Both' = 'TCP'): Promise<Qbittorrent> {
  const peerPort = await freePort();
  const webPort = await freePort();
  await mkdir(join(dir, 'qBittorrent', 'config'), { recursive: true });
  const iface = listen === 'lo' ? ['Session\\Interface=lo', 'Session\\InterfaceName=lo', 'Session\\InterfaceAddress='] : ['Session\\Interface=', 'Session\\InterfaceName=', 'Session\\InterfaceAddress=::1'];
  await writeFile(
    join(dir, 'qBittorrent', 'config', 'qBittorrent.conf'),
    [
      '[LegalNotice]',
      'Accepted=true',
      '',
      '[BitTorrent]',
      `Session\\Port=${peerPort}`,
      'Session\\UseRandomPort=false',
      ...iface,
      'Session\\DHTEnabled=false',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      'Session\\MultiConnectionsPerIp=true',
      `Session\\BTProtocol=${protocol}`,
      'Session\\Encryption=0',
      'Session\\QueueingSystemEnabled=false',
      'Session\\GlobalMaxRatio=-1',
      'Session\\TempPathEnabled=false',
      'Session\\AddTrackersEnabled=false',
      '',
      '[Network]',
      'PortForwardingEnabled=false',
      '',
      '[Preferences]',
      'Connection\\ResolvePeerCountries=false',
      'Connection\\ResolvePeerHostNames=false',
      'WebUI\\Address=127.0.0.1',
      `WebUI\\Port=${webPort}`,
      'WebUI\\LocalHostAuth=false',
      'WebUI\\UseUPnP=false',
      'WebUI\\CSRFProtection=false',
      'WebUI\\HostHeaderValidation=false',
      '',
    ].join('\n'),
  );
  const proc = spawnTracked('qbittorrent-nox', [`--profile=${dir}`], { label: 'qbittorrent-nox' });
  await waitListening('127.0.0.1', webPort, proc);
  const api = `http://127.0.0.1:${webPort}/api/v2`;
  const post = async (path: string, form: FormData): Promise<void> => {
    const r = await fetch(`${api}${path}`, { method: 'POST', body: form });
    if (!r.ok) throw new Error(`qbittorrent ${path}: HTTP ${r.status} ${await r.text()}`);
  };
  const torrents = async (): Promise<QbtTorrent[]> => (await (await fetch(`${api}/torrents/info`)).json()) as QbtTorrent[];
  return {
    proc,
    peerPort,
    async add(source, savePath) {
      const form = new FormData();
      if ('torrent' in source) form.append('torrents', new Blob([await readFile(source.torrent)]), 'x.torrent');
      else form.append('urls', source.magnet);
      form.append('savepath', savePath);
      await post('/torrents/add', form);
    },
    torrents,
    async addPeers(hash, peers) {
      const form = new FormData();
      form.append('hashes', hash);
      form.append('peers', peers.join('|'));
      await post('/torrents/addPeers', form);
    },
    ready(hash, timeoutMs) {
      return waitUntil(
        async () => (await torrents()).find((t) => t.hash === hash && /^(stalled|queued)?(DL|UP)$|^(downloading|uploading)$/i.test(t.state)),
        timeoutMs,
        () => `qbittorrent to be ready with ${hash}`,
      );
    },
    complete(hash, timeoutMs) {
      return waitUntil(
        async () => (await torrents()).find((t) => t.hash === hash && t.progress === 1),
        timeoutMs,
        () => `qbittorrent to complete ${hash}`,
      );
    },
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
  };
}
