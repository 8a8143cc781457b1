/**
 * Types of the native UDP addon (native/udp.c, built to native/build/Release/sixswarm_udp.node,
 * Linux only): batched sends, path MTU probes, batched reads. Loaded at run time by
 * src/transport/kernel/udp.ts.
 */

/**
 * Sends packets[0..count) (packet i: the first lengths[i] bytes of packets[i]) from the
 * non-blocking UDP socket `fd` to `address` (4 or 16 bytes) and `port`, with UDP GSO and
 * sendmmsg. Returns how many it took (sent, or dropped for an error of that packet alone);
 * fewer than `count` when the send buffer is full. -errno when the socket is unusable.
 */
export declare function sendMany(fd: number, address: Uint8Array, port: number, packets: readonly Uint8Array[], lengths: Uint32Array, count: number): number;

/**
 * Sends one datagram with "don't fragment" set whatever the kernel knows of the path (a path MTU
 * probe: too big must mean lost). Returns 0, or the errno (EMSGSIZE: too big for the interface).
 */
export declare function sendProbe(fd: number, address: Uint8Array, port: number, packet: Uint8Array, length: number): number;

/** A reading started by receive(). */
export type Receiving = { readonly __receiving: unique symbol };

/**
 * Takes over reading the UDP socket `fd` (stop Node's own reading first): recvmmsg, up to 64
 * datagrams per batch, datagram i at buffer[i * slot], its length in lengths[i] (one longer than a
 * slot cut to the slot), its source in addresses[i * 16] (4 bytes for IPv4) and ports[i]; onBatch(count) once
 * per batch. The arrays are reused: read them before onBatch returns. A negative number: -errno.
 */
export declare function receive(fd: number, buffer: Uint8Array, slot: number, lengths: Uint32Array, addresses: Uint8Array, ports: Uint16Array, onBatch: (count: number) => void): Receiving | number;

/** Stops a reading (before the socket closes). */
export declare function stopReceiving(handle: Receiving): void;

export interface UdpAddon {
  sendMany: typeof sendMany;
  sendProbe: typeof sendProbe;
  receive: typeof receive;
  stopReceiving: typeof stopReceiving;
}
