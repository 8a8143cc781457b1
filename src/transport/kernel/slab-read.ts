/**
 * Outgoing connections that read into slabs: each read gets the free rest of a 4 MiB slab (a
 * new slab once less than 64 KiB is left), so a busy socket reads up to megabytes per call
 * instead of Node's 64 KiB, into memory allocated once per slab rather than once per read.
 * Chunks are views of their slab and stay valid (a slab lives while any view of it does), so
 * they are delivered as ordinary 'data' events: whatever reads a socket reads this one alike.
 * For relays, where every byte read is written on: fewer, larger reads and writes per GB.
 */
import { connect, type Socket, type TcpNetConnectOpts } from 'node:net';

const SLAB_BYTES = 4 * 1024 * 1024;
/** A read gets at least this much room. */
const MIN_ROOM = 64 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** net.connect whose 'data' chunks are views of shared slabs, as large as the kernel has ready. */
export function connectSlabRead(opts: TcpNetConnectOpts): Socket {
  const socket: Socket = connect({
    ...opts,
    onread: {
      buffer: () => {
        if (SLAB_BYTES - used < MIN_ROOM) {
          slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
          used = 0;
        }
        return slab.subarray(used);
      },
      callback: (n: number, buf: Uint8Array) => {
        // `buf` is the view handed out above: its first n bytes are taken for good.
        const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
        if (buf.buffer === slab.buffer) used += n;
        socket.emit('data', chunk);
        return !socket.isPaused();
      },
    },
  });
  return socket;
}
