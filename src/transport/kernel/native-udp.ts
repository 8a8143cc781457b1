/**
 * The native UDP addon's side of a kernel UDP socket (native/udp.c): batched sends (GSO,
 * sendmmsg), path MTU probes, and batched reads (recvmmsg into one buffer, one call into
 * JavaScript per batch instead of an event, a Buffer and a source object per datagram). The
 * addon may be missing (no compiler at install time), or Node's socket internals may change:
 * then `attachNativeUdp` gives undefined and the socket works through Node's dgram alone.
 */
import type dgram from 'node:dgram';
import type { Receiving, UdpAddon } from '../../../native/sixswarm_udp.js';
import { bytesToIp, ipToBytes, type Family } from '../../net/address.js';
import { loadNativeAddon } from '../../util/native-addon.js';
import type { DatagramSource } from '../datagram.js';

/**
 * Datagrams per batch (the addon's), and the room for each. A larger one arrives cut to the
 * slot, still larger than anything here takes (uTP sends at most 1472 bytes, the KRPC decoder
 * drops what is over 1500 as oversize), so it is dropped as too big, as it was.
 */
const BATCH = 64;
const SLOT = 4096;
/** Addresses parsed for the sends, kept for the next batch to the same peer. */
const ADDRESS_CACHE = 1024;

export interface NativeUdp {
  sendMany(packets: readonly Buffer[], lengths: Uint32Array, count: number, port: number, host: string): number;
  sendProbe(packet: Buffer, length: number, port: number, host: string): boolean;
  /** Reads go through the addon from now on, each datagram to `deliver` (transient); false when they cannot. */
  receive(deliver: (b: Buffer, from: DatagramSource) => void): boolean;
  /** Stop the addon's reading (before the socket closes). */
  close(): void;
}

/** The addon bound to `socket`, or undefined when it cannot be. */
export function attachNativeUdp(socket: dgram.Socket, family: Family): NativeUdp | undefined {
  const addon = loadNativeAddon<UdpAddon>('sixswarm_udp').addon;
  const handle = addon && nodeHandle(socket);
  const fd = handle?.fd;
  if (!addon || !handle || typeof fd !== 'number' || fd < 0) return undefined;
  const addresses = new Map<string, Buffer | undefined>();
  const bytesOf = (host: string): Buffer | undefined => {
    let b = addresses.get(host);
    if (b === undefined && !addresses.has(host)) {
      if (addresses.size >= ADDRESS_CACHE) addresses.clear();
      b = ipToBytes(host);
      addresses.set(host, b);
    }
    return b;
  };
  let reading: Receiving | undefined;
  return {
    sendMany(packets, lengths, count, port, host) {
      const address = bytesOf(host);
      if (!address) return 0;
      const n = addon.sendMany(fd, address, port, packets, lengths, count);
      return n < 0 ? 0 : n; // the socket is unusable: send() reports why
    },
    sendProbe(packet, length, port, host) {
      const address = bytesOf(host);
      return address !== undefined && addon.sendProbe(fd, address, port, packet, length) === 0;
    },
    receive(deliver) {
      if (typeof handle.recvStop !== 'function' || typeof handle.recvStart !== 'function') return false;
      const batch = new BatchReader(family, deliver);
      handle.recvStop();
      const r = addon.receive(fd, batch.buffer, SLOT, batch.lengths, batch.addresses, batch.ports, batch.onBatch);
      if (typeof r === 'number') {
        handle.recvStart(); // back to Node's reading
        return false;
      }
      reading = r;
      return true;
    },
    close() {
      if (reading) addon.stopReceiving(reading);
      reading = undefined;
    },
  };
}

/** Turns one batch of the addon's arrays into datagrams: the source's text made once per distinct source in a row. */
class BatchReader {
  readonly buffer = Buffer.allocUnsafeSlow(BATCH * SLOT);
  readonly lengths = new Uint32Array(BATCH);
  readonly addresses = new Uint8Array(BATCH * 16);
  readonly ports = new Uint16Array(BATCH);
  private readonly words = new Uint32Array(this.addresses.buffer);
  private readonly last = new Uint32Array(4);
  private lastHost = '';
  /** Handed to the receiver for each datagram, overwritten by the next (transient). */
  private readonly from: DatagramSource = { host: '', port: 0 };

  constructor(
    private readonly family: Family,
    private readonly deliver: (b: Buffer, from: DatagramSource) => void,
  ) {}

  readonly onBatch = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const length = this.lengths[i]!;
      this.from.host = this.host(i);
      this.from.port = this.ports[i]!;
      this.deliver(this.buffer.subarray(i * SLOT, i * SLOT + length), this.from);
    }
  };

  private host(i: number): string {
    const w = i * 4;
    const words = this.family === 4 ? 1 : 4;
    let same = this.lastHost !== '';
    for (let k = 0; k < words && same; k++) same = this.words[w + k] === this.last[k];
    if (same) return this.lastHost;
    for (let k = 0; k < words; k++) this.last[k] = this.words[w + k]!;
    this.lastHost = bytesToIp(this.addresses.subarray(i * 16, i * 16 + (this.family === 4 ? 4 : 16)));
    return this.lastHost;
  }
}

interface UdpHandle {
  fd?: unknown;
  recvStop?: () => number;
  recvStart?: () => number;
}

/**
 * Node's handle of a bound dgram socket. Node offers no public way: it hangs off the socket under
 * an internal symbol (lib/dgram.js `kStateSymbol`; the `_handle` getter does the same but warns
 * DEP0112). Undefined when that ever changes.
 */
function nodeHandle(socket: dgram.Socket): (UdpHandle & { fd: number }) | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const handle = state && (socket as unknown as Record<symbol, { handle?: UdpHandle } | undefined>)[state]?.handle;
  return handle && typeof handle.fd === 'number' && handle.fd >= 0 ? (handle as UdpHandle & { fd: number }) : undefined;
}
