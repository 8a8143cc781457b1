/**
 * Corks a socket for the rest of the current tick: everything written until then leaves in one
 * writev, where one syscall and one write request per small message would cost more than the bytes.
 */
import type { Socket } from 'node:net';

export class TickCork {
  private held = false;

  constructor(private readonly socket: Socket) {}

  /** Call before writing; idempotent within a tick. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.socket.cork();
    process.nextTick(() => {
      this.held = false;
      this.socket.uncork();
    });
  }
}
