/**
 * Port mapping and IPv6 pinholes (PCP, NAT-PMP, UPnP IGD): what the engine imports.
 */
export { PortMapper, DEFAULT_PROTOCOLS, type PortMapperOptions, type PortMapperEvents } from './port-mapper.js';
export { verdictText, behindAnotherNat } from './verdict.js';
export type { Endpoint, Family, Grant, MappingChange, MappingEvent, PortMapProtocol, ReachabilityVerdict, Transport, UnreachableReason } from './types.js';
