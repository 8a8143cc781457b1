/**
 * Our MSE against libtorrent 2.0 (python3-libtorrent) over real sockets on [::1]: with its
 * encryption forced both ways and RC4 (or plaintext) the only level it allows, our initiator and
 * our responder each finish the MSE handshake and a BitTorrent handshake exchange with it, and
 * libtorrent reports the connection as RC4- (or plaintext-) encrypted.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { infoHashIndex, type CryptoMethod } from '../../src/mse/handshake.js';
import { acceptIncoming, initiateMse } from '../../src/mse/negotiate.js';
import { connectSharedRead } from '../../src/transport/kernel/shared-read.js';
import { TcpTransport } from '../../src/transport/kernel/tcp-transport.js';
import { encodeHandshake, HANDSHAKE_LENGTH, parseHandshake } from '../../src/wire/handshake.js';
import type { Transport } from '../../src/transport/transport.js';
import { mktorrent, PYTHON, waitUntil } from '../support/peers.js';
import { freePort, removeDir, spawnTracked, stopAll, tempDir, type SixswarmProcess } from '../support/sixswarm.js';

/**
 * One libtorrent session on [::1] (DHT, LSD, UPnP, NAT-PMP, uTP off) with the encryption settings
 * given; prints `listening`, `checked` (ready for peers; it dials `connect` then), then `peers` (handshaken peers with their encryption) whenever that
 * list changes, and `disconnected` messages.
 */
const DRIVER = String.raw`
import json, sys, time
import libtorrent as lt
cfg = json.loads(sys.argv[1])
def out(**e):
    print(json.dumps(e), flush=True)
policy = {'forced': int(lt.enc_policy.forced), 'enabled': int(lt.enc_policy.enabled), 'disabled': int(lt.enc_policy.disabled)}
level = {'rc4': int(lt.enc_level.rc4), 'plaintext': int(lt.enc_level.plaintext), 'both': int(lt.enc_level.both)}
cat = lt.alert.category_t
ses = lt.session({
    'listen_interfaces': '[::1]:%d' % cfg['port'],
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'allow_multiple_connections_per_ip': True,
    'out_enc_policy': policy[cfg['out']], 'in_enc_policy': policy[cfg['in']], 'allowed_enc_level': level[cfg['level']],
    'prefer_rc4': True,
    'alert_mask': cat.error_notification | cat.peer_notification | cat.connect_notification | cat.status_notification,
})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(cfg['torrent'])
p.save_path = cfg['save']
h = ses.add_torrent(p)
h.set_flags(lt.torrent_flags.disable_pex)
checked = False
shown = None
while True:
    for a in ses.pop_alerts():
        kind = type(a).__name__
        if kind == 'listen_succeeded_alert':
            out(event='listening', port=a.port)
        elif kind in ('listen_failed_alert', 'torrent_error_alert'):
            out(event='error', message=a.message())
        elif kind == 'peer_disconnected_alert':
            out(event='disconnected', message=a.message())
    s = h.status()
    # Until its auto-manager resumes the torrent it turns incoming connections away.
    if not checked and not h.flags() & lt.torrent_flags.paused and s.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
        checked = True
        out(event='checked')
        if cfg['connect']:
            h.connect_peer(('::1', cfg['connect']))
    peers = sorted('%s rc4=%d plain=%d pid=%s' % ('out' if q.flags & q.outgoing_connection else 'in', bool(q.flags & q.rc4_encrypted), bool(q.flags & q.plaintext_encrypted), bytes(q.pid.to_bytes()).hex())
                   for q in h.get_peer_info() if not q.flags & q.connecting and not q.flags & q.handshake)
    if peers != shown:
        shown = peers
        out(event='peers', peers=peers)
    time.sleep(0.05)
`;

interface Lt {
  proc: SixswarmProcess;
  port: number;
}

async function libtorrent(o: { torrent: string; save: string; out: string; in: string; level: string; connect?: number }): Promise<Lt> {
  const port = await freePort();
  const cfg = { ...o, port, connect: o.connect ?? 0 };
  const proc = spawnTracked(PYTHON, ['-c', DRIVER, JSON.stringify(cfg)], { label: 'libtorrent' });
  await proc.event('listening', 20_000);
  await proc.event('checked', 20_000);
  return { proc, port };
}

function peersOf(lt: Lt): string[] {
  return lt.proc.events.filter((e) => e.event === 'peers').flatMap((e) => e.peers as string[]);
}

/** The first `n` bytes a transport delivers (copied: chunks may be transient). */
function readBytes(t: Transport, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let have = 0;
    t.start({
      data(chunk) {
        got.push(Buffer.from(chunk));
        have += chunk.length;
        if (have >= n) resolve(Buffer.concat(got).subarray(0, n));
      },
      drain() {},
      close(reason) {
        reject(new Error(`closed before ${n} bytes arrived: ${reason}`));
      },
    });
  });
}

function dialTcp(port: number): Promise<TcpTransport> {
  return new Promise((resolve, reject) => {
    const s = connectSharedRead({ host: '::1', port });
    s.once('connect', () => resolve(new TcpTransport(s)));
    s.once('error', reject);
  });
}

const servers: Server[] = [];
let dir: string | undefined;
afterEach(async () => {
  await stopAll();
  for (const s of servers.splice(0)) s.close();
  await removeDir(dir);
  dir = undefined;
});

async function torrent(): Promise<{ torrent: string; infoHash: Buffer; save: string }> {
  dir = await tempDir('sixswarm-mse-lt-');
  await writeFile(join(dir, 'payload.bin'), randomBytes(100_000));
  const file = join(dir, 'payload.torrent');
  await mktorrent(join(dir, 'payload.bin'), file, 15);
  return { torrent: file, infoHash: (await readTorrentFile(file)).infoHash, save: join(dir, 'lt') };
}

const peerId = (): Buffer => Buffer.concat([Buffer.from('-SX0001-'), randomBytes(12)]);

describe('MSE with libtorrent', () => {
  for (const [level, method] of [
    ['rc4', 'rc4'],
    ['plaintext', 'plaintext'],
  ] as [string, CryptoMethod][]) {
    it(`our initiator -> libtorrent forcing encryption, level ${level}`, async () => {
      const t = await torrent();
      const lt = await libtorrent({ torrent: t.torrent, save: t.save, out: 'forced', in: 'forced', level });
      const id = peerId();
      const conn = await initiateMse(await dialTcp(lt.port), {
        infoHash: t.infoHash,
        initialPayload: encodeHandshake(t.infoHash, id),
        provide: ['rc4', 'plaintext'],
      });
      expect(conn.method).toBe(method);
      expect(conn.transport.encrypted).toBe(method === 'rc4');
      const theirs = parseHandshake(await readBytes(conn.transport, HANDSHAKE_LENGTH));
      expect(theirs?.infoHash.equals(t.infoHash)).toBe(true);
      const flag = method === 'rc4' ? 'rc4=1 plain=0' : 'rc4=0 plain=1';
      await waitUntil(() => peersOf(lt).includes(`in ${flag} pid=${id.toString('hex')}`), 15_000, () => JSON.stringify(lt.proc.events));
      conn.transport.close();
    });

    it(`libtorrent forcing encryption, level ${level} -> our responder`, async () => {
      const t = await torrent();
      const id = peerId();
      const accepted = new Promise<Awaited<ReturnType<typeof acceptIncoming>>>((resolve, reject) => {
        const server = createServer((s: Socket) => {
          acceptIncoming(new TcpTransport(s), { plaintext: false, mse: { findInfoHash: infoHashIndex([randomBytes(20), t.infoHash]), allowed: ['rc4', 'plaintext'] } }).then(resolve, reject);
        });
        servers.push(server);
        server.listen(0, '::1');
      });
      const port = await new Promise<number>((r) => servers[0]!.once('listening', () => r((servers[0]!.address() as { port: number }).port)));
      const lt = await libtorrent({ torrent: t.torrent, save: t.save, out: 'forced', in: 'forced', level, connect: port });
      const conn = await accepted;
      expect(conn.kind).toBe('mse');
      if (conn.kind !== 'mse') return;
      expect(conn.method).toBe(method);
      expect(conn.infoHash.equals(t.infoHash)).toBe(true);
      // Its BitTorrent handshake came as the initial payload; ours goes back through the transport.
      const theirs = parseHandshake(await readBytes(conn.transport, HANDSHAKE_LENGTH));
      expect(theirs?.infoHash.equals(t.infoHash)).toBe(true);
      conn.transport.write(encodeHandshake(t.infoHash, id));
      const flag = method === 'rc4' ? 'rc4=1 plain=0' : 'rc4=0 plain=1';
      await waitUntil(() => peersOf(lt).includes(`out ${flag} pid=${id.toString('hex')}`), 15_000, () => JSON.stringify(lt.proc.events));
      conn.transport.close();
    });
  }
});
