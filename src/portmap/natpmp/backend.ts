/**
 * NAT-PMP (RFC 6886) for IPv4 through one gateway: the external address, TCP and UDP mappings,
 * renewals (the same request again), delete with lifetime 0, and the gateway's epoch on every
 * reply and on its unsolicited address-change announcement.
 */
import { classify } from '../../net/address.js';
import { clampLifetime, type MapRequest, type MappingBackend, type ProbeResult } from '../backend.js';
import { EpochClock } from '../epoch.js';
import { PortMapError } from '../errors.js';
import type { Grant } from '../types.js';
import { doublingSchedule, LazyChannel } from '../udp-channel.js';
import {
  decodeResponse,
  encodeExternalAddressRequest,
  encodeMapRequest,
  NATPMP_SERVER_PORT,
  natpmpResultText,
  OP_EXTERNAL_ADDRESS,
  OP_MAP_TCP,
  OP_MAP_UDP,
  type NatPmpResponse,
} from './codec.js';

/**
 * RFC 6886 section 3.1: 250 ms, doubling, 9 tries (64 s in all). We stop after 4 (3.75 s): a
 * gateway on the LAN answers within milliseconds or not at all, UPnP should not wait a minute
 * behind it, and the mapper asks again later anyway (rediscovery, renewal retries).
 */
export const NATPMP_SCHEDULE_MS = doublingSchedule(250, 4);

export interface NatPmpBackendOptions {
  gateway: string;
  localAddress: string;
  /** The server's port (5351; another only in tests against a fake). */
  port?: number;
  scheduleMs?: readonly number[];
  log?: (line: string) => void;
}

export class NatPmpBackend implements MappingBackend {
  readonly protocol = 'natpmp' as const;
  readonly gateway: string;
  onStateLost?: (why: string) => void;
  private readonly channel: LazyChannel;
  private readonly epoch = new EpochClock('natpmp');
  private readonly schedule: readonly number[];
  private externalAddress?: string;

  constructor(private readonly o: NatPmpBackendOptions) {
    this.gateway = o.gateway;
    this.schedule = o.scheduleMs ?? NATPMP_SCHEDULE_MS;
    this.channel = new LazyChannel({ family: 4, protocol: 'natpmp', localAddress: o.localAddress, server: o.gateway, port: o.port ?? NATPMP_SERVER_PORT }, (msg) => this.sawEpoch(msg));
  }

  private sawEpoch(msg: Buffer): void {
    let res: NatPmpResponse;
    try {
      res = decodeResponse(msg);
    } catch {
      return;
    }
    if (this.epoch.observe(res.epoch, Date.now())) this.onStateLost?.(`the gateway's NAT-PMP epoch fell to ${res.epoch} s: it restarted or lost its mappings`);
  }

  private ask<T extends NatPmpResponse>(packet: Buffer, match: (r: NatPmpResponse) => r is T, schedule: readonly number[]): Promise<T> {
    return this.channel.request(
      packet,
      (msg, bad) => {
        let r: NatPmpResponse;
        try {
          r = decodeResponse(msg);
        } catch (e) {
          this.o.log?.(`NAT-PMP: ignored a reply from ${this.o.gateway}: ${(e as Error).message}`);
          return bad((e as Error).message);
        }
        return match(r) ? r : undefined;
      },
      schedule,
    );
  }

  private static refused(code: number): PortMapError {
    return new PortMapError('natpmp', 'refused', `the gateway refused: ${natpmpResultText(code)} (NAT-PMP result ${code})`, { code });
  }

  async probe(): Promise<ProbeResult> {
    const res = await this.ask(encodeExternalAddressRequest(), (r): r is Extract<NatPmpResponse, { opcode: 0 }> => r.opcode === OP_EXTERNAL_ADDRESS, this.schedule);
    if (res.resultCode !== 0) throw NatPmpBackend.refused(res.resultCode);
    const c = classify(res.externalAddress ?? '');
    if (!c || c.kind === 'unspecified' || c.kind === 'multicast' || c.kind === 'loopback') {
      // RFC 6886 section 3.2: 0.0.0.0 means the gateway has no external address yet.
      throw new PortMapError('natpmp', 'refused', `the gateway has no usable external address (it reported ${res.externalAddress})`, { code: 3 });
    }
    this.externalAddress = c.text;
    return { externalAddress: c.text };
  }

  async map(r: MapRequest): Promise<Grant> {
    if (!this.externalAddress) await this.probe();
    const opcode = r.transport === 'tcp' ? OP_MAP_TCP : OP_MAP_UDP;
    const res = await this.ask(
      encodeMapRequest({ opcode, internalPort: r.internalPort, suggestedExternalPort: r.suggestedExternalPort, lifetime: r.lifetimeSeconds }),
      (x): x is Extract<NatPmpResponse, { opcode: 1 | 2 }> => x.opcode === opcode && (x.internalPort === undefined || x.internalPort === r.internalPort),
      this.schedule,
    );
    if (res.resultCode !== 0) throw NatPmpBackend.refused(res.resultCode);
    if (!res.externalPort) throw new PortMapError('natpmp', 'bad-reply', 'the gateway answered Success with external port 0');
    if (!res.lifetime) throw new PortMapError('natpmp', 'bad-reply', 'the gateway answered Success with a lifetime of 0 s (no mapping)');
    return {
      protocol: 'natpmp',
      transport: r.transport,
      internalPort: r.internalPort,
      external: { address: this.externalAddress!, port: res.externalPort },
      lifetimeSeconds: clampLifetime(res.lifetime),
      grantedAt: Date.now(),
    };
  }

  async unmap(g: Grant): Promise<void> {
    const opcode = g.transport === 'tcp' ? OP_MAP_TCP : OP_MAP_UDP;
    const res = await this.ask(
      encodeMapRequest({ opcode, internalPort: g.internalPort, suggestedExternalPort: 0, lifetime: 0 }),
      (x): x is Extract<NatPmpResponse, { opcode: 1 | 2 }> => x.opcode === opcode && (x.internalPort === undefined || x.internalPort === g.internalPort),
      this.schedule.slice(0, 3),
    );
    if (res.resultCode !== 0) throw NatPmpBackend.refused(res.resultCode);
  }

  announce(msg: Buffer): void {
    let res: NatPmpResponse;
    try {
      res = decodeResponse(msg);
    } catch {
      return;
    }
    if (res.opcode !== OP_EXTERNAL_ADDRESS || res.resultCode !== 0) return;
    const lost = this.epoch.observe(res.epoch, Date.now());
    const moved = res.externalAddress !== undefined && this.externalAddress !== undefined && res.externalAddress !== this.externalAddress;
    if (res.externalAddress && classify(res.externalAddress)?.kind !== 'unspecified') this.externalAddress = classify(res.externalAddress)!.text;
    if (lost || moved) this.onStateLost?.(moved ? `the gateway's external address changed to ${res.externalAddress}` : `the gateway announced a restart (NAT-PMP epoch ${res.epoch} s)`);
  }

  close(): void {
    this.channel.close();
  }
}
