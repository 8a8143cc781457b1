/**
 * Connections we open read into one buffer shared by all of them (Node's `onread`), instead of
 * a fresh 64 KiB allocation per read. Whoever takes a socket's bytes must copy what it keeps
 * before returning: the next read, on any of these sockets, overwrites them. Node offers this
 * only for outgoing connections; accepted ones keep their 'data' events.
 */
import { connect, type Socket, type TcpNetConnectOpts } from 'node:net';

/** Bytes per read: a leecher's loopback socket fills it, so fewer reads and callbacks per GiB. */
const READ_BYTES = 256 * 1024;
/** What a socket may receive before anyone listens (only a tick passes between connect and that). */
const MAX_EARLY_BYTES = 256 * 1024;

let shared: Buffer | undefined;

/** Receives a socket's bytes; `transient` chunks are only valid until the callback returns. */
export type Receiver = (chunk: Buffer, transient: boolean) => void;

class SharedReader {
  receiver?: Receiver;
  early: Buffer[] = [];
  earlyBytes = 0;

  constructor(private readonly socket: () => Socket) {}

  read(chunk: Buffer): boolean {
    if (this.receiver) {
      this.receiver(chunk, true);
      return true;
    }
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) {
      this.socket().destroy(new Error('peer sent too much before anyone read it'));
      return false;
    }
    this.early.push(Buffer.from(chunk));
    return true;
  }
}

const readers = new WeakMap<Socket, SharedReader>();

/** net.connect whose reads go through the shared buffer; take its bytes with `receive`. */
export function connectSharedRead(opts: TcpNetConnectOpts): Socket {
  const buffer = (shared ??= Buffer.allocUnsafeSlow(READ_BYTES));
  const reader = new SharedReader(() => socket);
  const socket: Socket = connect({ ...opts, onread: { buffer, callback: (n) => reader.read(buffer.subarray(0, n)) } });
  readers.set(socket, reader);
  return socket;
}

/** Deliver a socket's bytes to `receiver`, whichever way the socket reads. */
export function receive(socket: Socket, receiver: Receiver): void {
  const reader = readers.get(socket);
  if (!reader) {
    socket.on('data', (chunk: Buffer) => receiver(chunk, false));
    return;
  }
  reader.receiver = receiver;
  const early = reader.early;
  reader.early = [];
  for (const chunk of early) receiver(chunk, false);
}
