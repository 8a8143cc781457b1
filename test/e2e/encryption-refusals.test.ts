/**
 * `--encryption require` says why it refuses, both ways, and counts it: a plaintext-only peer
 * (`--encryption off`) dialing a `require` seed is refused with a line naming it, and a
 * `require` leecher dialing a plaintext-only seed reports the peer does not speak encryption.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanUpAfterEach, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

describe('--encryption require refusing a plaintext-only peer', () => {
  it('says so on both sides, and counts the refusals', async () => {
    dir = await tempDir();
    const { torrent } = await seedPayload(dir, { 'a.bin': 100_000 }, 16 * 1024);
    const run = (args: string[], label: string, state: string) => sixswarm([...args, '--port', '0', '--no-ipv4', '--no-trackers', '--no-dht', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir!, state) }, label });

    // A plaintext-only leecher dials a seed that requires encryption.
    const strictSeed = run(['seed', torrent, join(dir, 'seed'), '--encryption', 'require'], 'require seed', 's1');
    await strictSeed.event('checked');
    const plain = run(['download', torrent, '-o', join(dir, 'l1'), '--encryption', 'off', '--peer', `[::1]:${await strictSeed.port()}`], 'plaintext leech', 's2');
    const refused = await strictSeed.waitFor((e) => e.event === 'peer-refused', 15_000, 'the refusal');
    expect(refused.reason).toBe('it does not speak encryption (a plaintext handshake); --encryption require refuses it');
    expect(String(refused.address)).toMatch(/^\[::1\]:\d+$/);
    // The plaintext side sees a hang-up on its plaintext handshake: the hint says why that may be.
    const hungUp = await plain.waitFor((e) => e.event === 'peer-unreachable', 15_000, 'the failed dial');
    expect(hungUp.reason).toMatch(/it may require encryption/);
    plain.kill();
    strictSeed.kill();

    // A leecher that requires encryption dials a plaintext-only seed.
    const plainSeed = run(['seed', torrent, join(dir, 'seed'), '--encryption', 'off'], 'plaintext seed', 's3');
    await plainSeed.event('checked');
    const strict = run(['download', torrent, '-o', join(dir, 'l2'), '--encryption', 'require', '--peer', `[::1]:${await plainSeed.port()}`], 'require leech', 's4');
    const failed = await strict.waitFor((e) => e.event === 'peer-unreachable', 15_000, 'the failed dial');
    expect(failed.reason).toMatch(/^it does not speak encryption \(.*\); --encryption require refuses it$/);
    const progress = await strict.waitFor((e) => e.event === 'progress' && (e.unreachable as number) >= 1, 5000, 'counted');
    expect(progress.lastUnreachable).toMatch(/does not speak encryption/);
    strict.kill();
    plainSeed.kill();
  });
});
