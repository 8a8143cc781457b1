/**
 * Inbound reachability of one listening port, per address family: the entry point the engine
 * uses. It runs a FamilyMapper per enabled family (PCP, then NAT-PMP, then UPnP for IPv4; PCP,
 * then UPnP WANIPv6FirewallControl for IPv6), listens for gateway restart announcements on UDP
 * 5350, reports every change as a `mapping` event and every verdict change as `status`, and
 * deletes what it mapped on stop().
 *
 *     const m = new PortMapper({ port: 6881, log: console.log });
 *     m.on('mapping', (e) => ...);            // granted, renewed, moved, lost, failed, deleted
 *     await m.start();                        // after the first attempt on each family
 *     m.status();                             // { 4: { state: 'mapped', ... }, 6: { state: 'pinholed', ... } }
 *     m.advertised(4);                        // { address, port } others can reach, or undefined
 *     await m.stop();                         // deletes the mappings
 */
import { EventEmitter } from 'node:events';
import type { Family } from '../net/address.js';
import { AnnounceListener } from './announce-listener.js';
import { FamilyMapper } from './family-mapper.js';
import type { Endpoint, MappingEvent, PortMapProtocol, ReachabilityVerdict, Transport } from './types.js';

export interface PortMapperOptions {
  /** The listening port, for TCP and UDP alike (the DHT and uTP share it). */
  port: number;
  /** Families to map (default both). */
  families?: Partial<Record<Family, boolean>>;
  /** Protocols to try, in order (default PCP, NAT-PMP, UPnP). */
  protocols?: readonly PortMapProtocol[];
  /** Transports to map (default TCP, then UDP). The first decides the verdict. */
  transports?: readonly Transport[];
  /** Shown in the gateway's mapping list (UPnP). */
  description?: string;
  /** The lease asked for, in seconds (default 2 h; gateways may give less). */
  lifetimeSeconds?: number;
  /** The IPv6 address we listen on (the pinhole's address; default: the stable global one chosen from the host's). */
  address6?: string;
  /** The IPv4 address we listen on, when not the one toward the gateway. */
  address4?: string;
  /** Listen on UDP 5350 for gateway restart announcements (default true). */
  announcements?: boolean;
  log?: (line: string) => void;
}

export interface PortMapperEvents {
  mapping: [MappingEvent];
  status: [Record<Family, ReachabilityVerdict>];
}

export const DEFAULT_PROTOCOLS: readonly PortMapProtocol[] = ['pcp', 'natpmp', 'upnp'];

export class PortMapper extends EventEmitter<PortMapperEvents> {
  private readonly mappers = new Map<Family, FamilyMapper>();
  private readonly listener?: AnnounceListener;
  private readonly log: (line: string) => void;
  private started = false;

  constructor(o: PortMapperOptions) {
    super();
    if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new RangeError(`port ${o.port} is not a port number`);
    this.log = o.log ?? (() => {});
    const families = ([4, 6] as const).filter((f) => o.families?.[f] ?? true);
    for (const family of families) {
      this.mappers.set(
        family,
        new FamilyMapper({
          family,
          port: o.port,
          transports: o.transports ?? ['tcp', 'udp'],
          protocols: o.protocols ?? DEFAULT_PROTOCOLS,
          description: o.description ?? 'sixswarm',
          lifetimeSeconds: o.lifetimeSeconds ?? 7200,
          ...((family === 6 ? o.address6 : o.address4) ? { address: (family === 6 ? o.address6 : o.address4)! } : {}),
          log: (line) => this.log(`port mapping: ${line}`),
          emit: (e) => this.emit('mapping', e),
          changed: () => this.emit('status', this.status()),
        }),
      );
    }
    if ((o.announcements ?? true) && families.length > 0) {
      this.listener = new AnnounceListener(
        (family, from, msg) => {
          if (!this.mappers.get(family)?.announce(from, msg)) return;
          this.mappers.get(family === 4 ? 6 : 4)?.nudge(`the IPv${family} gateway ${from} announced a restart`);
        },
        (line) => this.log(`port mapping: ${line}`),
      );
    }
  }

  /** Starts every family; resolves when each has had its first outcome (mapped, or why not). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.listener?.start([...this.mappers.keys()]);
    await Promise.all([...this.mappers.values()].map((m) => m.start()));
  }

  status(): Record<Family, ReachabilityVerdict> {
    return {
      4: this.mappers.get(4)?.status() ?? { state: 'disabled' },
      6: this.mappers.get(6)?.status() ?? { state: 'disabled' },
    };
  }

  /** The endpoint others reach our listening port at on `family` (granted by the gateway), if any. */
  advertised(family: Family): Endpoint | undefined {
    return this.mappers.get(family)?.advertised();
  }

  /** Stops renewing and deletes every mapping (each delete bounded by its protocol's timeouts). */
  async stop(): Promise<void> {
    this.listener?.stop();
    await Promise.all([...this.mappers.values()].map((m) => m.stop()));
  }
}
