/**
 * What each protocol offers the mapper for one family and one gateway: probe (does the gateway
 * speak it? no state is created), map (create or renew), unmap (delete) and close. A backend
 * tells its owner when the gateway lost its state (epoch went back, an ANNOUNCE) so that every
 * mapping is asked for again.
 */
import type { Grant, PortMapProtocol, Transport } from './types.js';

export interface ProbeResult {
  /** The gateway's external address when the protocol tells it (IPv4). */
  externalAddress?: string;
}

export interface MapRequest {
  transport: Transport;
  internalPort: number;
  /** The external port we would like (the internal one, or what we had before). */
  suggestedExternalPort: number;
  lifetimeSeconds: number;
}

export interface MappingBackend {
  readonly protocol: PortMapProtocol;
  /** The gateway this backend talks to (for verdicts and logs). */
  readonly gateway: string;
  /** Throws PortMapError when the protocol is not spoken (no-answer, unreachable) or refused. */
  probe(): Promise<ProbeResult>;
  /** Creates or renews; throws PortMapError. The grant's lifetime is already clamped. */
  map(r: MapRequest): Promise<Grant>;
  /** Deletes; throws PortMapError. */
  unmap(g: Grant): Promise<void>;
  /** Called with a reason when the gateway shows it lost its mappings. */
  onStateLost?: (why: string) => void;
  /** A datagram on the announce port (5350) from this gateway: PCP or NAT-PMP announcement. */
  announce?(msg: Buffer): void;
  close(): void;
}

/** IANA protocol numbers, as PCP and WANIPv6FirewallControl name transports. */
export const IP_PROTOCOL = { tcp: 6, udp: 17 } as const;

/** A gateway's 2^32-1 ("forever") lease still gets renewed daily: we act on at most a day. */
export const MAX_LIFETIME_SECONDS = 86_400;

export function clampLifetime(seconds: number): number {
  return Math.min(MAX_LIFETIME_SECONDS, seconds);
}
