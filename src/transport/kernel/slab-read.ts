/**
 * Reading into slabs: each read gets the free rest of a 4 MiB slab (a new slab once less than a
 * read's worth is left), and keeps what it read there as a view. A busy socket then reads up to
 * megabytes per call instead of Node's 64 KiB, into memory allocated once per slab rather than
 * once per read, and nothing is copied to be kept (a slab lives while any view of it does).
 * For relays, where every byte read is written on: fewer, larger reads and writes per GB.
 */
import { connect, type Socket, type TcpNetConnectOpts } from 'node:net';

const SLAB_BYTES = 4 * 1024 * 1024;

/** Memory handed out read by read, as views that stay valid. */
export class Slab {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** `minRoom`: the least a read needs (a whole packet, say). */
  constructor(private readonly minRoom = 64 * 1024) {}

  /** Room for the next read: the free rest of the slab, at least `minRoom` bytes. */
  room(): Buffer {
    if (SLAB_BYTES - this.used < this.minRoom) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.used = 0;
    }
    return this.slab.subarray(this.used);
  }

  /** The read into room() took `n` bytes: they are the caller's, as the view returned. */
  take(n: number): Buffer {
    const view = this.slab.subarray(this.used, this.used + n);
    this.used += n;
    return view;
  }
}

const shared = new Slab();

/** net.connect whose 'data' chunks are views of shared slabs, as large as the kernel has ready. */
export function connectSlabRead(opts: TcpNetConnectOpts): Socket {
  const socket: Socket = connect({
    ...opts,
    onread: {
      buffer: () => shared.room(),
      callback: (n: number) => {
        socket.emit('data', shared.take(n));
        return !socket.isPaused();
      },
    },
  });
  return socket;
}
