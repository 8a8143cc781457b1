/**
 * sixswarm's own web page, served by `sixswarm daemon`, in headless Chromium: the list shows a
 * torrent the daemon downloads from an IPv6 and an IPv4 libtorrent seed, its detail splits the
 * peers by family (with where each was learned), trackers, files and pieces show, the network
 * view shows our addresses; a magnet link and a .torrent upload are added, a torrent is paused,
 * resumed and removed; updates arrive live; at phone width nothing overflows. The page loads
 * nothing from elsewhere and runs under its Content-Security-Policy without a single refusal.
 * Screenshots are kept (their paths are printed).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toMagnet } from '../../src/metainfo/magnet.js';
import { artifactDir, openBrowser, type Browser } from '../support/browser.js';
import { startDaemon, twoFamilySwarm } from '../support/daemon.js';
import { cleanUpAfterEach, seedPayload, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
let browser: Browser | undefined;
cleanUpAfterEach(() => dir);

describe("sixswarm's web page", () => {
  it('shows torrents and peers per family live, adds by magnet and upload, pauses, resumes and removes, and fits a phone', async () => {
    dir = await tempDir();
    const artifacts = await artifactDir('web-page');
    const d = await startDaemon(dir, ['--max-down', '200k']);
    const { meta } = await twoFamilySwarm(dir, d);
    browser = await openBrowser({ artifacts });
    const { page } = browser;
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    try {
      await page.goto(d.url);
      const card = page.locator(`li.torrent[data-hash="${meta.infoHashHex}"]`);
      await card.locator('.name', { hasText: 'payload' }).waitFor();
      await page.locator('#live', { hasText: 'live' }).waitFor();
      // Live: the percentage shown grows while the page stays open.
      const first = await card.locator('.progress').getAttribute('aria-valuenow');
      await page.waitForFunction(
        ([hash, before]) => Number(document.querySelector(`li.torrent[data-hash="${hash}"] .progress`)?.getAttribute('aria-valuenow')) > Number(before),
        [meta.infoHashHex, first] as const,
        { timeout: 20_000 },
      );
      await expect(card.locator('.row').first().innerText()).resolves.toMatch(/IPv6 [1-9]\d* · IPv4 [1-9]/);
      await browser.screenshot('list');

      // The detail: peers grouped by family, each with its address and where it was learned.
      await card.locator('.name').click();
      const v6 = page.locator('#detail-view tr.group[data-family="ipv6"]');
      const v4 = page.locator('#detail-view tr.group[data-family="ipv4"]');
      await v6.waitFor();
      await v4.waitFor();
      await expect(v6.innerText()).resolves.toMatch(/IPv6 — 1 peer/);
      await expect(v4.innerText()).resolves.toMatch(/IPv4 — 1 peer/);
      await expect(page.locator('#detail-view tr[data-via="ipv6"] td.addr').innerText()).resolves.toMatch(/^\[::1\]:\d+$/);
      await expect(page.locator('#detail-view tr[data-via="ipv4"] td.addr').innerText()).resolves.toMatch(/^127\.0\.0\.1:\d+$/);
      await expect(page.locator('#detail-view tr[data-via="ipv4"]').innerText()).resolves.toMatch(/incoming/);
      await browser.screenshot('peers-by-family');
      for (const tab of ['trackers', 'files', 'pieces'] as const) await page.locator(`#detail-view button[data-tab="${tab}"]`).click();
      await expect(page.locator('#detail-view .pieces span').count()).resolves.toBeGreaterThan(0);
      await page.locator(`#detail-view button[data-tab="files"]`).click();
      await expect(page.locator('#detail-view').innerText()).resolves.toMatch(/payload\/big\.bin/);

      // The network view: our addresses, reachability per family, listening sockets.
      await page.locator('#show-network').click();
      await page.locator('#network-view h3', { hasText: 'Reached from outside' }).waitFor();
      await expect(page.locator('#network-view').innerText()).resolves.toMatch(/Listening[\s\S]*\[::\]:\d+ \(IPv6\)[\s\S]*0\.0\.0\.0:\d+ \(IPv4\)/);
      await page.locator('#show-torrents').click();

      // Add by magnet link.
      const other = await seedPayload(join(dir, 'other'), { 'm.bin': 40_000 }, 16 * 1024);
      await page.locator('#magnet').fill(toMagnet(other.meta));
      await page.locator('#add-form button[type="submit"]').click();
      await page.locator('#message', { hasText: 'added payload' }).waitFor();
      await page.locator(`li.torrent[data-hash="${other.meta.infoHashHex}"]`).waitFor();
      // A magnet link again: said to be there already.
      await page.locator('#magnet').fill(toMagnet(other.meta));
      await page.locator('#add-form button[type="submit"]').click();
      await page.locator('#message', { hasText: 'is already in the session' }).waitFor();
      // Upload a .torrent.
      const third = await seedPayload(join(dir, 'third'), { 'u.bin': 30_000 }, 16 * 1024);
      await page.locator('#upload').setInputFiles({ name: 'third.torrent', mimeType: 'application/x-bittorrent', buffer: await readFile(third.torrent) });
      await page.locator(`li.torrent[data-hash="${third.meta.infoHashHex}"]`).waitFor();
      // Garbage as a .torrent: refused with the reason.
      await page.locator('#upload').setInputFiles({ name: 'bad.torrent', mimeType: 'application/x-bittorrent', buffer: Buffer.from('d4:infoi1ee') });
      await page.locator('#message.error', { hasText: 'cannot add bad.torrent' }).waitFor();

      // Pause, resume, remove.
      const thirdCard = page.locator(`li.torrent[data-hash="${third.meta.infoHashHex}"]`);
      await thirdCard.locator('button[data-action="pause"]').click();
      await thirdCard.locator('.state', { hasText: 'paused' }).waitFor();
      await thirdCard.locator('button[data-action="resume"]').click();
      await thirdCard.locator('button[data-action="pause"]').waitFor();
      await thirdCard.locator('button[data-action="remove"]').click();
      await page.locator('#confirm-remove button[value="keep"]').click();
      await thirdCard.waitFor({ state: 'detached' });
      const torrents = await d.rpc.torrents(['hashString']);
      expect(torrents.map((t) => t.hashString).sort()).toEqual([meta.infoHashHex, other.meta.infoHashHex].sort());
      expect(d.proc.events.filter((e) => e.event === 'remote').map((e) => e.method)).toEqual(['torrent-add', 'torrent-add', 'torrent-add', 'torrent-stop', 'torrent-start', 'torrent-remove']);

      // At phone width: the page is no wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.locator(`li.torrent[data-hash="${meta.infoHashHex}"] .name`).click();
      await page.locator('#detail-view tr.group[data-family="ipv6"]').waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await browser.screenshot('phone-peers');
      await page.locator('#show-torrents').click();
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      await browser.screenshot('phone-list');

      // Nothing from elsewhere, no script error, no CSP refusal (the two refused adds above were the RPC's answer, not HTTP errors).
      expect(requests.filter((u) => !u.startsWith(d.url))).toEqual([]);
      expect(browser.problems).toEqual([]);
    } finally {
      await browser.close();
      browser = undefined;
    }
  });
});
