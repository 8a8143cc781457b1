/**
 * One UDP socket to a gateway's PCP / NAT-PMP port: bound to the address we speak for (a PCP
 * server compares it with the client address inside the request; an IPv6 pinhole opens for the
 * source address only) and connected to the gateway, so the kernel drops datagrams from any
 * other host and an ICMP "port unreachable" surfaces as an error at once.
 *
 * `request` sends a packet on a retransmission schedule until a reply is accepted. Replies
 * larger than PCP's 1100 bytes are ignored unread; a bounded number of requests wait at once.
 * A reply a request cannot use (truncated, another nonce) is remembered, so that a timeout says
 * what did arrive. `LazyChannel` opens one on first use for a backend.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Family } from '../net/address.js';
import { PortMapError } from './errors.js';
import type { PortMapProtocol } from './types.js';

const MAX_DATAGRAM = 1100;
const MAX_PENDING = 16;

export interface UdpChannelOptions {
  family: Family;
  protocol: PortMapProtocol;
  /** The address to send from (no zone). */
  localAddress: string;
  /** The gateway, with `%ifname` when link-local. */
  server: string;
  port: number;
}

interface Pending {
  accept: (msg: Buffer) => boolean;
  fail: (e: PortMapError) => void;
}

/** Decides whether a reply answers a request; `return bad(why)` when the reply is unusable. */
export type AcceptReply<T> = (msg: Buffer, bad: (why: string) => undefined) => T | undefined;

export class UdpChannel {
  private readonly pending = new Set<Pending>();
  private readonly listeners = new Set<(msg: Buffer) => void>();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly o: UdpChannelOptions,
  ) {
    socket.on('message', (msg, rinfo) => {
      // Connected: the kernel only delivers the gateway's datagrams. Check anyway (an unconnected fallback never happens, but costs nothing).
      if (msg.length > MAX_DATAGRAM || rinfo.port !== o.port) return;
      for (const l of this.listeners) l(msg);
      for (const p of this.pending) if (p.accept(msg)) break;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'ECONNREFUSED'
          ? `${o.server} port ${o.port} refused the request (nothing listens there: ${o.protocol === 'pcp' ? 'PCP' : 'NAT-PMP'} is not running on the gateway)`
          : `UDP to ${o.server} port ${o.port}: ${e.message}`;
      const err = new PortMapError(o.protocol, 'unreachable', why);
      for (const p of [...this.pending]) p.fail(err);
    });
  }

  static async open(o: UdpChannelOptions): Promise<UdpChannel> {
    const socket = createSocket({ type: o.family === 4 ? 'udp4' : 'udp6' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: o.localAddress, port: 0, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(o.port, o.server, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      socket.close();
      throw new PortMapError(o.protocol, 'unreachable', `cannot open a UDP socket from ${o.localAddress} to ${o.server}: ${(e as Error).message}`);
    }
    return new UdpChannel(socket, o);
  }

  /** Every datagram from the gateway (epoch checks see replies to any request). */
  onDatagram(listener: (msg: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Sends `packet`, then again after each wait of `scheduleMs` (the last entry is the final
   * wait), until `accept` returns a value for a reply. Rejects with `no-answer` when the schedule
   * ends (`bad-reply` when only unusable replies came), `unreachable` on an ICMP error. `accept`
   * sees every reply; returning undefined leaves the reply to other requests.
   */
  request<T>(packet: Buffer, accept: AcceptReply<T>, scheduleMs: readonly number[]): Promise<T> {
    if (this.closed) return Promise.reject(new PortMapError(this.o.protocol, 'unreachable', 'the channel to the gateway is closed'));
    if (this.pending.size >= MAX_PENDING) return Promise.reject(new PortMapError(this.o.protocol, 'no-answer', `${MAX_PENDING} requests to ${this.o.server} are already waiting`));
    return new Promise<T>((resolve, reject) => {
      let step = 0;
      let timer: NodeJS.Timeout | undefined;
      let lastBad: string | undefined;
      const bad = (why: string): undefined => {
        lastBad = why;
        return undefined;
      };
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(entry);
      };
      const entry: Pending = {
        accept: (msg) => {
          const v = accept(msg, bad);
          if (v === undefined) return false;
          done();
          resolve(v);
          return true;
        },
        fail: (e) => {
          done();
          reject(e);
        },
      };
      const send = () => {
        if (this.closed) return entry.fail(new PortMapError(this.o.protocol, 'unreachable', 'the channel to the gateway closed'));
        if (step >= scheduleMs.length) {
          const total = scheduleMs.reduce((a, b) => a + b, 0);
          const none = `no answer from ${this.o.server} port ${this.o.port} within ${(total / 1000).toFixed(1)} s (${scheduleMs.length} tries)`;
          return entry.fail(
            lastBad
              ? new PortMapError(this.o.protocol, 'bad-reply', `${none}; the gateway only sent replies we cannot use (last: ${lastBad})`)
              : new PortMapError(this.o.protocol, 'no-answer', none),
          );
        }
        this.socket.send(packet, (err) => {
          if (err) entry.fail(new PortMapError(this.o.protocol, 'unreachable', `sending to ${this.o.server}: ${err.message}`));
        });
        timer = setTimeout(send, scheduleMs[step++]);
      };
      this.pending.add(entry);
      send();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new PortMapError(this.o.protocol, 'unreachable', 'the channel to the gateway closed');
    for (const p of [...this.pending]) p.fail(err);
    this.listeners.clear();
    this.socket.close();
  }
}

/** A backend's channel: opened on first use (again after a failed open), closed for good by close(). */
export class LazyChannel {
  private channel?: Promise<UdpChannel>;
  private closed = false;

  constructor(
    private readonly o: UdpChannelOptions,
    private readonly onDatagram: (msg: Buffer) => void,
  ) {}

  request<T>(packet: Buffer, accept: AcceptReply<T>, scheduleMs: readonly number[]): Promise<T> {
    return this.open().then((ch) => ch.request(packet, accept, scheduleMs));
  }

  private open(): Promise<UdpChannel> {
    this.channel ??= UdpChannel.open(this.o).then(
      (ch) => {
        ch.onDatagram(this.onDatagram);
        if (this.closed) ch.close();
        return ch;
      },
      (e: unknown) => {
        this.channel = undefined;
        throw e;
      },
    );
    return this.channel;
  }

  close(): void {
    this.closed = true;
    void this.channel?.then(
      (ch) => ch.close(),
      () => {},
    );
  }
}

/** Waits doubling from `firstMs`, `tries` of them (RFC 6886 section 3.1: 250 ms, doubling). */
export function doublingSchedule(firstMs: number, tries: number): number[] {
  return Array.from({ length: tries }, (_, i) => firstMs * 2 ** i);
}
