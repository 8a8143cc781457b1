/**
 * RC4, both engines (the native addon and JavaScript): published test vectors (RFC 6229, and the
 * classic ones), and agreement with OpenSSL's RC4 far into the stream (MSE starts at byte 1024)
 * whatever the cut of the input into calls and the alignment of the buffers.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createRc4, defaultRc4Engine, nativeRc4Missing, type Rc4Engine } from '../../src/mse/rc4.js';
import { opensslKeystreams } from '../support/openssl-rc4.js';
import { ensureBuilt, removeDir, ROOT, tempDir } from '../support/sixswarm.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function keystream(key: Buffer, n: number, engine: Rc4Engine): Buffer {
  const b = Buffer.alloc(n);
  createRc4(key, engine).xor(b, b);
  return b;
}

const engines: Rc4Engine[] = ['js', 'native'];

describe.each(engines)('RC4 (%s)', (engine) => {
  const skip = engine === 'native' && nativeRc4Missing() !== '';

  it.skipIf(skip)('matches RFC 6229 (40- and 56-bit keys) at offsets 0, 16, 240, 256', () => {
    const ks5 = keystream(hex('0102030405'), 272, engine);
    expect(ks5.subarray(0, 16)).toEqual(hex('b2 39 63 05 f0 3d c0 27 cc c3 52 4a 0a 11 18 a8'));
    expect(ks5.subarray(16, 32)).toEqual(hex('69 82 94 4f 18 fc 82 d5 89 c4 03 a4 7a 0d 09 19'));
    const ks7 = keystream(hex('01020304050607'), 272, engine);
    expect(ks7.subarray(0, 16)).toEqual(hex('29 3f 02 d4 7f 37 c9 b6 33 f2 af 52 85 fe b4 6b'));
    expect(ks7.subarray(16, 32)).toEqual(hex('e6 20 f1 39 0d 19 bd 84 e2 e0 fd 75 20 31 af c1'));
    expect(ks7.subarray(240, 256)).toEqual(hex('91 4f 02 53 1c 92 18 81 0d f6 0f 67 e3 38 15 4c'));
    expect(ks7.subarray(256, 272)).toEqual(hex('d0 fd b5 83 07 3c e8 5a b8 39 17 74 0e c0 11 d5'));
  });

  it.skipIf(skip)('encrypts the classic examples', () => {
    for (const [key, plain, cipher] of [
      ['Key', 'Plaintext', 'bbf316e8d940af0ad3'],
      ['Wiki', 'pedia', '1021bf0420'],
      ['Secret', 'Attack at dawn', '45a01f645fc35b383552544b9bf5'],
    ] as const) {
      const b = Buffer.from(plain);
      createRc4(Buffer.from(key), engine).xor(b, b);
      expect(b.toString('hex')).toBe(cipher);
    }
  });

  it.skipIf(skip)("agrees with OpenSSL's RC4 over 70 KB cut into uneven, unaligned calls", async () => {
    const keys = [randomBytes(20), randomBytes(20), randomBytes(5), randomBytes(256)];
    const n = 70_000;
    const reference = await opensslKeystreams(keys.map((k) => [k, n]));
    keys.forEach((key, ki) => {
      const rc4 = createRc4(key, engine);
      const data = randomBytes(n);
      // Input and output at odd offsets of larger buffers, so both the word path and the byte tail run.
      const src = Buffer.alloc(n + 3);
      data.copy(src, 1);
      const dst = Buffer.alloc(n + 7);
      let at = 0;
      for (const step of [1, 2, 3, 4, 5, 7, 8, 9, 1023, 1024, 1025, 16384, 40000]) {
        const len = Math.min(step, n - at);
        const inPlace = step % 2 === 0;
        if (inPlace) {
          const view = src.subarray(1 + at, 1 + at + len);
          rc4.xor(view, view);
          view.copy(dst, 2 + at);
        } else rc4.xor(src.subarray(1 + at, 1 + at + len), dst.subarray(2 + at, 2 + at + len));
        at += len;
      }
      rc4.xor(src.subarray(1 + at, 1 + n), dst.subarray(2 + at, 2 + n));
      const expected = Buffer.alloc(n);
      for (let i = 0; i < n; i++) expected[i] = data[i]! ^ reference[ki]![i]!;
      expect(dst.subarray(2, 2 + n).equals(expected)).toBe(true);
    });
  });
});

describe('RC4 engines', () => {
  it('uses the native addon when it is built, and says why not otherwise', () => {
    expect(defaultRc4Engine()).toBe(nativeRc4Missing() === '' ? 'native' : 'js');
    if (nativeRc4Missing() !== '') expect(nativeRc4Missing()).toMatch(/npm run build:native|load/);
  });

  it.skipIf(nativeRc4Missing() !== '')('the native addon refuses a state of the wrong size or a short output', () => {
    const rc4 = createRc4(Buffer.from('key'), 'native');
    expect(() => rc4.xor(Buffer.alloc(10), Buffer.alloc(9))).toThrow(TypeError);
  });

  it('falls back to JavaScript, and says how to build the addon, where the native build is missing', async () => {
    ensureBuilt();
    // The built modules in a package without native/build, as an install without a compiler leaves it.
    const dir = await tempDir('sixswarm-rc4-');
    try {
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'sixswarm', type: 'module' }));
      await cp(join(ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
      const script = `
        import { createRc4, defaultRc4Engine, nativeRc4Missing } from ${JSON.stringify(join(dir, 'dist', 'src', 'mse', 'rc4.js'))};
        const b = Buffer.from('Plaintext');
        createRc4(Buffer.from('Key')).xor(b, b);
        console.log(JSON.stringify({ engine: defaultRc4Engine(), missing: nativeRc4Missing(), out: b.toString('hex') }));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
      const r = JSON.parse(stdout) as { engine: string; missing: string; out: string };
      expect(r.engine).toBe('js');
      expect(r.missing).toMatch(/sixswarm_rc4\.node is not built \(`npm run build:native` builds it\)/);
      expect(r.out).toBe('bbf316e8d940af0ad3');
    } finally {
      await removeDir(dir);
    }
  });

  it('refuses keys outside 1..256 bytes', () => {
    expect(() => createRc4(Buffer.alloc(0), 'js')).toThrow(RangeError);
    expect(() => createRc4(Buffer.alloc(257), 'js')).toThrow(RangeError);
  });
});
