/**
 * Test support: a Network whose UDP sockets lose, duplicate and reorder what they send (a
 * seeded random choice per datagram), over a real network's real sockets. Reordering holds a
 * datagram back a few milliseconds while later ones go.
 */
import type { Duplex } from 'node:stream';
import type { Family } from '../../src/net/address.js';
import type { DatagramChannel, DatagramFlow, DatagramHandler, DatagramKind, DatagramSource } from '../../src/transport/datagram.js';
import type { DialOneOptions, DialTarget, Listening, ListenOptions, Network } from '../../src/transport/network.js';
import type { Transport } from '../../src/transport/transport.js';

export interface Faults {
  loss: number;
  duplicate: number;
  reorder: number;
  /** Seed of the random choices (a run can be repeated). */
  seed: number;
}

/** mulberry32: small, seeded, good enough to pick faults. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultyChannel implements DatagramChannel {
  readonly family: Family;
  sent = 0;
  lost = 0;
  duplicated = 0;
  reordered = 0;
  private readonly rand: () => number;

  constructor(
    private readonly inner: DatagramChannel,
    private readonly faults: Faults,
  ) {
    this.family = inner.family;
    this.rand = random(faults.seed);
  }

  address(): DatagramSource {
    return this.inner.address();
  }

  send(b: Buffer, port: number, host: string, done?: (err: Error | null) => void): void {
    this.sent++;
    const r = this.rand();
    if (r < this.faults.loss) {
      this.lost++;
      return done?.(null);
    }
    if (r < this.faults.loss + this.faults.reorder) {
      this.reordered++;
      const copy = Buffer.from(b);
      setTimeout(() => {
        try {
          this.inner.send(copy, port, host);
        } catch {
          // The socket closed meanwhile: the datagram is lost, as it would be.
        }
      }, 1 + Math.floor(this.rand() * 4));
      return done?.(null);
    }
    if (r < this.faults.loss + this.faults.reorder + this.faults.duplicate) {
      this.duplicated++;
      this.inner.send(Buffer.from(b), port, host);
    }
    this.inner.send(b, port, host, done);
  }

  receive(kind: DatagramKind, handler: DatagramHandler): () => void {
    return this.inner.receive(kind, handler);
  }

  onError(handler: (e: Error) => void): void {
    this.inner.onError(handler);
  }
}

/** `base` with every UDP socket it hands out wrapped in a FaultyChannel. */
export class FaultyNetwork implements Network {
  readonly channels: FaultyChannel[] = [];
  private readonly wrapped = new Map<DatagramChannel, FaultyChannel>();

  constructor(
    private readonly base: Network,
    private readonly faults: Faults,
  ) {}

  dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    return this.base.dial(target, opts);
  }

  listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    return this.base.listen(opts, onStream);
  }

  listening(): Listening[] {
    return this.base.listening();
  }

  async datagrams(family: Family, port?: number, host?: string): Promise<DatagramChannel> {
    const inner = await this.base.datagrams(family, port, host);
    let c = this.wrapped.get(inner);
    if (!c) {
      c = new FaultyChannel(inner, { ...this.faults, seed: this.faults.seed + this.wrapped.size });
      this.wrapped.set(inner, c);
      this.channels.push(c);
    }
    return c;
  }

  openFlow(family: Family, host: string, port: number): Promise<DatagramFlow> {
    return this.base.openFlow(family, host, port);
  }

  openStream(target: DialTarget & { family: Family }): Duplex {
    return this.base.openStream(target);
  }

  setLocalAddress(family: Family, address: string | undefined): void {
    this.base.setLocalAddress(family, address);
  }

  close(): Promise<void> {
    return this.base.close();
  }
}
