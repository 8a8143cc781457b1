/**
 * The client port of PCP and NAT-PMP (5350), where a gateway multicasts its restart (PCP's
 * unsolicited ANNOUNCE, NAT-PMP's external-address announcement) to 224.0.0.1 and ff02::1. Both
 * groups are all-hosts groups every interface is in, so binding the port is enough; SO_REUSEADDR
 * lets other clients on this host listen too. Only datagrams from the current gateway count (the
 * mapper checks); at most PCP's 1100 bytes are looked at.
 */
import { createSocket, type Socket } from 'node:dgram';
import { canonicalIp, type Family } from '../net/address.js';
import { PCP_CLIENT_PORT, PCP_MAX_MESSAGE } from './pcp/codec.js';

export type AnnounceHandler = (family: Family, from: string, msg: Buffer) => void;

export class AnnounceListener {
  private readonly sockets: Socket[] = [];

  constructor(
    private readonly onAnnounce: AnnounceHandler,
    private readonly log?: (line: string) => void,
    private readonly port = PCP_CLIENT_PORT,
  ) {}

  /** Binds what it can; a port another program holds without SO_REUSEADDR only costs the fast path. */
  async start(families: readonly Family[]): Promise<void> {
    for (const family of families) {
      const socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true, ipv6Only: family === 6 });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: family === 4 ? '0.0.0.0' : '::', port: this.port }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        socket.close();
        this.log?.(`cannot listen for gateway announcements on UDP ${this.port} (IPv${family}): ${(e as Error).message}; a restarted gateway is noticed at the next renewal instead`);
        continue;
      }
      socket.on('error', () => {});
      socket.on('message', (msg, rinfo) => {
        if (msg.length > PCP_MAX_MESSAGE || rinfo.port !== 5351) return;
        const from = canonicalIp(rinfo.address);
        if (from) this.onAnnounce(family, from, msg);
      });
      this.sockets.push(socket);
    }
  }

  stop(): void {
    for (const s of this.sockets.splice(0)) s.close();
  }
}
