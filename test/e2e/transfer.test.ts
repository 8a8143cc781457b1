/**
 * Two sixswarm processes move a multi-file torrent (files smaller than a piece, an odd-sized last
 * piece) over one address family only; the files must come out byte-identical.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';

const TREE = {
  'big.bin': 3 * 65536 + 12345, // spans several pieces
  'sub/tiny.txt': 100, // far smaller than a piece
  'sub/mid.bin': 70_000,
  'sub/deeper/odd.bin': 40_001, // makes the last piece an odd size
  'empty.txt': 0,
};

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function transfer(host: string, familyFlag: string) {
  dir = await tempDir();
  const env = { SIXSWARM_STATE_DIR: join(dir, 'state') };
  await makeTree(join(dir, 'seed', 'payload'), TREE);
  const created = await runCli(['create', join(dir, 'seed', 'payload'), '-o', join(dir, 't.torrent'), '--piece-length', '65536']);
  expect(created.code, created.stderr).toBe(0);

  const seedPort = await freePort();
  const seed = sixswarm(['seed', join(dir, 't.torrent'), join(dir, 'seed'), '--port', String(seedPort), familyFlag, '--json'], { env, label: 'seed' });
  await seed.event('checked');
  const leech = sixswarm(
    ['download', join(dir, 't.torrent'), '-o', join(dir, 'leech'), '--peer', `${host}:${seedPort}`, '--port', '0', familyFlag, '--exit-on-complete', '--json'],
    { env, label: 'leech' },
  );
  const connected = await leech.event('peer-connected');
  expect(connected.family).toBe(host.startsWith('[') ? 6 : 4);
  await leech.event('complete');
  expect(await leech.exited).toBe(0);
  expect(await treeDigest(join(dir, 'leech', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
  // Every piece was verified, and only over the one family.
  const verified = new Set(leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index));
  const checked = await seed.event('checked');
  expect(verified.size).toBe(checked.pieces);
  expect(leech.events.filter((e) => e.event === 'listening').map((e) => e.family)).toEqual([host.startsWith('[') ? 6 : 4]);
  seed.kill();
  expect(await seed.exited).toBe(0);
}

describe('sixswarm to sixswarm', () => {
  it('transfers a multi-file torrent over [::1] only', () => transfer('[::1]', '--no-ipv4'));
  it('transfers a multi-file torrent over 127.0.0.1 only', () => transfer('127.0.0.1', '--no-ipv6'));
});
