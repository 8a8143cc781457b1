/**
 * UPnP IGDv2 IPv6 pinholes: WANIPv6FirewallControl:1's GetFirewallStatus, AddPinhole,
 * UpdatePinhole and DeletePinhole, at that service's own control URL (not WANIPConnection's:
 * a gateway that dispatches by service answers 401 there). Discovery and every request go out
 * from the address the pinhole opens (IGDv2 lets a control point open pinholes only for itself:
 * miniupnpd answers 606 otherwise, miniupnp #600, #731).
 */
import { classify } from '../../net/address.js';
import { clampLifetime, IP_PROTOCOL, type MapRequest, type MappingBackend, type ProbeResult } from '../backend.js';
import { PortMapError } from '../errors.js';
import type { Grant, Transport } from '../types.js';
import { WAN_IPV6_FIREWALL_CONTROL_1, type IgdService } from './description.js';
import { discoverIgd } from './discover.js';
import { formatUrl } from './http.js';
import { soapCall } from './soap.js';

/** WANIPv6FirewallControl:1 allows leases of 1 to 86400 s. */
const MAX_PINHOLE_LEASE = 86_400;

export interface UpnpPinholeOptions {
  /** The global address we listen on: the pinhole's InternalClient and the requests' source. */
  localAddress: string;
  /** The interface of that address (SSDP over ff02::c goes out of it). */
  ifname: string;
  gateway?: string;
  /** Cancels requests in flight (the mapper stopping). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export class UpnpPinholeBackend implements MappingBackend {
  readonly protocol = 'upnp' as const;
  gateway: string;
  private service?: IgdService;
  private firewallOpen = false;
  private readonly ids = new Map<string, number>();

  constructor(private readonly o: UpnpPinholeOptions) {
    this.gateway = o.gateway ?? '';
  }

  private call(action: string, args: ReadonlyArray<readonly [string, string | number]>): Promise<Map<string, string>> {
    const s = this.service!;
    return soapCall({ controlUrl: s.controlUrl, serviceType: s.serviceType, action, args, localAddress: this.o.localAddress, zone: this.o.ifname, ...(this.o.signal ? { signal: this.o.signal } : {}) });
  }

  async probe(): Promise<ProbeResult> {
    const d = await discoverIgd({
      family: 6,
      localAddress: this.o.localAddress,
      ifname: this.o.ifname,
      // A link-local gateway answers SSDP from its global address: no use preferring it by address.
      ...(this.o.gateway && classify(this.o.gateway)?.kind !== 'link-local' ? { gateway: this.o.gateway } : {}),
      wants: (d) => d.services.some((s) => s.serviceType === WAN_IPV6_FIREWALL_CONTROL_1),
      ...(this.o.log ? { log: this.o.log } : {}),
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    this.gateway = d.location.host;
    this.service = d.services.find((s) => s.serviceType === WAN_IPV6_FIREWALL_CONTROL_1)!;
    const out = await this.call('GetFirewallStatus', []);
    this.firewallOpen = out.get('FirewallEnabled') === '0';
    this.o.log?.(`UPnP: ${d.friendlyName || 'IGD'} at ${formatUrl(d.location)}, WANIPv6FirewallControl:1, firewall ${this.firewallOpen ? 'disabled' : 'enabled'}, inbound pinholes ${out.get('InboundPinholeAllowed') === '1' ? 'allowed' : 'not allowed'}`);
    if (!this.firewallOpen && out.get('InboundPinholeAllowed') !== '1') {
      this.service = undefined;
      throw new PortMapError('upnp', 'refused', 'the gateway refused: InboundPinholeNotAllowed (its IPv6 firewall allows no pinholes; GetFirewallStatus)', { code: 703 });
    }
    return {};
  }

  private key(transport: Transport, port: number): string {
    return `${transport}/${port}`;
  }

  private grant(r: MapRequest, lifetimeSeconds: number): Grant {
    return {
      protocol: 'upnp',
      transport: r.transport,
      internalPort: r.internalPort,
      external: { address: this.o.localAddress, port: r.internalPort },
      lifetimeSeconds,
      grantedAt: Date.now(),
    };
  }

  async map(r: MapRequest): Promise<Grant> {
    if (!this.service) await this.probe();
    // No firewall on the gateway: inbound IPv6 is open as it is, and there is nothing to lease.
    if (this.firewallOpen) return this.grant(r, 0);
    const lease = Math.min(MAX_PINHOLE_LEASE, Math.max(1, r.lifetimeSeconds));
    const key = this.key(r.transport, r.internalPort);
    const id = this.ids.get(key);
    if (id !== undefined) {
      try {
        await this.call('UpdatePinhole', [
          ['UniqueID', id],
          ['NewLeaseTime', lease],
        ]);
        return this.grant(r, clampLifetime(lease));
      } catch (e) {
        // 704 NoSuchEntry: the gateway forgot it (rebooted); miniupnpd 2.3.1 may answer 402 then. Add it again.
        if (!(e instanceof PortMapError && e.kind === 'refused')) throw e;
        this.ids.delete(key);
      }
    }
    const out = await this.call('AddPinhole', [
      ['RemoteHost', ''],
      ['RemotePort', 0],
      ['InternalClient', this.o.localAddress],
      ['InternalPort', r.internalPort],
      ['Protocol', IP_PROTOCOL[r.transport]],
      ['LeaseTime', lease],
    ]);
    const uid = Number(out.get('UniqueID'));
    if (!Number.isInteger(uid) || uid < 0 || uid > 65535) throw new PortMapError('upnp', 'bad-reply', `AddPinhole answered UniqueID ${JSON.stringify(out.get('UniqueID') ?? '')}`);
    this.ids.set(key, uid);
    return this.grant(r, clampLifetime(lease));
  }

  async unmap(g: Grant): Promise<void> {
    const key = this.key(g.transport, g.internalPort);
    const id = this.ids.get(key);
    if (id === undefined || !this.service) return;
    this.ids.delete(key);
    await this.call('DeletePinhole', [['UniqueID', id]]);
  }

  close(): void {}
}
