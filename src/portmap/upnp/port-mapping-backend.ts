/**
 * UPnP IGD port mapping for IPv4: WANIPConnection:2 (AddAnyPortMapping: the gateway picks a free
 * port when ours is taken), WANIPConnection:1 and WANPPPConnection:1 (AddPortMapping, and other
 * ports tried on 718 ConflictInMappingEntry), GetExternalIPAddress, DeletePortMapping.
 *
 * UPnP has no epoch: a rebooted gateway says nothing. The mapper renews UPnP mappings at least
 * every minute (RENEW_CAP_SECONDS), and a renewal is the same AddPortMapping again, which
 * recreates a mapping the gateway forgot.
 */
import { randomInt } from 'node:crypto';
import { classify } from '../../net/address.js';
import { clampLifetime, type MapRequest, type MappingBackend, type ProbeResult } from '../backend.js';
import { PortMapError } from '../errors.js';
import type { Grant } from '../types.js';
import { WAN_IP_CONNECTION_2, WAN_IPV6_FIREWALL_CONTROL_1, type IgdService } from './description.js';
import { discoverIgd } from './discover.js';
import { formatUrl } from './http.js';
import { soapCall } from './soap.js';

/** Other external ports tried after 718 ConflictInMappingEntry on IGDv1 (the next ones, then random high ports). */
const CONFLICT_TRIES = 4;

export interface UpnpPortMappingOptions {
  localAddress: string;
  /** Our default gateway (its IGD is preferred). */
  gateway?: string;
  description: string;
  /** Cancels requests in flight (the mapper stopping). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export class UpnpPortMappingBackend implements MappingBackend {
  readonly protocol = 'upnp' as const;
  gateway: string;
  private service?: IgdService;
  private externalAddress?: string;
  private permanentOnly = false;

  constructor(private readonly o: UpnpPortMappingOptions) {
    this.gateway = o.gateway ?? '';
  }

  private call(action: string, args: ReadonlyArray<readonly [string, string | number]>): Promise<Map<string, string>> {
    const s = this.service!;
    return soapCall({ controlUrl: s.controlUrl, serviceType: s.serviceType, action, args, localAddress: this.o.localAddress, ...(this.o.signal ? { signal: this.o.signal } : {}) });
  }

  async probe(): Promise<ProbeResult> {
    const d = await discoverIgd({
      family: 4,
      localAddress: this.o.localAddress,
      ...(this.o.gateway ? { gateway: this.o.gateway } : {}),
      wants: (d) => d.services.some((s) => s.serviceType !== WAN_IPV6_FIREWALL_CONTROL_1),
      ...(this.o.log ? { log: this.o.log } : {}),
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    this.gateway = d.location.host;
    // Several WAN connections (IP and PPP): the one with an external address is the live one.
    let firstError: PortMapError | undefined;
    for (const s of d.services.filter((s) => s.serviceType !== WAN_IPV6_FIREWALL_CONTROL_1)) {
      this.service = s;
      try {
        const out = await this.call('GetExternalIPAddress', []);
        const c = classify(out.get('NewExternalIPAddress') ?? '');
        if (c && c.family === 4 && c.kind !== 'unspecified') {
          this.externalAddress = c.text;
          this.o.log?.(`UPnP: ${d.friendlyName || 'IGD'} at ${formatUrl(d.location)}, ${s.serviceType.split(':').slice(-2).join(':')}, external address ${c.text}`);
          return { externalAddress: c.text };
        }
        firstError ??= new PortMapError('upnp', 'refused', `the gateway reports no external address (${JSON.stringify(out.get('NewExternalIPAddress') ?? '')}): its WAN is down, or its address is private and it will not map`);
      } catch (e) {
        firstError ??= e as PortMapError;
      }
    }
    this.service = undefined;
    throw firstError ?? new PortMapError('upnp', 'bad-reply', 'the gateway offers no WAN connection service');
  }

  private mappingArgs(r: MapRequest, port: number, lease: number): Array<[string, string | number]> {
    return [
      ['NewRemoteHost', ''],
      ['NewExternalPort', port],
      ['NewProtocol', r.transport.toUpperCase()],
      ['NewInternalPort', r.internalPort],
      ['NewInternalClient', this.o.localAddress],
      ['NewEnabled', 1],
      ['NewPortMappingDescription', this.o.description],
      ['NewLeaseDuration', lease],
    ];
  }

  private async addPortMapping(r: MapRequest, port: number): Promise<number> {
    const lease = this.permanentOnly ? 0 : r.lifetimeSeconds;
    try {
      if (this.service!.serviceType === WAN_IP_CONNECTION_2) {
        const out = await this.call('AddAnyPortMapping', this.mappingArgs(r, port, lease));
        return Number(out.get('NewReservedPort'));
      }
      await this.call('AddPortMapping', this.mappingArgs(r, port, lease));
      return port;
    } catch (e) {
      // IGDv1 routers that only take permanent leases (725): map permanently, delete on stop.
      if (e instanceof PortMapError && e.code === 725 && !this.permanentOnly) {
        this.permanentOnly = true;
        return this.addPortMapping(r, port);
      }
      throw e;
    }
  }

  async map(r: MapRequest): Promise<Grant> {
    if (!this.service || !this.externalAddress) await this.probe();
    // IGDv2 finds a free port itself; on IGDv1 we try the next port, then random high ones.
    const ports = [r.suggestedExternalPort];
    if (this.service!.serviceType !== WAN_IP_CONNECTION_2) {
      ports.push(r.suggestedExternalPort < 65535 ? r.suggestedExternalPort + 1 : 1024);
      while (ports.length < CONFLICT_TRIES) ports.push(randomInt(1024, 65536));
    }
    let last: PortMapError | undefined;
    for (const port of ports) {
      let granted: number;
      try {
        granted = await this.addPortMapping(r, port);
      } catch (e) {
        last = e as PortMapError;
        if (last.code === 718 || last.code === 729) continue;
        throw last;
      }
      if (!Number.isInteger(granted) || granted < 1 || granted > 65535) throw new PortMapError('upnp', 'bad-reply', `the gateway reserved external port ${granted}`);
      return {
        protocol: 'upnp',
        transport: r.transport,
        internalPort: r.internalPort,
        external: { address: this.externalAddress!, port: granted },
        lifetimeSeconds: this.permanentOnly ? 0 : clampLifetime(r.lifetimeSeconds),
        grantedAt: Date.now(),
      };
    }
    throw last!;
  }

  async unmap(g: Grant): Promise<void> {
    if (!this.service) return;
    await this.call('DeletePortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', g.external.port],
      ['NewProtocol', g.transport.toUpperCase()],
    ]);
  }

  close(): void {}
}
