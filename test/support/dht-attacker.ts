/**
 * Hostile DHT nodes for tests, on loopback addresses only: a Sybil host (one IP, many UDP ports,
 * each answering every query with ids ever closer to the target, naming its own other ports as
 * the next hops, and fake peers at a third host), and KRPC sockets to query a node from many
 * source addresses.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { BDict, asBytes, asDict, decode, encode, type Encodable } from '../../src/bencode/index.js';
import { encodeCompactPeer } from '../../src/net/compact.js';

/** A loopback UDP socket on `host` (any port). */
export async function udpSocket(host: string): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('error', () => {}); // an ICMP "port unreachable" from a closed test socket is no failure
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  return s;
}

export function send(s: Socket, to: { host: string; port: number }, m: Record<string, Encodable> | Buffer): Promise<void> {
  return new Promise((r) => s.send(Buffer.isBuffer(m) ? m : encode(m), to.port, to.host, () => r()));
}

/** The id a Sybil port `j` claims near `target`: the target's first 18 bytes, then j. */
export function sybilId(target: Buffer, j: number): Buffer {
  const id = Buffer.from(target);
  id.writeUInt16BE(j ^ (target.readUInt16BE(18) ^ 1), 18); // never the target itself
  return id;
}

export interface SybilOptions {
  /** The info hash under attack: the ids its ports ping with. */
  target: Buffer;
  /** Fake peers in every get_peers reply: `count` random ports at `host`. */
  fakePeers?: { host: string; count: number };
}

export class SybilHost {
  private constructor(
    readonly host: string,
    readonly sockets: Socket[],
    private readonly opts: SybilOptions,
  ) {
    sockets.forEach((s, j) => s.on('message', (b, from) => this.answer(s, j, b, { host: from.address, port: from.port })));
  }

  /** Queries answered so far. */
  answered = 0;
  /** What each port said its id was when it pinged last (a ping is answered with the same). */
  private readonly pinged = new Map<number, Buffer>();

  private pingId(j: number): Buffer {
    return this.pinged.get(j) ?? sybilId(this.opts.target, j);
  }

  static async start(host: string, ports: number, opts: SybilOptions): Promise<SybilHost> {
    const sockets = await Promise.all(Array.from({ length: ports }, () => udpSocket(host)));
    return new SybilHost(host, sockets, opts);
  }

  port(j: number): number {
    return this.sockets[j]!.address().port;
  }

  private answer(s: Socket, j: number, b: Buffer, from: { host: string; port: number }): void {
    let msg: BDict;
    try {
      msg = asDict(decode(b), 'message');
    } catch {
      return;
    }
    if (msg.get('y')?.toString() !== 'q') return;
    const t = asBytes(msg.get('t'), 't');
    const a = asDict(msg.get('a'), 'a');
    const q = msg.get('q')?.toString();
    const target = (a.get('info_hash') ?? a.get('target')) as Buffer | undefined;
    const r: Record<string, Encodable> = { id: target ? sybilId(target, j) : this.pingId(j), token: 'sybiltoken' };
    if (target && (q === 'find_node' || q === 'get_peers')) {
      const n = this.sockets.length;
      r.nodes = Buffer.concat(Array.from({ length: 8 }, (_, i) => (j + 1 + i) % n).map((k) => Buffer.concat([sybilId(target, k), encodeCompactPeer({ host: this.host, port: this.port(k) })])));
    }
    if (q === 'get_peers' && this.opts.fakePeers) {
      const { host, count } = this.opts.fakePeers;
      r.values = Array.from({ length: count }, () => encodeCompactPeer({ host, port: 1024 + Math.floor(Math.random() * 60000) }));
    }
    this.answered++;
    void send(s, from, { t, y: 'r', r });
  }

  /** Ping `node` from every port (so it hears of all of them), with ids near the target or random ones (spread over every bucket). */
  async pingFromAll(node: { host: string; port: number }, ids: 'near' | 'random' = 'near'): Promise<void> {
    await Promise.all(
      this.sockets.map((s, j) => {
        const id = ids === 'near' ? sybilId(this.opts.target, j) : randomBytes(20);
        this.pinged.set(j, id);
        return send(s, node, { t: 'sy', y: 'q', q: 'ping', a: { id } });
      }),
    );
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}

/** A random 20-byte id. */
export const randomId = (): Buffer => randomBytes(20);
