/**
 * PCP (RFC 6887) for one family and one gateway: MAP for an IPv4 port mapping through the NAT or
 * for an IPv6 firewall pinhole, renewals with the same nonce, delete with lifetime 0 and the same
 * nonce, epoch tracking on every reply and on the gateway's unsolicited ANNOUNCE.
 *
 * Replies are matched to requests by opcode, nonce, protocol and internal port; a reply that
 * matches nothing (wrong nonce, truncated, another version) is ignored.
 */
import { randomBytes } from 'node:crypto';
import { classify, type Family } from '../../net/address.js';
import { clampLifetime, IP_PROTOCOL, type MapRequest, type MappingBackend, type ProbeResult } from '../backend.js';
import { EpochClock } from '../epoch.js';
import { PortMapError } from '../errors.js';
import type { Grant, Transport } from '../types.js';
import { doublingSchedule, LazyChannel } from '../udp-channel.js';
import {
  decodePcpResponse,
  encodeAnnounceRequest,
  encodeMapRequest,
  OPCODE_ANNOUNCE,
  OPCODE_MAP,
  PCP_SERVER_PORT,
  PCP_VERSION,
  pcpResultText,
  type PcpResponse,
} from './codec.js';

/**
 * RFC 6887 section 8.1.1 starts at 3 s and retransmits forever. The gateway is one hop away, so
 * we start at 250 ms like NAT-PMP and stop after 4 tries (3.75 s): the fallback to NAT-PMP and
 * UPnP must not wait minutes, and the mapper's periodic rediscovery takes over from there.
 */
export const PCP_SCHEDULE_MS = doublingSchedule(250, 4);

export interface PcpBackendOptions {
  family: Family;
  /** The gateway's address (no zone) and where to send (with `%ifname` when link-local). */
  gateway: string;
  target: string;
  /** Our address, sent from and written into the request. For IPv6 the address the pinhole opens. */
  localAddress: string;
  /** The server's port (5351; another only in tests against a fake). */
  port?: number;
  scheduleMs?: readonly number[];
  log?: (line: string) => void;
}

export class PcpBackend implements MappingBackend {
  readonly protocol = 'pcp' as const;
  readonly gateway: string;
  onStateLost?: (why: string) => void;
  private readonly channel: LazyChannel;
  private readonly nonces = new Map<string, Buffer>();
  private readonly lastExternal = new Map<string, string>();
  private readonly epoch = new EpochClock('pcp');
  private readonly schedule: readonly number[];

  constructor(private readonly o: PcpBackendOptions) {
    this.gateway = o.gateway;
    this.schedule = o.scheduleMs ?? PCP_SCHEDULE_MS;
    this.channel = new LazyChannel({ family: o.family, protocol: 'pcp', localAddress: o.localAddress, server: o.target, port: o.port ?? PCP_SERVER_PORT }, (msg) => this.sawEpoch(msg));
  }

  private sawEpoch(msg: Buffer): void {
    let res: PcpResponse;
    try {
      res = decodePcpResponse(msg);
    } catch {
      return;
    }
    if (res.version !== PCP_VERSION) return;
    if (this.epoch.observe(res.epoch, Date.now())) this.onStateLost?.(`the gateway's PCP epoch went from its expected value to ${res.epoch} s: it restarted or lost its mappings`);
  }

  /**
   * Decodes a reply to a request of `opcode`; a reply we cannot use is remembered and skipped.
   * Another version counts only as the UNSUPP_VERSION answer to this very request (junk with
   * another first byte must not end the exchange).
   */
  private decode(msg: Buffer, opcode: number, bad: (why: string) => undefined): PcpResponse | undefined {
    let res: PcpResponse;
    try {
      res = decodePcpResponse(msg);
    } catch (e) {
      bad((e as Error).message);
      this.o.log?.(`PCP: ignored a reply from ${this.o.gateway}: ${(e as Error).message}`);
      return undefined;
    }
    if (res.version !== PCP_VERSION && (res.resultCode !== 1 || res.opcode !== opcode)) {
      bad(`a version-${res.version} reply that is not "unsupported version" to our request`);
      return undefined;
    }
    return res;
  }

  private static refusedByVersion(res: PcpResponse): PortMapError {
    return res.version === 0
      ? new PortMapError('pcp', 'refused', 'the gateway speaks NAT-PMP, not PCP (it answered PCP with a NAT-PMP "unsupported version")', { code: 1 })
      : new PortMapError('pcp', 'refused', `the gateway speaks PCP version ${res.version}, not ${PCP_VERSION}`, { code: 1 });
  }

  async probe(): Promise<ProbeResult> {
    const res = await this.channel.request(
      encodeAnnounceRequest(this.o.localAddress),
      (msg, bad) => {
        const r = this.decode(msg, OPCODE_ANNOUNCE, bad);
        return r && (r.version !== PCP_VERSION || r.opcode === OPCODE_ANNOUNCE) ? r : undefined;
      },
      this.schedule,
    );
    if (res.version !== PCP_VERSION) throw PcpBackend.refusedByVersion(res);
    // ANNOUNCE succeeds, or fails with UNSUPP_OPCODE on servers that do not implement it: either way PCP is spoken.
    if (res.resultCode !== 0 && res.resultCode !== 4) throw this.refused(res);
    return {};
  }

  private key(transport: Transport, internalPort: number): string {
    return `${transport}/${internalPort}`;
  }

  private refused(res: PcpResponse): PortMapError {
    // Short-lifetime errors (NO_RESOURCES, NETWORK_FAILURE, USER_EX_QUOTA) say how long they hold; at least 30 s between tries.
    const retryAfterMs = res.lifetime > 0 ? Math.min(30 * 60, Math.max(30, res.lifetime)) * 1000 : undefined;
    return new PortMapError('pcp', 'refused', `the gateway refused: ${pcpResultText(res.resultCode)} (PCP result ${res.resultCode})`, { code: res.resultCode, ...(retryAfterMs ? { retryAfterMs } : {}) });
  }

  private async send(r: MapRequest, lifetime: number, nonce: Buffer, suggestedExternalAddress: string, schedule: readonly number[]): Promise<PcpResponse> {
    const protocol = IP_PROTOCOL[r.transport];
    const packet = encodeMapRequest({
      lifetime,
      clientAddress: this.o.localAddress,
      nonce,
      protocol,
      internalPort: r.internalPort,
      suggestedExternalPort: r.suggestedExternalPort,
      suggestedExternalAddress,
    });
    const res = await this.channel.request(
      packet,
      (msg, bad) => {
        const res = this.decode(msg, OPCODE_MAP, bad);
        if (!res) return undefined;
        if (res.version !== PCP_VERSION) return res; // a NAT-PMP server's "unsupported version"
        if (res.opcode !== OPCODE_MAP) return bad(`a reply to opcode ${res.opcode} instead of MAP`);
        if (!res.map) return res.resultCode !== 0 ? res : undefined; // an error reply without a body
        if (!res.map.nonce.equals(nonce)) return bad('a MAP reply with another nonce');
        if (res.map.protocol !== protocol || res.map.internalPort !== r.internalPort) return undefined;
        return res;
      },
      schedule,
    );
    if (res.version !== PCP_VERSION) throw PcpBackend.refusedByVersion(res);
    return res;
  }

  async map(r: MapRequest): Promise<Grant> {
    const key = this.key(r.transport, r.internalPort);
    let nonce = this.nonces.get(key);
    if (!nonce) this.nonces.set(key, (nonce = randomBytes(12)));
    const any = this.o.family === 4 ? '0.0.0.0' : '::';
    const res = await this.send(r, r.lifetimeSeconds, nonce, this.lastExternal.get(key) ?? any, this.schedule);
    if (res.resultCode !== 0) throw this.refused(res);
    const m = res.map!;
    if (res.lifetime === 0) throw new PortMapError('pcp', 'bad-reply', 'the gateway answered SUCCESS with a lifetime of 0 s (no mapping)');
    if (m.externalPort === 0) throw new PortMapError('pcp', 'bad-reply', 'the gateway answered SUCCESS with external port 0');
    const ext = classify(m.externalAddress);
    let externalAddress: string;
    if (this.o.family === 4) {
      if (!ext || ext.family !== 4 || ext.kind === 'unspecified' || ext.kind === 'multicast' || ext.kind === 'loopback') {
        throw new PortMapError('pcp', 'bad-reply', `the gateway answered SUCCESS with external address ${m.externalAddress}, which cannot be ours`);
      }
      externalAddress = ext.text;
    } else {
      // A pinhole opens our own address; a gateway doing NPTv6 names the translated one.
      externalAddress = ext && ext.family === 6 && ext.kind !== 'unspecified' ? ext.text : this.o.localAddress;
      if (classify(externalAddress)?.kind === 'multicast' || classify(externalAddress)?.kind === 'loopback') {
        throw new PortMapError('pcp', 'bad-reply', `the gateway answered SUCCESS with external address ${externalAddress}, which cannot be ours`);
      }
    }
    this.lastExternal.set(key, externalAddress);
    return {
      protocol: 'pcp',
      transport: r.transport,
      internalPort: r.internalPort,
      external: { address: externalAddress, port: m.externalPort },
      lifetimeSeconds: clampLifetime(res.lifetime),
      grantedAt: Date.now(),
    };
  }

  async unmap(g: Grant): Promise<void> {
    const key = this.key(g.transport, g.internalPort);
    const nonce = this.nonces.get(key);
    if (!nonce) return;
    const any = this.o.family === 4 ? '0.0.0.0' : '::';
    const res = await this.send(
      { transport: g.transport, internalPort: g.internalPort, suggestedExternalPort: 0, lifetimeSeconds: 0 },
      0,
      nonce,
      any,
      this.schedule.slice(0, 3),
    );
    if (res.resultCode === 2) {
      // miniupnpd 2.3.1 loses a pinhole's nonce when it renews it (nftpinhole.c update_pinhole drops the
      // description), then refuses the delete. A renewal needs no nonce match: cut the lease to the least.
      const cut = await this.send(
        { transport: g.transport, internalPort: g.internalPort, suggestedExternalPort: g.external.port, lifetimeSeconds: 1 },
        1,
        nonce,
        any,
        this.schedule.slice(0, 3),
      ).catch(() => undefined);
      this.nonces.delete(key);
      this.lastExternal.delete(key);
      const after = cut?.resultCode === 0 ? `; its lease was cut to ${cut.lifetime} s instead` : '';
      throw new PortMapError('pcp', 'refused', `the gateway refused the delete: ${pcpResultText(2)} (PCP result 2)${after}`, { code: 2 });
    }
    this.nonces.delete(key);
    this.lastExternal.delete(key);
    if (res.resultCode !== 0) throw this.refused(res);
  }

  announce(msg: Buffer): void {
    let res: PcpResponse;
    try {
      res = decodePcpResponse(msg);
    } catch {
      return;
    }
    if (res.version !== PCP_VERSION || res.opcode !== OPCODE_ANNOUNCE || res.resultCode !== 0) return;
    // An unsolicited ANNOUNCE means the server restarted (RFC 6887 section 14.1.3), whatever its epoch says.
    this.epoch.observe(res.epoch, Date.now());
    this.onStateLost?.(`the gateway announced a PCP restart (epoch ${res.epoch} s)`);
  }

  close(): void {
    this.channel.close();
  }
}
