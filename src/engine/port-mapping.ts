/**
 * The seam between port mapping (src/portmap/) and the engine: once the engine listens, the
 * gateway is asked for inbound reachability of the listening port on each family it listens on;
 * what it grants becomes the port we advertise (trackers hear it soon, BEP 10 `p` and the DHT
 * use it) and, for IPv4, our own address of that family (BEP 10 `ipv4`, tracker `ipv4=`); what is
 * lost or refused is taken back. Every change is reported; the mappings are deleted on close.
 */
import { EventEmitter } from 'node:events';
import type { Family } from '../net/address.js';
import { classify } from '../net/address.js';
import { PortMapper, type MappingEvent, type ReachabilityVerdict } from '../portmap/index.js';
import type { AdvertisedPorts } from '../transport/advertised-ports.js';
import type { Listening } from '../transport/network.js';
import type { OwnAddresses } from './own-addresses.js';

export class PortMapping extends EventEmitter<{ mapping: [MappingEvent]; status: [Record<Family, ReachabilityVerdict>] }> {
  private readonly mapper: PortMapper;

  constructor(
    listening: Listening[],
    private readonly ports: AdvertisedPorts,
    private readonly own: OwnAddresses,
  ) {
    super();
    const on = (f: Family) => listening.find((l) => l.family === f);
    const v6 = on(6)?.address;
    this.mapper = new PortMapper({
      port: (on(4) ?? on(6))!.port,
      families: { 4: !!on(4), 6: !!on(6) },
      // Bound to one address: the pinhole is for that one (the wildcard leaves the choice to the mapper).
      ...(v6 && v6 !== '::' ? { address6: v6 } : {}),
    });
    this.mapper.on('mapping', (e) => this.emit('mapping', e));
    this.mapper.on('status', (s) => {
      this.apply();
      this.emit('status', s);
    });
  }

  /** Ask the gateway (resolves after the first attempt on each family; it keeps trying later). */
  start(): Promise<void> {
    return this.mapper.start();
  }

  status(): Record<Family, ReachabilityVerdict> {
    return this.mapper.status();
  }

  /** Delete what was mapped; the local port is what we advertise again. */
  async stop(): Promise<void> {
    await this.mapper.stop();
    for (const f of [4, 6] as const) this.ports.setExternal(f, undefined);
    this.own.set(4, undefined);
  }

  /** What the gateway granted, as what we advertise. */
  private apply(): void {
    for (const f of [4, 6] as const) this.ports.setExternal(f, this.mapper.advertised(f)?.port);
    // Behind NAT the mapped address is ours to tell peers about, if it is global (not another NAT's).
    const v4 = this.mapper.advertised(4)?.address;
    this.own.set(4, v4 && classify(v4)?.kind === 'global' ? v4 : undefined);
  }
}
