/**
 * The port we listen on versus the port we tell others about, per family (Transmission's
 * port-forwarding mediator keeps the same two apart). They differ when a gateway maps our port to
 * another external one; the mapping can arrive, move or be lost at run time, so readers ask each
 * time, and trackers hear of a change through `change`.
 */
import { EventEmitter } from 'node:events';
import type { Family } from '../net/address.js';
import type { Listening } from './network.js';

/** What the swarm, trackers, PEX and the DHT read. */
export interface OurPorts {
  /** Where we listen in a family (0: not listening there). */
  local(family: Family): number;
  /** What others should dial us at in a family: a mapped external port, else the local one. */
  advertised(family: Family): number;
}

export class AdvertisedPorts extends EventEmitter<{ change: [Family] }> implements OurPorts {
  private readonly external: Partial<Record<Family, number>> = {};

  constructor(private readonly listening: () => Listening[]) {
    super();
  }

  local(family: Family): number {
    return this.listening().find((l) => l.family === family)?.port ?? 0;
  }

  advertised(family: Family): number {
    return this.external[family] ?? this.local(family);
  }

  /** A gateway maps our port of `family` to `port` outside (undefined: the mapping is gone). */
  setExternal(family: Family, port: number | undefined): void {
    const before = this.advertised(family);
    if (port === undefined) delete this.external[family];
    else this.external[family] = port;
    if (this.advertised(family) !== before) this.emit('change', family);
  }
}
