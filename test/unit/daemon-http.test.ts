/**
 * The daemon's front door, one piece at a time: the login throttle (on a clock of its own), Host
 * header parsing, Basic credentials and the credentials file, the download folders a remote may
 * use (real folders and symlinks), the web folder's confinement, Transmission's torrent ids and
 * the RPC's argument types.
 */
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicCredentials, Credentials } from '../../src/http/credentials.js';
import { hostOf } from '../../src/http/guard.js';
import { HttpError } from '../../src/http/http-error.js';
import { LoginThrottle } from '../../src/http/login-throttle.js';
import { StaticFiles } from '../../src/http/static-files.js';
import { DownloadFolders } from '../../src/session/download-folders.js';
import { Args } from '../../src/transmission-rpc/args.js';
import { TorrentIds } from '../../src/transmission-rpc/torrent-ids.js';
import { removeDir, tempDir } from '../support/sixswarm.js';

describe('login throttle', () => {
  it('gives a host five free failures, then doubles its wait; a login clears it', () => {
    let now = 0;
    const t = new LoginThrottle({}, () => now);
    for (let i = 0; i < 5; i++) {
      expect(t.waitFor('192.0.2.1')).toBe(0);
      t.failed('192.0.2.1');
    }
    expect(t.waitFor('192.0.2.1')).toBe(0);
    t.failed('192.0.2.1');
    expect(t.waitFor('192.0.2.1')).toBe(1000);
    now += 1000;
    t.failed('192.0.2.1');
    expect(t.waitFor('192.0.2.1')).toBe(2000);
    // Another host is not affected; the same /64 is the same host.
    expect(t.waitFor('192.0.2.2')).toBe(0);
    for (let i = 0; i < 6; i++) t.failed('2001:db8:1:2::1');
    expect(t.waitFor('2001:db8:1:2::ffff')).toBe(1000);
    expect(t.waitFor('2001:db8:1:3::1')).toBe(0);
    now += 2000;
    t.succeeded('192.0.2.1');
    expect(t.waitFor('192.0.2.1')).toBe(0);
  });

  it('caps failures from unknown hosts per minute, but not for a host that logged in', () => {
    let now = 0;
    const t = new LoginThrottle({ globalPerMinute: 10 }, () => now);
    t.succeeded('198.51.100.9');
    for (let i = 0; i < 10; i++) t.failed(`2001:db8:${i}::1`);
    expect(t.waitFor('2001:db8:ff::1')).toBe(60_000);
    expect(t.waitFor('198.51.100.9')).toBe(0);
    now += 60_000;
    expect(t.waitFor('2001:db8:ff::1')).toBe(0);
  });

  it('forgets the oldest hosts beyond its bound', () => {
    const t = new LoginThrottle({ maxHosts: 100, freeFailures: 0, globalPerMinute: 1000 }, () => 0);
    t.failed('192.0.2.1');
    for (let i = 0; i < 100; i++) t.failed(`10.0.${i >> 8}.${i & 255}`);
    expect(t.waitFor('192.0.2.1')).toBe(0);
  });
});

describe('Host header and credentials', () => {
  it('takes the host out of a Host header', () => {
    expect(hostOf('Example.org:9091')).toBe('example.org');
    expect(hostOf('example.org.')).toBe('example.org');
    expect(hostOf('[::1]:9091')).toBe('::1');
    expect(hostOf('[2001:db8::1]')).toBe('2001:db8::1');
    expect(hostOf('127.0.0.1')).toBe('127.0.0.1');
  });

  it('reads Basic credentials, and nothing else', () => {
    expect(basicCredentials(`Basic ${Buffer.from('a:b:c').toString('base64')}`)).toEqual({ user: 'a', password: 'b:c' });
    expect(basicCredentials('Bearer x')).toBeUndefined();
    expect(basicCredentials(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
    expect(basicCredentials(`Basic ${'A'.repeat(5000)}`)).toBeUndefined();
  });

  it('loads a credentials file only when others cannot read it, and checks passwords', async () => {
    const dir = await tempDir();
    try {
      const file = join(dir, 'users');
      await writeFile(file, '# users\n\nalice:pa:ss\r\nbob:x\n');
      await chmod(file, 0o640);
      await expect(Credentials.load(file)).rejects.toThrow(/may be read by others \(mode 640\): chmod 600/);
      await chmod(file, 0o600);
      const c = await Credentials.load(file);
      expect([c.check('alice', 'pa:ss'), c.check('bob', 'x'), c.check('alice', 'x'), c.check('carol', 'x')]).toEqual([true, true, false, false]);
      await writeFile(file, 'nopassword\n');
      await expect(Credentials.load(file)).rejects.toThrow(/line 1: write name:password/);
      await expect(Credentials.load(join(dir, 'missing'))).rejects.toThrow(/cannot read the credentials file/);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('download folders', () => {
  it('allows the default folder, --allow-dir folders and what is inside them; nothing outside, not through a symlink', async () => {
    const dir = await tempDir();
    try {
      const dl = join(dir, 'dl');
      const extra = join(dir, 'extra');
      await mkdir(join(dl, 'real'), { recursive: true });
      await mkdir(join(dir, 'outside'));
      await symlink(join(dir, 'outside'), join(dl, 'link'));
      await symlink(join(dl, 'real'), join(dl, 'inner-link'));
      const f = new DownloadFolders(dl, [extra]);
      expect(await f.check(undefined)).toBe(dl);
      expect(await f.check('')).toBe(dl);
      expect(await f.check(join(dl, 'new', 'deeper'))).toBe(join(dl, 'new', 'deeper'));
      expect(await f.check(join(extra, 'x'))).toBe(join(extra, 'x'));
      expect(await f.check(`${dl}/a/../b`)).toBe(join(dl, 'b'));
      expect(await f.check(join(dl, 'inner-link', 'x'))).toBe(join(dl, 'inner-link', 'x'));
      await expect(f.check(`${dl}/../outside`)).rejects.toThrow(/is outside the folders this daemon may write; allowed: .*dl, .*extra/);
      await expect(f.check(`${dl}-sibling`)).rejects.toThrow(/is outside/);
      await expect(f.check(join(dl, 'link'))).rejects.toThrow(/leads outside .* through a symlink/);
      await expect(f.check(join(dl, 'link', 'a', 'b'))).rejects.toThrow(/through a symlink/);
      await expect(f.check('dl')).rejects.toThrow(/not an absolute path/);
      await expect(f.check(`${dl}/\u001b[2J`)).rejects.toThrow(/not a usable path/);
      await f.setDefault(join(dl, 'real'));
      expect(await f.check(undefined)).toBe(join(dl, 'real'));
      await expect(f.setDefault('/')).rejects.toThrow(/is outside/);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('web folder', () => {
  it('serves files inside it and nothing else', async () => {
    const dir = await tempDir();
    try {
      const root = join(dir, 'web');
      await mkdir(join(root, 'sub'), { recursive: true });
      await writeFile(join(root, 'index.html'), 'home');
      await writeFile(join(root, 'sub', 'a.js'), 'js');
      await writeFile(join(dir, 'secret'), 'secret');
      await symlink(join(dir, 'secret'), join(root, 'leak'));
      const files = new StaticFiles(root);
      const serve = async (path: string) => {
        let status = 0;
        let headers: Record<string, string> = {};
        const chunks: Buffer[] = [];
        const res = {
          writeHead(s: number, h: Record<string, string>) {
            status = s;
            headers = h;
          },
          end() {},
          on() {
            return this;
          },
          once() {
            return this;
          },
          emit() {
            return true;
          },
          write(c: Buffer) {
            chunks.push(c);
            return true;
          },
        };
        try {
          await files.serve(path, res as unknown as ServerResponse, {}, true);
        } catch (e) {
          return (e as HttpError).status;
        }
        return `${status} ${headers['Content-Type']}`;
      };
      expect(await serve('')).toBe('200 text/html; charset=utf-8');
      expect(await serve('sub/a.js')).toBe('200 text/javascript; charset=utf-8');
      for (const bad of ['leak', '../secret', '%2e%2e/secret', 'sub/..%2f..%2fsecret', '.hidden', 'sub', 'a%00b', '%E0%A4%A']) expect(await serve(bad), bad).toBe(404);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('Transmission RPC pieces', () => {
  it('numbers torrents in the order seen and selects them by every form of ids', () => {
    let now = 0;
    const ids = new TorrentIds(() => now);
    const [a, b, c] = ['a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40)];
    const all = [a, b, c];
    expect(ids.select(undefined, all).hashes).toEqual(all);
    expect(ids.select(2, all).hashes).toEqual([b]);
    expect(ids.select([3, a.toUpperCase(), 99], all).hashes).toEqual([a, c]);
    expect(ids.select(b, all).hashes).toEqual([b]);
    expect(ids.select(['1'], all).hashes).toEqual([a]);
    ids.forget(b);
    expect(ids.select('recently-active', [a, c])).toEqual({ hashes: [a, c], removed: [2] });
    now += 61_000;
    expect(ids.select('recently-active', [a, c]).removed).toEqual([]);
    // A new torrent gets a new id, never a removed one's.
    expect(ids.idOf('d'.repeat(40))).toBe(4);
    expect(() => ids.select({}, all)).toThrow(/"ids" must be/);
    expect(() => ids.select([true], all)).toThrow(/"ids" must be/);
    expect(() => ids.select('../x', all)).toThrow(/"ids" must be/);
  });

  it('checks the types of arguments, naming the argument', () => {
    const args = new Args({ paused: 'yes', n: 5, s: 'x'.repeat(10), list: ['a', 'b\u0007'], flag: 1, idx: [0, -1] });
    expect(() => args.bool('paused')).toThrow(/"paused" must be true or false/);
    expect(args.bool('flag')).toBe(true);
    expect(args.bool('missing')).toBeUndefined();
    expect(() => args.number('n', 0, 4)).toThrow(/"n" must be a number from 0 to 4/);
    expect(() => args.string('s', 5)).toThrow(/"s" is longer than 5 characters/);
    expect(() => args.strings('list', 10, 10)).toThrow(/"list" must be a list of at most 10 strings/);
    expect(() => args.integers('idx')).toThrow(/"idx" must be a list of file indices/);
  });
});
