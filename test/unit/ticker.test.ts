/** The process's shared timers (src/util/ticker.ts): one wake-up per period for every subscriber. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { every } from '../../src/util/ticker.js';
import { ensureBuilt, ROOT } from '../support/sixswarm.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('every', () => {
  it('subscribers of one period that joined at different times tick together (one wake-up, one clock reading), and not after they stop', async () => {
    const seen: [string, number][] = [];
    const stopA = every(60, (now) => seen.push(['a', now]));
    await sleep(25);
    const stopB = every(60, (now) => seen.push(['b', now]));
    const stopC = every(60, (now) => seen.push(['c', now]));
    await sleep(200);
    stopA();
    stopB();
    stopC();
    // Every firing called all three with the same clock reading: they share the wake-up.
    const byNow = new Map<number, string[]>();
    for (const [who, now] of seen) byNow.set(now, [...(byNow.get(now) ?? []), who]);
    expect(byNow.size).toBeGreaterThanOrEqual(2);
    for (const who of byNow.values()) expect(who).toEqual(['a', 'b', 'c']);
    const n = seen.length;
    await sleep(150);
    expect(seen).toHaveLength(n);
  });

  it('a function subscribed twice ticks twice; stopping one subscription leaves the other', async () => {
    let calls = 0;
    const tick = () => calls++;
    const stop1 = every(40, tick);
    const stop2 = every(40, tick);
    await sleep(100);
    const both = calls;
    expect(both % 2).toBe(0);
    expect(both).toBeGreaterThanOrEqual(2);
    stop1();
    const at = calls;
    await sleep(100);
    expect(calls - at).toBeGreaterThanOrEqual(1);
    expect(calls - at).toBeLessThanOrEqual(3);
    stop2();
  });

  it('a subscriber that stops itself or another in its tick is not called again', async () => {
    const calls: string[] = [];
    let stopB = () => {};
    const stopA = every(30, () => {
      calls.push('a');
      stopA();
      stopB();
    });
    stopB = every(30, () => calls.push('b'));
    await sleep(120);
    // B was in the snapshot of the first firing; from the next one neither is left.
    expect(calls).toEqual(['a', 'b']);
  });

  it('a tick that throws reaches the process as an uncaught error, and the others still tick', async () => {
    ensureBuilt();
    const mod = pathToFileURL(join(ROOT, 'dist', 'src', 'util', 'ticker.js')).href;
    const script = `
      const { every } = await import(${JSON.stringify(mod)});
      every(20, () => { throw new Error('tick failed'); });
      every(20, () => console.log('other ticked'));
      setTimeout(() => process.exit(3), 2000);
    `;
    const r = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]).then(
      (ok) => ({ code: 0, ...ok }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    // The other subscriber ran in the same firing, before the error ended the process (exit 1, not 3).
    expect(r.stdout).toBe('other ticked\n');
    expect(r.stderr).toMatch(/Error: tick failed/);
    expect(r.code).toBe(1);
  });
});
