/**
 * Test support: a hand-driven uTP endpoint on a real UDP socket, for playing a hostile peer:
 * it sends exactly the packets a test builds (any type, ids, numbers, window, selective ACK)
 * and records every packet it receives, decoded.
 */
import dgram from 'node:dgram';
import type { Family } from '../../src/net/address.js';
import { EXT_SACK, Header, HEADER_BYTES, readHeader, ST_DATA, ST_SYN, writeHeader, type PacketType } from '../../src/utp/packet.js';

export interface Received {
  type: PacketType;
  connectionId: number;
  seq: number;
  ack: number;
  window: number;
  payload: Buffer;
  sack?: Buffer;
}

export class RawUtpPeer {
  readonly received: Received[] = [];
  private constructor(
    readonly socket: dgram.Socket,
    readonly target: { host: string; port: number },
  ) {
    socket.on('message', (b) => {
      const h = new Header();
      if (!readHeader(b, h)) return;
      this.received.push({
        type: h.type,
        connectionId: h.connectionId,
        seq: h.seq,
        ack: h.ack,
        window: h.window,
        payload: b.subarray(h.payloadOffset),
        ...(h.sackBytes > 0 ? { sack: b.subarray(h.sackOffset, h.sackOffset + h.sackBytes) } : {}),
      });
    });
  }

  /** A socket on `bindHost` (any loopback address of the family) aimed at `target`. */
  static async open(family: Family, target: { host: string; port: number }, bindHost?: string): Promise<RawUtpPeer> {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, bindHost ?? (family === 6 ? '::1' : '127.0.0.1'), () => resolve());
    });
    return new RawUtpPeer(socket, target);
  }

  /** Send raw bytes. */
  sendRaw(b: Buffer): void {
    this.socket.send(b, this.target.port, this.target.host);
  }

  /** Send one packet with these fields (timestamp: now, unless given). */
  send(p: { type: PacketType; id: number; seq: number; ack: number; window?: number; payload?: Buffer; sack?: Buffer; timestamp?: number }): void {
    const ext = p.sack ? 2 + p.sack.length : 0;
    const payload = p.payload ?? Buffer.alloc(0);
    const b = Buffer.alloc(HEADER_BYTES + ext + payload.length);
    writeHeader(b, p.type, p.sack ? EXT_SACK : 0, p.id, p.timestamp ?? Math.floor(performance.now() * 1000), 0, p.window ?? 1 << 20, p.seq, p.ack);
    if (p.sack) {
      b[HEADER_BYTES] = 0;
      b[HEADER_BYTES + 1] = p.sack.length;
      p.sack.copy(b, HEADER_BYTES + 2);
    }
    payload.copy(b, HEADER_BYTES + ext);
    this.sendRaw(b);
  }

  /**
   * Open a connection as a dialer: SYN with receive id `id`, then (once answered) the first DATA
   * packet with `hello`; returns the sequence numbers to go on with.
   */
  async connect(id: number, hello: Buffer, window = 1 << 20): Promise<{ sendId: number; nextSeq: number; ackNr: number; theirSeq: number }> {
    const seq = 1000;
    this.send({ type: ST_SYN, id, seq, ack: 0, window });
    const answer = await this.wait((r) => r.connectionId === id && r.ack === seq, 5000, 'the answer to our SYN');
    const ackNr = (answer.seq - 1) & 0xffff;
    this.send({ type: ST_DATA, id: (id + 1) & 0xffff, seq: seq + 1, ack: ackNr, window, payload: hello });
    return { sendId: (id + 1) & 0xffff, nextSeq: seq + 2, ackNr, theirSeq: answer.seq };
  }

  /** The first received packet (past or future) that matches. */
  async wait(match: (r: Received) => boolean, timeoutMs: number, what: string): Promise<Received> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = this.received.find(match);
      if (r) return r;
      if (Date.now() > end) throw new Error(`no ${what} within ${timeoutMs} ms (got ${this.received.length} packets)`);
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  close(): void {
    this.socket.close();
  }
}
