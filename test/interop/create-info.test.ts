import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, type Encodable } from '../../src/bencode/index.js';

const REPO = join(import.meta.dirname, '..', '..');
const MAIN = join(REPO, 'dist', 'bin', 'sixswarm.js');
const FIXTURES = join(REPO, 'fixtures', 'torrents');
const LT_INSPECT = join(FIXTURES, 'lt_inspect.py');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sixswarm(args: string[], cwd: string): Result {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let work: string;
let data: string;

beforeAll(() => {
  // `npm test` builds first; a direct `vitest run` of this file builds when dist lacks these commands.
  if (!existsSync(join(REPO, 'dist', 'cli', 'create.js')) || !existsSync(join(REPO, 'dist', 'cli', 'info.js'))) {
    execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'ignore' });
  }
  work = mkdtempSync(join(tmpdir(), 'sixswarm-cli-meta-'));
  data = join(work, 'data');
  mkdirSync(join(data, 'album', 'disc 2'), { recursive: true });
  writeFileSync(join(data, 'album', 'one.flac'), Buffer.alloc(300_000, 1));
  writeFileSync(join(data, 'album', 'disc 2', 'two.flac'), Buffer.alloc(123_456, 2));
  writeFileSync(join(data, 'album', 'cover.jpg'), Buffer.alloc(5_000, 3));
  writeFileSync(join(data, 'single.iso'), Buffer.alloc(70_000, 4));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh, empty folder to run the CLI in. */
function emptyDir(): string {
  return mkdtempSync(join(work, 'cwd-'));
}

const infoJson = (file: string, cwd: string): Record<string, unknown> => {
  const r = sixswarm(['info', file, '--json'], cwd);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

describe('sixswarm create', () => {
  it('writes <basename>.torrent in the cwd, prints path and infohash, and libtorrent agrees', () => {
    const cwd = emptyDir();
    const r = sixswarm(['create', join(data, 'album'), '--tracker', 'udp://[::1]:6969'], cwd);
    expect(r.stderr).toBe(''); // stderr is not a TTY here: no progress line
    expect(r.code).toBe(0);
    const m = /^wrote album\.torrent\ninfohash ([0-9a-f]{40})\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(readdirSync(cwd)).toEqual(['album.torrent']);
    const lt = JSON.parse(execFileSync('/usr/bin/python3', [LT_INSPECT, join(cwd, 'album.torrent'), data], { encoding: 'utf8' }));
    expect(lt.info_hash_v1).toBe(m![1]);
    expect(lt.pieces_ok).toBe(true);
    expect(lt.trackers).toEqual([['udp://[::1]:6969']]);
  });

  it('refuses to overwrite without --force, and replaces with it', () => {
    const cwd = emptyDir();
    expect(sixswarm(['create', join(data, 'single.iso'), '--comment', 'first'], cwd).code).toBe(0);
    const before = readFileSync(join(cwd, 'single.iso.torrent'));
    const again = sixswarm(['create', join(data, 'single.iso'), '--comment', 'second'], cwd);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('sixswarm create: "single.iso.torrent" already exists; use --force to replace it\n');
    expect(readFileSync(join(cwd, 'single.iso.torrent'))).toEqual(before);
    const forced = sixswarm(['create', join(data, 'single.iso'), '--comment', 'second', '--force'], cwd);
    expect(forced.code).toBe(0);
    expect(infoJson('single.iso.torrent', cwd).comment).toBe('second');
    expect(readdirSync(cwd)).toEqual(['single.iso.torrent']);
  });

  it('takes -o, tracker tiers (repeated and comma-separated), --private, --comment and --piece-length forms', () => {
    const cwd = emptyDir();
    const cases: [string, number][] = [['32K', 32768], ['262144', 262144], ['1M', 1048576], ['64KiB', 65536]];
    for (const [text, bytes] of cases) {
      const out = `pl-${text}.torrent`;
      const r = sixswarm(
        ['create', join(data, 'album'), '-o', out, '--piece-length', text, '--private', '--comment', 'hi there',
          '--tracker', 'udp://[::1]:1,http://127.0.0.1:2/announce', '--tracker', 'https://[::1]:3/a'],
        cwd,
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^wrote ${out}\\n`));
      const j = infoJson(out, cwd);
      expect(j).toMatchObject({
        name: 'album',
        pieceLength: bytes,
        private: true,
        comment: 'hi there',
        createdBy: 'sixswarm/0.1.0',
        announce: [['udp://[::1]:1', 'http://127.0.0.1:2/announce'], ['https://[::1]:3/a']],
        totalLength: 428_456,
      });
    }
  });

  it.each([
    [['create'], /expected one file or folder to share, got 0/],
    [['create', 'a', 'b'], /got 2/],
    [['create', '--bogus', 'x'], /unknown option --bogus/],
    [['create', '/nonexistent/thing'], /no such file or folder: "\/nonexistent\/thing"/],
    [['create', 'DATA/single.iso', '-o', '/nonexistent/x.torrent'], /cannot write "\/nonexistent\/x.torrent": its folder does not exist/],
    [['create', 'DATA/single.iso', '--piece-length', '300000'], /bad piece length 300000: it must be a power of two/],
    [['create', 'DATA/single.iso', '--piece-length', '8K'], /bad piece length 8192/],
    [['create', 'DATA/single.iso', '--piece-length', 'lots'], /bad --piece-length "lots"/],
    [['create', 'DATA/single.iso', '--tracker', 'wss://x.example'], /bad tracker URL "wss:\/\/x.example"/],
  ])('bad usage %j exits 2 and writes nothing', (args, message) => {
    const cwd = emptyDir();
    const r = sixswarm(args.map((a) => a.replace('DATA', data)), cwd);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('refuses a folder holding a symlink (seeding could not open it): exit 2, names the link, writes nothing', () => {
    const cwd = emptyDir();
    const folder = join(work, 'with-link');
    mkdirSync(folder);
    writeFileSync(join(folder, 'real.bin'), Buffer.alloc(1000, 5));
    symlinkSync('real.bin', join(folder, 'alias.bin'));
    const r = sixswarm(['create', folder], cwd);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `sixswarm create: "${join(folder, 'alias.bin')}" is a symlink, and seeding never follows symlinks: copy the file it points to into its place, or make the torrent from the folder that really holds the files\n`,
    );
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('prints help with every option and the exit codes', () => {
    const r = sixswarm(['create', '--help'], work);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: sixswarm create <path>/);
    for (const option of ['-o, --output', '-t, --tracker', '-l, --piece-length', '-p, --private', '-c, --comment', '-f, --force', '-h, --help']) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout).toMatch(/Exit codes: 0 written, 1 runtime failure .*, 2 bad usage or\s+bad input/s);
  });
});

describe('sixswarm info', () => {
  it('shows a torrent for people: name, infohash, magnet, size, pieces, private, tiers, files', () => {
    const r = sixswarm(['info', join(FIXTURES, 'mktorrent-multi-private.torrent')], work);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'))['mktorrent-multi-private.torrent'];
    const lines = r.stdout.split('\n');
    expect(lines).toContain('name        multi');
    expect(lines).toContain(`infohash    ${expected.info_hash_v1}`);
    expect(lines).toContain(`magnet      magnet:?xt=urn:btih:${expected.info_hash_v1}&dn=multi&tr=http%3A%2F%2F%5B%3A%3A1%5D%3A6969%2Fannounce&tr=udp%3A%2F%2F%5B%3A%3A1%5D%3A6969&tr=udp%3A%2F%2F127.0.0.1%3A6969&ws=http%3A%2F%2F%5B%3A%3A1%5D%3A8080%2Fmulti%2F`);
    expect(lines).toContain('size        74.2 KiB (76000 bytes)');
    expect(lines).toContain('pieces      3 x 32 KiB (32768 bytes)');
    expect(lines).toContain('private     yes');
    expect(lines).toContain('  tier 1    http://[::1]:6969/announce');
    expect(lines).toContain('            udp://[::1]:6969');
    expect(lines).toContain('  tier 2    udp://127.0.0.1:6969');
    expect(lines).toContain('files (4)');
    expect(lines).toContain('  1  39.1 KiB  multi/a.bin');
    expect(lines).toContain('  4  32.2 KiB  multi/sub/ünï 文件.txt');
  });

  it('shows C0, DEL and C1 control characters from a torrent as \\xNN, and lists the exit codes in its help', () => {
    const file = join(work, 'controls.torrent');
    writeFileSync(
      file,
      encode({ comment: 'a\u001b[2Jb\u007fc\u009b31md', 'created by': 'x\u0007y', info: { name: 'n', 'piece length': 16384, length: 10, pieces: Buffer.alloc(20) } }),
    );
    const r = sixswarm(['info', file], work);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('comment     a\\x1b[2Jb\\x7fc\\x9b31md\n');
    expect(r.stdout).toContain('created by  x\\x07y\n');
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const h = sixswarm(['info', '--help'], work);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--json/);
    expect(h.stdout).toMatch(/-h, --help/);
    expect(h.stdout).toMatch(/Exit codes: 0 shown, 1 runtime failure, 2 bad usage or bad input/);
  });

  it('counts pad files apart in a libtorrent hybrid', () => {
    const r = sixswarm(['info', join(FIXTURES, 'libtorrent-hybrid.torrent')], work);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^files \(4, plus \d+ padding\)$/m);
    expect(r.stdout).not.toMatch(/\.pad/);
  });

  it('--json prints one object with every field', () => {
    const j = infoJson(join(FIXTURES, 'mktorrent-single.torrent'), work);
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'))['mktorrent-single.torrent'];
    expect(j).toMatchObject({
      type: 'torrent',
      name: 'fixture.bin',
      infoHash: expected.info_hash_v1,
      totalLength: 70000,
      pieceLength: 32768,
      pieceCount: 3,
      private: false,
      multiFile: false,
      announce: [['http://[::1]:6969/announce']],
      comment: 'single-file fixture',
      files: [{ path: ['fixture.bin'], length: 70000, offset: 0, pad: false }],
    });
    expect(j.magnet).toMatch(/^magnet:\?xt=urn:btih:/);
  });

  it('shows a magnet link, and --json for it', () => {
    const uri = 'magnet:?xt=urn:btih:LM6UVHLM75VNXQC6Z2TMMFG6UTG6ZOBQ&dn=some+name&tr=udp%3A%2F%2F%5B%3A%3A1%5D%3A6969&x.pe=[2001:db8::7]:6881';
    const r = sixswarm(['info', uri], work);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'name        some name',
        'infohash    5b3d4a9d6cff6adbc05ecea6c614dea4cdecb830',
        'size        unknown until the metadata is fetched from peers',
        'trackers    udp://[::1]:6969',
        'peers       [2001:db8::7]:6881',
        '',
      ].join('\n'),
    );
    expect(infoJson(uri, work)).toEqual({
      type: 'magnet',
      infoHash: '5b3d4a9d6cff6adbc05ecea6c614dea4cdecb830',
      name: 'some name',
      trackers: ['udp://[::1]:6969'],
      peers: [{ host: '2001:db8::7', port: 6881, family: 6 }],
    });
  });

  it.each([
    [['info'], /expected one torrent file or magnet link, got 0/],
    [['info', '/nonexistent.torrent'], /no such torrent file: "\/nonexistent.torrent"/],
    [['info', 'magnet:?xt=urn:btmh:1220abcd'], /v2 infohash "1220abcd" is not 32 bytes/],
    [['info', 'magnet:?xt=urn:btih:123'], /neither 40 hex digits nor 32 base32 digits/],
  ])('bad input %j exits 2', (args, message) => {
    const r = sixswarm(args, work);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });
});

describe('sixswarm info on hostile torrents', () => {
  type Fields = Record<string, Encodable | undefined>;
  const single = (info: Fields = {}): Buffer =>
    encode({ announce: 'http://[::1]:6969/announce', info: { name: 'x', 'piece length': 16384, length: 20000, pieces: Buffer.alloc(40), ...info } });
  const multi = (paths: string[][], info: Fields = {}): Buffer =>
    single({ length: undefined, files: paths.map((path) => ({ length: 10, path })), pieces: Buffer.alloc(20), ...info });

  const hostile: [string, Buffer, RegExp][] = [
    ['dotdot', multi([['..', '..', 'etc', 'passwd']]), /unsafe path in torrent: "x\/\.\.\/\.\.\/etc\/passwd" \(component "\.\."\)/],
    ['dot', multi([['.', 'a']]), /\(component "\."\)/],
    ['empty-component', multi([['a', '']]), /\(empty component\)/],
    ['slash', multi([['a/../../b']]), /separator in component/],
    ['backslash', multi([['..\\..\\b']]), /separator in component/],
    ['absolute', multi([['/etc/passwd']]), /absolute path in component "\/etc\/passwd"/],
    ['nul', multi([['a\u0000b']]), /control character in component "a\\x00b"/],
    ['escape', multi([['\u001b]0;pwned\u0007']]), /control character in component "\\x1b\]0;pwned\\x07"/],
    ['drive', multi([['C:', 'Windows']]), /drive letter in component "C:"/],
    ['long-component', multi([['z'.repeat(300)]]), /component longer than 255 bytes/],
    ['long-path', multi([Array.from({ length: 17 }, () => 'p'.repeat(255))]), /path of \d+ bytes is longer than 4096/],
    ['duplicate', multi([['a'], ['a']], { pieces: Buffer.alloc(20) }), /duplicate file path in torrent: "x\/a"/],
    ['file-and-folder', multi([['a', 'b'], ['a', 'b', 'c']]), /is also a folder of another file: "x\/a\/b"/],
    ['name-dotdot', single({ name: '..' }), /unsafe name in torrent: "\.\."/],
    ['name-absolute', single({ name: '/tmp/owned' }), /unsafe name in torrent: "\/tmp\/owned"/],
    ['negative-bencode-length', Buffer.from('l-3:e'), /bad bencode at byte 1/],
    ['deep-list', Buffer.from(`${'l'.repeat(50_000)}${'e'.repeat(50_000)}`), /nested deeper than 64 levels/],
    ['wrong-pieces', single({ pieces: Buffer.alloc(100) }), /"pieces" is 100 bytes \(5 hashes\) but 20000 bytes in pieces of 16384 need 40 bytes \(2 hashes\)/],
    ['pieces-not-multiple', single({ pieces: Buffer.alloc(39) }), /"pieces" is 39 bytes, not a multiple of 20/],
    ['negative-length', single({ length: -20000 }), /"info.length" is negative/],
    ['huge-length', single({ length: 2 ** 52 }), /total size is huge/],
    ['bad-piece-length', single({ 'piece length': 0 }), /piece length 0 is not between 1 and 268435456/],
    ['unsorted-keys', Buffer.from(`d4:infod4:name1:x6:lengthi20000e12:piece lengthi16384e6:pieces40:${'\0'.repeat(40)}ee`, 'latin1'), /keys of "info" are not sorted/],
    ['duplicate-keys', Buffer.from(`d4:infod6:lengthi20000e6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces40:${'\0'.repeat(40)}ee`, 'latin1'), /duplicate dictionary key "length"/],
    ['v2-no-root', single({ 'meta version': 2, pieces: undefined, length: undefined, 'file tree': { a: { '': { length: 1 } } } }), /the file "a" has no valid "pieces root"/],
    ['v2-dotdot', single({ 'meta version': 2, pieces: undefined, length: undefined, 'file tree': { '..': { b: { '': { length: 0 } } } } }), /unsafe path in torrent: "x\/\.\." \(component "\.\."\)/],
    ['v2-newer', single({ 'meta version': 3 }), /meta version 3, newer than sixswarm understands/],
  ];

  let hostileDir: string;
  let cwd: string;
  beforeAll(() => {
    hostileDir = mkdtempSync(join(work, 'hostile-'));
    cwd = emptyDir();
    for (const [name, buf] of hostile) writeFileSync(join(hostileDir, `${name}.torrent`), buf);
  });

  it.each(hostile)('%s: exit 2 with a clear message, nothing written', (name, _buf, message) => {
    for (const args of [[], ['--json']]) {
      const r = sixswarm(['info', join(hostileDir, `${name}.torrent`), ...args], cwd);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^sixswarm info: .*\.torrent: /);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1); // one message, no stack trace
      expect(readdirSync(cwd)).toEqual([]);
    }
    expect(readdirSync(hostileDir).sort()).toEqual(hostile.map(([n]) => `${n}.torrent`).sort());
  });
});
