/**
 * A packet we sent and must keep until it is acknowledged (to send it again), and the pool its
 * buffers come back to: a bulk upload sends tens of thousands of packets a second, and none of
 * them allocates once the pool is warm.
 */

/** The largest UDP payload uTP sends: an Ethernet frame's 1500 bytes less the IPv4 and UDP headers. */
export const MAX_PACKET_BYTES = 1472;
/** Packets kept for reuse at most (about 3 MiB of buffers). */
const POOL_LIMIT = 2048;

export class OutPacket {
  readonly buf = Buffer.allocUnsafeSlow(MAX_PACKET_BYTES);
  /** Header and payload bytes. */
  length = 0;
  payload = 0;
  /** When it was last sent, microseconds (performance.now() scale). */
  sentAt = 0;
  transmissions = 0;
  /** Counted lost (a timeout): it must go again, and its bytes are no longer in flight. */
  needResend = false;
  /** A send of `buf` is still in progress: the bytes may not change until it completes. */
  sending = false;
  /** Acknowledged while a send was in progress: back to the pool once it completes. */
  releaseWhenSent = false;
  /** Sent as a path MTU probe (larger than the size known to get through). */
  probe = false;
  /** Called when a send of this packet completes (bound once per packet, not per send). */
  readonly sent = (): void => {
    this.sending = false;
    if (this.releaseWhenSent) release(this);
  };
}

const pool: OutPacket[] = [];

export function takePacket(): OutPacket {
  const p = pool.pop() ?? new OutPacket();
  p.length = 0;
  p.payload = 0;
  p.sentAt = 0;
  p.transmissions = 0;
  p.needResend = false;
  p.sending = false;
  p.releaseWhenSent = false;
  p.probe = false;
  return p;
}

/** The packet is no longer needed; it goes back to the pool once no send holds its buffer. */
export function release(p: OutPacket): void {
  if (p.sending) {
    p.releaseWhenSent = true;
    return;
  }
  p.releaseWhenSent = false;
  if (pool.length < POOL_LIMIT) pool.push(p);
}
