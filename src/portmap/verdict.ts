/**
 * Reachability verdicts from grants: whether a granted IPv4 external address is itself behind
 * another NAT (private or 100.64/10 shared space: CGNAT or a second router), and one line of
 * text per verdict for logs, the support matrix and the UI.
 */
import { classify, ipToBytes, type Family } from '../net/address.js';
import type { ReachabilityVerdict } from './types.js';

/** Why an external address cannot be reached from the Internet, or undefined when it can. */
export function behindAnotherNat(address: string): string | undefined {
  const c = classify(address);
  if (!c || c.family !== 4 || c.kind !== 'private') return undefined;
  const b = ipToBytes(address)!;
  if (b[0] === 100 && b[1]! >= 64 && b[1]! <= 127) {
    return `the gateway's external address ${address} is in the shared space 100.64.0.0/10: your provider's carrier-grade NAT stands outside it`;
  }
  return `the gateway's external address ${address} is private: another NAT router stands between it and the Internet (double NAT or CGNAT)`;
}

function lease(left: number | null): string {
  if (left === null) return 'permanent';
  if (left >= 3600) return `${Math.floor(left / 3600)} h ${Math.round((left % 3600) / 60)} min left`;
  if (left >= 60) return `${Math.round(left / 60)} min left`;
  return `${left} s left`;
}

function endpoint(family: Family, address: string, port: number): string {
  return family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

const PROTOCOL_NAMES = { pcp: 'PCP', natpmp: 'NAT-PMP', upnp: 'UPnP' } as const;

/** One line describing a verdict, e.g. "mapped by PCP: 198.51.100.2:6881 (TCP+UDP, 58 min left)". */
export function verdictText(family: Family, v: ReachabilityVerdict): string {
  switch (v.state) {
    case 'disabled':
      return 'port mapping off';
    case 'probing':
      return v.gateway ? `asking the gateway ${v.gateway}` : 'looking for a gateway';
    case 'mapped':
    case 'pinholed': {
      const what = v.state === 'mapped' ? 'mapped' : 'pinhole opened';
      const udp = v.udp ? (v.udp.port === v.external.port ? '+UDP' : `, UDP on ${v.udp.port}`) : '';
      return `${what} by ${PROTOCOL_NAMES[v.protocol]}: ${endpoint(family, v.external.address, v.external.port)} (TCP${udp}, ${lease(v.leaseLeftSeconds)})`;
    }
    case 'cgnat':
      return `behind CGNAT: mapped by ${PROTOCOL_NAMES[v.protocol]} to ${endpoint(family, v.external.address, v.external.port)}, but ${v.reason}`;
    case 'unreachable':
      return `not reachable: ${v.detail}`;
  }
}
