/**
 * The port-mapping subsystem's vocabulary: protocols, what a gateway granted, the events the
 * mapper emits and the verdict it gives per family. The engine turns these into `--json`
 * `port-mapping` events, the support matrix and the advertised port.
 */
import type { Family } from '../net/address.js';

export type { Family };

/** PCP (RFC 6887), NAT-PMP (RFC 6886), UPnP IGD (IGDv1/v2, WANIPv6FirewallControl for IPv6). */
export type PortMapProtocol = 'pcp' | 'natpmp' | 'upnp';

export type Transport = 'tcp' | 'udp';

export interface Endpoint {
  address: string;
  port: number;
}

/** What a gateway granted for one transport. */
export interface Grant {
  protocol: PortMapProtocol;
  transport: Transport;
  internalPort: number;
  /** Where others reach us: the gateway's external address and port (IPv4), or our own address (IPv6 pinhole). */
  external: Endpoint;
  /** The lease the gateway gave, clamped to what we act on (seconds; 0 = permanent, UPnP only). */
  lifetimeSeconds: number;
  /** Date.now() when granted or last renewed. */
  grantedAt: number;
}

/** Why a request got nowhere. */
export type FailureKind =
  /** No reply within the retransmission schedule. */
  | 'no-answer'
  /** The gateway's port refused (ICMP unreachable) or the connection failed: nothing listens there. */
  | 'unreachable'
  /** The gateway answered with an error code. */
  | 'refused'
  /** The gateway answered something we will not act on (malformed, port 0, lifetime 0, another host's URL). */
  | 'bad-reply';

export type MappingChange =
  /** A new grant. */
  | 'granted'
  /** The same grant, lease extended. */
  | 'renewed'
  /** Granted or renewed on another external address or port than before (or than asked for). */
  | 'moved'
  /** A grant ended without us deleting it (lease ran out, the gateway rebooted and refused it again). */
  | 'lost'
  /** A request failed; `error` says why. */
  | 'failed'
  /** We deleted it (stop()). */
  | 'deleted';

/** One change to one mapping: what the engine logs and turns into a `port-mapping` event. */
export interface MappingEvent {
  family: Family;
  transport: Transport;
  change: MappingChange;
  protocol?: PortMapProtocol;
  internal: Endpoint;
  external?: Endpoint;
  /** Set when the gateway granted another external port than we asked for (taken by another host). */
  requestedPort?: number;
  /** Seconds of lease granted (for granted, renewed, moved; 0 = permanent). */
  lifetimeSeconds?: number;
  /** For failed and lost: what went wrong, with the gateway's code and its meaning when it gave one. */
  error?: string;
  code?: number;
  /** The gateway asked (its address). */
  gateway?: string;
}

/** Whether others can reach our listening port on one family, and why (from evidence only). */
export type ReachabilityVerdict =
  | { state: 'disabled' }
  /** Looking for a gateway, or asking it. */
  | { state: 'probing'; gateway?: string }
  /** IPv4 port mapping (NAT) granted for TCP, and UDP when `udp` is set. */
  | { state: 'mapped'; protocol: PortMapProtocol; gateway: string; external: Endpoint; udp?: Endpoint; leaseLeftSeconds: number | null }
  /** IPv6 firewall pinhole granted: the address is our own (or the gateway's, behind NPTv6). */
  | { state: 'pinholed'; protocol: PortMapProtocol; gateway: string; external: Endpoint; udp?: Endpoint; leaseLeftSeconds: number | null }
  /** A mapping exists, but on an address that is itself private or shared (100.64/10): another NAT stands outside. */
  | { state: 'cgnat'; protocol: PortMapProtocol; gateway: string; external: Endpoint; reason: string }
  | { state: 'unreachable'; reason: UnreachableReason; detail: string; protocol?: PortMapProtocol; code?: number; gateway?: string };

export type UnreachableReason =
  /** No default route for the family. */
  | 'no-gateway'
  /** No global address to open a pinhole for (IPv6). */
  | 'no-address'
  /** The gateway answered none of the enabled protocols. */
  | 'no-answer'
  /** A protocol answered and refused (code and meaning in detail). */
  | 'refused'
  /** A mapping existed and was lost; asking again. */
  | 'lost';
