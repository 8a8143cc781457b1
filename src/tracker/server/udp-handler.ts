/**
 * BEP 15 side of the built-in tracker. A socket carries one family, so the reply holds peers of
 * that family only: 6-byte entries to IPv4 clients, 18-byte entries to IPv6 clients.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { bytesToIp, unmapIp, type Family } from '../../net/address.js';
import {
  announceReply, connectReply, errorReply, parseRequest, scrapeReply,
} from '../udp-protocol.js';
import type { BadRequestReporter } from './http-handler.js';
import { normaliseKey, DEFAULT_NUMWANT, type TrackerCore } from './tracker-core.js';

/** Connection ids live in 60 s slots; the current and the previous slot are accepted (60-120 s). */
const SLOT_MS = 60_000;
/** Peers per reply, so the datagram fits one packet (1232 bytes of IPv6 minimum-MTU payload for 18-byte entries). */
const MAX_UDP_PEERS: Record<Family, number> = { 4: 200, 6: 67 };

export class UdpTrackerHandler {
  private readonly secret = randomBytes(32);

  constructor(private readonly core: TrackerCore, private readonly onBad: BadRequestReporter) {}

  onMessage(socket: Socket, family: Family, msg: Buffer, rinfo: RemoteInfo): void {
    const host = unmapIp(rinfo.address);
    const req = parseRequest(msg);
    if (!req) return; // not even a transaction id: garbage, ignore
    const reply = (b: Buffer) => socket.send(b, rinfo.port, rinfo.address, () => undefined);
    const bad = (reason: string) => {
      this.onBad('udp', host, reason);
      reply(errorReply(req.tx, reason));
    };
    switch (req.action) {
      case 'connect':
        return reply(connectReply(req.tx, this.connectionId(host, rinfo.port, Date.now())));
      case 'bad':
        return bad(req.reason);
      case 'announce':
      case 'scrape':
        if (!this.validConnectionId(req.connId, host, rinfo.port)) return bad('unknown or expired connection id');
    }
    if (req.action === 'scrape') return reply(scrapeReply(req.tx, this.core.scrape(req.hashes)));
    const f = req.fields;
    if (f.port === 0) return bad('port 0');
    const numwant = f.numwant < 0 ? DEFAULT_NUMWANT : f.numwant;
    const r = this.core.announce({
      transport: 'udp',
      infoHash: f.infoHash,
      peerId: f.peerId,
      port: f.port,
      key: normaliseKey(f.key),
      left: f.left,
      ...(f.event ? { event: f.event } : {}),
      numwant: Math.min(numwant, MAX_UDP_PEERS[family]),
      source: { host, family },
      claimed: family === 4 && f.ip !== 0 ? { 4: bytesToIp(ipBytes(f.ip)) } : {},
    });
    const peers = family === 4 ? r.peers4 : r.peers6;
    reply(announceReply(req.tx, r.interval, r.incomplete, r.complete, peers, family));
  }

  private connectionId(host: string, port: number, now: number, slotOffset = 0): Buffer {
    const slot = Math.floor(now / SLOT_MS) - slotOffset;
    return createHmac('sha256', this.secret).update(`${slot}|${host}|${port}`).digest().subarray(0, 8);
  }

  private validConnectionId(id: Buffer, host: string, port: number): boolean {
    const now = Date.now();
    return id.equals(this.connectionId(host, port, now)) || id.equals(this.connectionId(host, port, now, 1));
  }
}

function ipBytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
