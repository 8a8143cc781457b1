/**
 * A TUN device carrying raw IPv6 packets (no packet-info header), read when the kernel says
 * it is readable and written one packet per write. Closing it removes the device, and with it
 * every address and route on it.
 *
 * Opened with `vnetHdr`, each packet also has offload metadata (see offload.ts), so that with
 * `setOffload(true)` the kernel can hand over and take back TCP segments of up to 64 KiB.
 */
import { EventEmitter } from 'node:events';
import { closeSync, readSync, writeSync, writevSync } from 'node:fs';
import type { Poller, TunAddonError } from '../../native/sixswarm_tun.js';
import { Slab } from '../transport/kernel/slab-read.js';
import { loadTunAddon } from './native.js';
import { adjacent, kernelHeader, PLAIN_HEADER, TUN_F_CSUM, TUN_F_TSO6, VNET_HDR_BYTES, type OffloadHeader } from './offload.js';

/** The tunnel's MTU bounds: IPv6's minimum, and low enough to stay clear of fragmentation
 * on the paths the TCP stream itself takes. */
export const MTU_MIN = 1280;
export const MTU_MAX = 1400;
export const DEFAULT_MTU = 1280;

/** The MTU to use (default when undefined); throws when out of range. */
export function checkMtu(mtu: number | undefined): number {
  const m = mtu ?? DEFAULT_MTU;
  if (!Number.isInteger(m) || m < MTU_MIN || m > MTU_MAX) throw new Error(`MTU must be an integer from ${MTU_MIN} to ${MTU_MAX}, not ${mtu}`);
  return m;
}

/** Linux interface names: 1-15 characters; we allow letters, digits, _ . - only. */
export function checkIfname(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new Error(`"${name}" is not a valid interface name (1-15 letters, digits, _ . -)`);
  }
}

/** Largest IPv6 packet without jumbograms, behind its offload header: a read never truncates one. */
const READ_BUFFER_BYTES = VNET_HDR_BYTES + 40 + 65535;
/** Reads per readiness callback: the poll is level triggered, so leftovers come next turn. */
const READS_PER_WAKEUP = 256;

export interface TunDeviceEvents {
  /** One packet read from the device, with its offload header; both buffers are the caller's to keep. */
  packet: [packet: Buffer, header: OffloadHeader];
  /** Reading failed for good (the device was removed under us): close it. */
  error: [Error];
}

/** Turns the errno of open/TUNSETIFF into what the user has to do about it. */
function explainOpenError(e: TunAddonError, name: string): Error {
  const hints: Record<string, string> = {
    ENOENT: '/dev/net/tun does not exist: load the tun kernel module (modprobe tun), or in a container pass the device in (docker run --device /dev/net/tun --cap-add NET_ADMIN)',
    ENODEV: 'the kernel has no TUN support: load the tun kernel module (modprobe tun)',
    ENXIO: 'the kernel has no TUN support: load the tun kernel module (modprobe tun)',
    EACCES: 'no permission to open /dev/net/tun: run as root (sudo) or with the CAP_NET_ADMIN capability',
    EPERM: `not allowed to create the network device "${name}": run as root (sudo) or with the CAP_NET_ADMIN capability`,
    EBUSY: `the network device "${name}" is already in use: pick another name with --ifname`,
    EINVAL: `"${name}" cannot be a TUN device (an interface of another type may have that name): pick another name with --ifname`,
  };
  return new Error(`cannot create the tunnel device: ${hints[e.code] ?? e.message}`);
}

export class TunDevice extends EventEmitter<TunDeviceEvents> {
  readonly name: string;
  private fd: number;
  private poller: Poller | undefined;
  /** Packets are read into slabs and handed on as views: no copy, no allocation per packet. */
  private readonly slab = new Slab(READ_BUFFER_BYTES);
  private unknownOffload = 0;

  private constructor(
    fd: number,
    name: string,
    /** Every packet read or written has a virtio_net_hdr in front (IFF_VNET_HDR). */
    readonly vnetHdr: boolean,
  ) {
    super();
    this.fd = fd;
    this.name = name;
  }

  /** Creates (or attaches to) the device `name`; throws an Error that says what is missing. */
  static open(name: string, opts: { vnetHdr?: boolean } = {}): TunDevice {
    const addon = loadTunAddon();
    const vnetHdr = opts.vnetHdr ?? false;
    let opened;
    try {
      opened = addon.open(name, vnetHdr);
    } catch (e) {
      throw explainOpenError(e as TunAddonError, name);
    }
    return new TunDevice(opened.fd, opened.name, vnetHdr);
  }

  /**
   * Lets the kernel hand us partial checksums and TCP segments up to 64 KiB (on), or not (off:
   * it finishes and cuts every packet itself). Only for devices opened with vnetHdr.
   */
  setOffload(on: boolean): void {
    if (!this.vnetHdr || this.closed) return;
    loadTunAddon().setOffload(this.fd, on ? TUN_F_CSUM | TUN_F_TSO6 : 0);
  }

  /** Packets read that carried offload metadata we do not forward (see kernelHeader). */
  get droppedUnknownOffload(): number {
    return this.unknownOffload;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** Starts delivering `packet` events. */
  start(): void {
    if (this.poller || this.closed) return;
    const { Poller } = loadTunAddon();
    this.poller = new Poller(this.fd, (err) => (err ? this.fail(err) : this.drain()));
  }

  private drain(): void {
    for (let i = 0; i < READS_PER_WAKEUP && !this.closed; i++) {
      let n: number;
      const room = this.slab.room();
      try {
        n = readSync(this.fd, room, 0, READ_BUFFER_BYTES, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return;
        this.fail(e as Error);
        return;
      }
      if (n <= 0) return;
      this.deliver(n);
    }
  }

  private deliver(n: number): void {
    const read = this.slab.take(n);
    if (!this.vnetHdr) {
      this.emit('packet', read, null);
      return;
    }
    if (n <= VNET_HDR_BYTES) return;
    // Header and packet lie side by side, so they can leave in one write.
    const packet = read.subarray(VNET_HDR_BYTES);
    const header = kernelHeader(read.subarray(0, VNET_HDR_BYTES), packet);
    if (header === undefined) {
      this.unknownOffload++;
      return;
    }
    this.emit('packet', packet, header);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.emit('error', new Error(`reading the tunnel device ${this.name} failed: ${err.message}`));
  }

  /**
   * Hands one packet to the kernel. False when it refused it (malformed, or the device is
   * down), or when it has offload metadata and this device takes none: it is IP, the sender's
   * TCP retransmits, so the caller only counts the drop.
   */
  write(packet: Buffer, header: OffloadHeader): boolean {
    if (this.closed) return false;
    try {
      if (!this.vnetHdr) return header === null && writeSync(this.fd, packet) === packet.length;
      const h = header ?? PLAIN_HEADER;
      if (adjacent(h, packet)) {
        const both = Buffer.from(h.buffer, h.byteOffset, h.length + packet.length);
        return writeSync(this.fd, both) === both.length;
      }
      return writevSync(this.fd, [h, packet]) === h.length + packet.length;
    } catch {
      return false;
    }
  }

  /** Removes the device (the kernel drops its addresses and routes with it). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.poller?.stop();
    this.poller = undefined;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch {
      // already gone: nothing left to release
    }
  }
}
