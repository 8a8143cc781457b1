/**
 * Joins a relayed stream to a local socket, both ways, with flow control end to end: a local
 * reader that falls behind holds back the stream's window grants (the far end stops after one
 * window), and a relayed stream that cannot send pauses the local socket. Half-closes pass
 * through; an error on either side closes both.
 */
import type { Socket } from 'node:net';
import type { RelayedTransport } from './relayed-transport.js';

/** Queued toward the tunnel beyond this, the local socket is paused. */
const HIGH_WATER = 1024 * 1024;

export function splice(stream: RelayedTransport, socket: Socket): void {
  stream.start({
    data: (chunk, transient) => {
      if (!socket.write(transient ? Buffer.from(chunk) : chunk)) stream.hold(true);
    },
    drain: () => socket.resume(),
    // The far end finished: so do we, after what it sent (a reset destroys).
    close: () => (stream.endedCleanly ? socket.end() : socket.destroy()),
  });
  socket.on('drain', () => stream.hold(false));
  socket.on('data', (chunk: Buffer) => {
    stream.write(chunk);
    if (stream.queuedBytes > HIGH_WATER) socket.pause();
  });
  socket.on('end', () => stream.finish());
  socket.on('close', () => stream.close());
  socket.on('error', () => stream.close());
}
