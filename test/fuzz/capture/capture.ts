/**
 * Captures real peers' bytes for the corpus (`node scripts/fuzz.mjs --capture`): a libtorrent
 * (Debian's python3-libtorrent) seeding the capture torrent is talked to over loopback by raw
 * sockets here, and opentracker answers announces and scrapes. What they send is saved as
 * `real-libtorrent-*` and `real-opentracker-*` inputs, which the fuzz tests require to be
 * accepted. The MSE captures run our fixed-key machines live against libtorrent, so the bytes it
 * sent replay exactly. Only 127.0.0.1 is used.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BDict, decode, decodePrefix, encode } from '../../../src/bencode/index.js';
import { encodeQuery } from '../../../src/dht/krpc.js';
import { encodeMetadataMessage } from '../../../src/ext/ut-metadata/codec.js';
import { connectRequest, announceRequest, scrapeRequest, connectReply, announceReply } from '../../../src/tracker/udp-protocol.js';
import { encodeExtensionHandshake } from '../../../src/wire/extension-handshake.js';
import { encodeHandshake } from '../../../src/wire/handshake.js';
import { encode as wire, MSG } from '../../../src/wire/messages.js';
import { startOpentracker } from '../../support/opentracker.js';
import type { HandshakeStep } from '../../../src/mse/handshake.js';
import { initiatorUnderTest, responderUnderTest } from '../targets/mse.js';
import { CAPTURE_INFO_HASH, CAPTURE_NAME, CAPTURE_PIECE, CAPTURE_PIECES, captureTorrent } from './torrent.js';

export interface Captured {
  corpus: string;
  name: string;
  bytes: Buffer;
}

const PYTHON = '/usr/bin/python3';

/** libtorrent seeding the capture torrent; it reads "connect PORT" and "tracker URL" lines on stdin. */
const DRIVER = String.raw`
import json, sys, time, select
import libtorrent as lt
cfg = json.loads(sys.argv[1])
def out(**e):
    print(json.dumps(e), flush=True)
ses = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': True, 'dht_bootstrap_nodes': '',
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False, 'dht_block_ratelimit': 100000,
    'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'allow_multiple_connections_per_ip': True,
    'announce_to_all_trackers': True, 'announce_to_all_tiers': True,
    'out_enc_policy': int(lt.enc_policy.forced), 'in_enc_policy': int(lt.enc_policy.enabled),
    'allowed_enc_level': int(lt.enc_level.both), 'prefer_rc4': True,
    'alert_mask': lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(cfg['torrent'])
p.save_path = cfg['save']
h = ses.add_torrent(p)
ready = False
while True:
    for a in ses.pop_alerts():
        if type(a).__name__ in ('listen_failed_alert', 'torrent_error_alert', 'file_error_alert'):
            out(event='error', message=a.message())
    s = h.status()
    if not ready and s.is_seeding:
        ready = True
        out(event='ready', port=ses.listen_port(), dht=ses.listen_port())
    if select.select([sys.stdin], [], [], 0.05)[0]:
        line = sys.stdin.readline().split()
        if not line:
            break
        if line[0] == 'connect':
            h.connect_peer(('127.0.0.1', int(line[1])))
        elif line[0] == 'tracker':
            h.add_tracker({'url': line[1], 'tier': 0})
            h.force_reannounce()
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Everything a socket receives until it closes or `ms` pass. */
function collect(socket: Socket, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const done = () => {
      clearTimeout(t);
      socket.destroy();
      resolve(Buffer.concat(parts));
    };
    const t = setTimeout(done, ms);
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('close', done);
    socket.on('error', () => undefined);
  });
}

/** The frames of a stream after its 68-byte handshake: [id, payload] each (keep-alives as id -1). */
function frames(stream: Buffer): { id: number; payload: Buffer; raw: Buffer }[] {
  const out: { id: number; payload: Buffer; raw: Buffer }[] = [];
  for (let off = 0; off + 4 <= stream.length; ) {
    const len = stream.readUInt32BE(off);
    if (off + 4 + len > stream.length) break;
    out.push({ id: len === 0 ? -1 : stream[off + 4]!, payload: stream.subarray(off + 5, off + 4 + len), raw: stream.subarray(off, off + 4 + len) });
    off += 4 + len;
  }
  return out;
}

/** Whole frames only: a capture cut mid-frame by the timer is not what the peer meant to send. */
const wholeFrames = (stream: Buffer) => Buffer.concat(frames(stream).map((f) => f.raw));

class Libtorrent {
  private constructor(private readonly proc: ChildProcess, readonly port: number) {}

  static async start(dir: string): Promise<Libtorrent> {
    const torrent = join(dir, 'capture.torrent');
    writeFileSync(torrent, captureTorrent());
    writeFileSync(join(dir, CAPTURE_NAME), Buffer.alloc(CAPTURE_PIECE * CAPTURE_PIECES));
    const proc = spawn(PYTHON, ['-c', DRIVER, JSON.stringify({ torrent, save: dir })], { stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`libtorrent did not start seeding within 30 s: ${log}`)), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        for (const line of d.toString().split('\n').filter(Boolean)) {
          const e = JSON.parse(line) as { event: string; port?: number; message?: string };
          if (e.event === 'ready') {
            clearTimeout(t);
            resolve(e.port!);
          } else if (e.event === 'error') log += `${e.message}\n`;
        }
      });
      proc.on('exit', () => reject(new Error(`libtorrent exited: ${log}`)));
    });
    return new Libtorrent(proc, port);
  }

  command(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

/** A peer of ours on the plain wire: handshake, extension handshake (ut_metadata 3, ut_pex 4, our port), then `then`. */
async function plainPeer(lt: Libtorrent, listenPort: number, then: (s: Socket, ltExtensions: Map<string, number>) => void): Promise<Buffer> {
  const s = connect(lt.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const received = collect(s, 4000);
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  s.write(encodeHandshake(CAPTURE_INFO_HASH, Buffer.from(`-SX0001-${String(listenPort).padStart(12, '0')}`)));
  s.write(wire.extended(0, encodeExtensionHandshake({ extensions: { ut_metadata: 3, ut_pex: 4 }, port: listenPort, client: 'sixswarm fuzz capture', reqq: 250 })));
  // Once libtorrent's extension handshake is in, ask for what it serves.
  const ids = await new Promise<Map<string, number>>((resolve) => {
    const look = () => {
      const stream = Buffer.concat(parts);
      const ext = stream.length > 68 ? frames(stream.subarray(68)).find((f) => f.id === MSG.extended && f.payload[0] === 0) : undefined;
      if (!ext) return setTimeout(look, 20);
      const m = (decode(ext.payload.subarray(1)) as BDict).get('m') as BDict;
      resolve(new Map([...m].map(([k, v]) => [k, v as number])));
    };
    look();
  });
  then(s, ids);
  return received;
}

export async function captureReal(log: (text: string) => void): Promise<Captured[]> {
  const out: Captured[] = [];
  /** A capture; `refused` ones (error pages, error replies) are named captured-* since real-* must be accepted. */
  const save = (corpus: string, name: string, bytes: Buffer, refused = false) => {
    if (bytes.length === 0 || bytes.length >= 64 * 1024) return log(`skipped ${corpus}/${name}: ${bytes.length} bytes`);
    out.push({ corpus, name: `${refused ? 'captured' : 'real'}-${name}`, bytes });
  };
  const dir = mkdtempSync(join(tmpdir(), 'sixswarm-fuzz-capture-'));
  const lt = await Libtorrent.start(dir);
  try {
    // ---- the plain wire: two peers of ours, so each hears of the other by PEX
    const listeners = [createServer(), createServer()];
    const ports = await Promise.all(listeners.map(listen));
    const [a, b] = await Promise.all(ports.map((port) => plainPeer(lt, port, (s, ids) => {
      s.write(wire.message({ type: 'interested' }));
      s.write(wire.message({ type: 'request', index: 3, begin: 0, length: 16384 }));
      const md = ids.get('ut_metadata');
      if (md) s.write(wire.extended(md, encodeMetadataMessage({ type: 'request', piece: 0 })));
    })));
    for (const l of listeners) l.close();
    for (const [who, stream] of [['a', a!], ['b', b!]] as const) {
      const after = wholeFrames(stream.subarray(68));
      save('wire', `libtorrent-stream-${who}`, after);
      for (const f of frames(stream.subarray(68))) {
        if (f.id !== MSG.extended) continue;
        const id = f.payload[0];
        const payload = f.payload.subarray(1);
        if (id === 0) save('ext-handshake', `libtorrent-${who}`, payload);
        if (id === 3) save('ut-metadata', `libtorrent-data-${who}`, payload);
        if (id === 4) save('pex', `libtorrent-${who}`, payload);
      }
    }
    log(`wire: ${a!.length} and ${b!.length} bytes from libtorrent`);

    // ---- the DHT: our queries, its answers (and any query it sends us back)
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const datagrams: Buffer[] = [];
    udp.on('message', (m) => datagrams.push(m));
    const id = Buffer.alloc(20, 0x5a);
    const queries = [
      encodeQuery(Buffer.from('p1'), id, { q: 'ping' }),
      encodeQuery(Buffer.from('f1'), id, { q: 'find_node', target: Buffer.alloc(20, 0x11) }),
      encodeQuery(Buffer.from('g1'), id, { q: 'get_peers', infoHash: CAPTURE_INFO_HASH }),
      encodeQuery(Buffer.from('a1'), id, { q: 'announce_peer', infoHash: CAPTURE_INFO_HASH, port: 6881, impliedPort: false, token: Buffer.from('forged') }),
      encode({ a: { id }, q: 'vote', t: 'v1', y: 'q' }),
    ];
    for (const q of queries) {
      udp.send(q, lt.port, '127.0.0.1');
      await sleep(200);
    }
    await sleep(1000);
    udp.close();
    datagrams.forEach((d, i) => {
      const v = decode(d) as BDict;
      const y = (v.get('y') as Buffer | undefined)?.toString() ?? '?';
      const what = y === 'q' ? `query-${(v.get('q') as Buffer).toString()}` : `${y === 'r' ? 'response' : 'error'}-${(v.get('t') as Buffer).toString('latin1').replace(/[^a-z0-9]/gi, '')}`;
      save('krpc', `libtorrent-${what}-${i}`, d);
    });
    log(`krpc: ${datagrams.length} datagrams from libtorrent`);

    // ---- MSE, libtorrent dialing us: our fixed-key responder answers it live
    const responded = await new Promise<Buffer>((resolve) => {
      const server = createServer((s) => {
        const machine = responderUnderTest();
        const got: Buffer[] = [];
        let done = false;
        s.on('data', (d: Buffer) => {
          got.push(d);
          if (done) return;
          let step: HandshakeStep;
          try {
            step = machine.feed(d);
          } catch (e) {
            log(`mse-responder: libtorrent's handshake failed here: ${(e as Error).message}`);
            return s.destroy();
          }
          for (const x of step.send) s.write(x);
          if (step.done) done = true;
        });
        setTimeout(() => {
          s.destroy();
          server.close();
          resolve(Buffer.concat(got));
        }, 2000);
      });
      void listen(server).then((port) => lt.command(`connect ${port}`));
    });
    save('mse-responder', 'libtorrent-dialing', responded);
    log(`mse-responder: ${responded.length} bytes from libtorrent`);

    // ---- MSE, us dialing libtorrent with our fixed-key initiator
    const answered = await new Promise<Buffer>((resolve) => {
      const machine = initiatorUnderTest();
      const s = connect(lt.port, '127.0.0.1', () => s.write(machine.start()));
      const got: Buffer[] = [];
      let done = false;
      s.on('data', (d: Buffer) => {
        got.push(d);
        if (done) return;
        try {
          const step = machine.feed(d);
          for (const x of step.send) s.write(x);
          if (step.done) done = true;
        } catch (e) {
          log(`mse-initiator: libtorrent's answer failed here: ${(e as Error).message}`);
          s.destroy();
        }
      });
      s.on('error', () => undefined);
      setTimeout(() => {
        s.destroy();
        resolve(Buffer.concat(got));
      }, 2000);
    });
    save('mse-initiator', 'libtorrent-answering', answered);
    log(`mse-initiator: ${answered.length} bytes from libtorrent`);

    // ---- libtorrent as a tracker client: what it asks an HTTP and a UDP tracker
    const targets: string[] = [];
    const httpServer = http.createServer((req, res) => {
      targets.push(req.url ?? '');
      res.end(encode({ interval: 1800, peers: Buffer.alloc(0) }));
    });
    const httpPort = await new Promise<number>((r) => httpServer.listen(0, '127.0.0.1', () => r((httpServer.address() as AddressInfo).port)));
    const trackerUdp = dgram.createSocket('udp4');
    await new Promise<void>((r) => trackerUdp.bind(0, '127.0.0.1', () => r()));
    const udpRequests: Buffer[] = [];
    trackerUdp.on('message', (m, from) => {
      udpRequests.push(m);
      const action = m.readUInt32BE(8), tx = m.readUInt32BE(12);
      const reply = action === 0 ? connectReply(tx, Buffer.alloc(8, 0xcc)) : announceReply(tx, 1800, 0, 1, [], 4);
      trackerUdp.send(reply, from.port, from.address);
    });
    lt.command(`tracker http://127.0.0.1:${httpPort}/announce`);
    lt.command(`tracker udp://127.0.0.1:${(trackerUdp.address() as AddressInfo).port}/announce`);
    await sleep(3000);
    httpServer.close();
    trackerUdp.close();
    targets.forEach((t, i) => save('tracker-request', `libtorrent-announce-${i}`, Buffer.from(t, 'latin1')));
    udpRequests.forEach((m, i) => save('tracker-udp', `libtorrent-request-${i}`, m));
    log(`trackers: ${targets.length} HTTP and ${udpRequests.length} UDP requests from libtorrent`);

    // ---- opentracker's replies
    const otDir = join(dir, 'opentracker');
    mkdirSync(otDir);
    const ot = await startOpentracker(otDir, [CAPTURE_INFO_HASH.toString('hex')]);
    try {
      const pct = (b: Buffer) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
      // The body opentracker answers (nothing when it hangs up instead).
      const get = (path: string) => new Promise<Buffer>((resolve) => {
        // A fresh connection each: opentracker closes them, and a reused one would hang up.
        http.get({ host: '127.0.0.1', port: ot.port, path, agent: false }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts)));
        }).on('error', (e) => {
          log(`opentracker hung up on ${path.slice(0, 40)}…: ${e.message}`);
          resolve(Buffer.alloc(0));
        });
      });
      const announce = (peer: number, extra = '') => get(`/announce?info_hash=${pct(CAPTURE_INFO_HASH)}&peer_id=${pct(Buffer.from(`-XX0001-peer${String(peer).padStart(8, '0')}`))}&port=${6880 + peer}&left=0&compact=1${extra}`);
      for (let p = 1; p <= 3; p++) await announce(p);
      save('tracker-http', 'opentracker-announce', await announce(4));
      const dictionaryModel = await announce(5, '&compact=0');
      save('tracker-http', 'opentracker-announce-no-compact', dictionaryModel, dictionaryModel[0] !== 0x64);
      save('tracker-http', 'opentracker-scrape', await get(`/scrape?info_hash=${pct(CAPTURE_INFO_HASH)}`));
      // Not on its whitelist: a failure reason.
      save('tracker-http', 'opentracker-unknown-torrent', await get(`/announce?info_hash=${pct(Buffer.alloc(20, 1))}&peer_id=${pct(Buffer.alloc(20, 2))}&port=1&compact=1`), true);

      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      // What opentracker answers within a second (nothing, for some mistakes).
      const ask = (packet: Buffer) => new Promise<Buffer>((resolve) => {
        const t = setTimeout(() => {
          sock.removeAllListeners('message');
          resolve(Buffer.alloc(0));
        }, 1000);
        sock.once('message', (m) => {
          clearTimeout(t);
          resolve(m);
        });
        sock.send(packet, ot.port, '127.0.0.1');
      });
      const conn = await ask(connectRequest(1));
      save('tracker-udp', 'opentracker-reply-connect', conn);
      const connId = conn.subarray(8, 16);
      save('tracker-udp', 'opentracker-reply-announce', await ask(announceRequest(connId, 2, { infoHash: CAPTURE_INFO_HASH, peerId: Buffer.from('-XX0001-udp000000001'), downloaded: 0, left: 0, uploaded: 0, event: 'started', ip: 0, key: 1, numwant: 50, port: 7000 })));
      save('tracker-udp', 'opentracker-reply-scrape', await ask(scrapeRequest(connId, 3, [CAPTURE_INFO_HASH])));
      save('tracker-udp', 'opentracker-reply-error', await ask(announceRequest(Buffer.alloc(8), 4, { infoHash: Buffer.alloc(20, 1), peerId: Buffer.alloc(20, 2), downloaded: 0, left: 0, uploaded: 0, ip: 0, key: 1, numwant: 50, port: 7000 })));
      sock.close();
      log('trackers: opentracker replies captured');
    } finally {
      await ot.stop();
    }
  } finally {
    lt.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // Each capture must at least be what it claims to be: bencode where bencode is expected.
  for (const c of out) if (c.name.startsWith('real-') && ['ext-handshake', 'pex', 'krpc', 'tracker-http'].includes(c.corpus)) decodePrefix(c.bytes, { allowTrailing: true });
  return out;
}
