/**
 * uTP over real UDP sockets on loopback whose sends are made unreliable (test/support/
 * faulty-network.ts): datagrams lost, duplicated and reordered in both directions. Every byte
 * still arrives once and in order, lost packets are sent again, and the connection recovers
 * from heavy loss through its timeouts.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import type { Transport } from '../../src/transport/transport.js';
import { waitUntil } from '../support/peers.js';
import { FaultyNetwork, type Faults } from '../support/faulty-network.js';
import { readAll, sha1, utpPair, type UtpPair } from '../support/utp.js';

let pair: UtpPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** Sends `data` from the dialing side to the accepting side and returns what arrived. */
async function transfer(faults: Faults, family: 4 | 6, data: Buffer): Promise<{ got: Buffer; networks: FaultyNetwork[] }> {
  const networks = [new FaultyNetwork(new KernelNetwork(), faults), new FaultyNetwork(new KernelNetwork(), { ...faults, seed: faults.seed + 100 })];
  pair = await utpPair(family, { server: networks[0], client: networks[1] });
  const dialed = pair.dialed;
  dialed.start({ data: () => {}, drain: () => pump(), close: () => {} });
  let at = 0;
  const pump = () => {
    while (at < data.length && dialed.queuedBytes < 1024 * 1024) {
      dialed.write(data.subarray(at, at + 16384));
      at += 16384;
    }
  };
  pump();
  const accepted: Transport = await pair.accepted;
  const chunks: Buffer[] = [];
  let total = 0;
  const got = await new Promise<Buffer>((resolve, reject) => {
    accepted.start({
      data: (c) => {
        chunks.push(c);
        total += c.length;
        if (total >= data.length) resolve(Buffer.concat(chunks));
      },
      drain: () => {},
      close: (reason) => reject(new Error(`closed after ${total} bytes: ${reason}`)),
    });
  });
  return { got, networks };
}

describe.each([6, 4] as const)('uTP over IPv%i with faults', (family) => {
  it('delivers 8 MiB intact through 3% loss, 3% duplication and 5% reordering', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const { got, networks } = await transfer({ loss: 0.03, duplicate: 0.03, reorder: 0.05, seed: 7 }, family, data);
    expect(got.length).toBe(data.length);
    expect(sha1(got)).toBe(sha1(data));
    const sender = networks[1]!.channels[0]!;
    expect(sender.lost).toBeGreaterThan(50);
    expect(sender.duplicated).toBeGreaterThan(50);
    expect(sender.reordered).toBeGreaterThan(50);
    const stats = (await pair!.client.stats())[family]!;
    expect(stats.resent).toBeGreaterThanOrEqual(sender.lost / 2);
  });

  it('delivers 1 MiB through 10% loss both ways', async () => {
    const data = randomBytes(1024 * 1024);
    const { got } = await transfer({ loss: 0.1, duplicate: 0, reorder: 0, seed: 11 }, family, data);
    expect(sha1(got)).toBe(sha1(data));
  });

  it('recovers from 20% loss both ways (timeouts, lost retransmissions)', async () => {
    const data = randomBytes(64 * 1024);
    const { got } = await transfer({ loss: 0.2, duplicate: 0, reorder: 0, seed: 5 }, family, data);
    expect(sha1(got)).toBe(sha1(data));
  });
});

it('reads the end of a stream after losses near the FIN', async () => {
  const faults = { loss: 0.1, duplicate: 0.05, reorder: 0.1, seed: 3 };
  pair = await utpPair(6, { server: new FaultyNetwork(new KernelNetwork(), faults), client: new FaultyNetwork(new KernelNetwork(), { ...faults, seed: 4 }) });
  const data = randomBytes(200_000);
  pair.dialed.start({ data: () => {}, drain: () => {}, close: () => {} });
  pair.dialed.write(data);
  const accepted = await pair.accepted;
  const all = readAll(accepted);
  // close() drops what is not in a packet yet: wait until all of it is.
  await waitUntil(() => pair!.dialed.queuedBytes === 0, 60_000, () => 'everything in packets');
  pair.dialed.close();
  const { bytes, reason } = await all;
  expect(reason).toBe('connection closed by peer');
  expect(bytes.length).toBe(data.length);
  expect(sha1(bytes)).toBe(sha1(data));
});
