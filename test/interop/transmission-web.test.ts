/**
 * Transmission's own web page (Debian's transmission-common 3.00, found through
 * TRANSMISSION_WEB_HOME as Transmission finds it), served by `sixswarm daemon` and run in
 * headless Chromium: its list shows a torrent the daemon downloads from an IPv6 and an IPv4
 * libtorrent seed, its inspector lists both peers, and its add dialog adds a magnet link. The
 * page's own code runs unchanged against sixswarm's RPC, without a script error. A screenshot
 * is kept (its path is printed).
 */
import { describe, expect, it } from 'vitest';
import { toMagnet } from '../../src/metainfo/magnet.js';
import { artifactDir, openBrowser } from '../support/browser.js';
import { startDaemon, twoFamilySwarm } from '../support/daemon.js';
import { cleanUpAfterEach, seedPayload, tempDir } from '../support/sixswarm.js';
import { join } from 'node:path';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

describe("Transmission's web page", () => {
  it('lists the torrent, shows its IPv4 and IPv6 peers, and adds a magnet link', async () => {
    dir = await tempDir();
    const artifacts = await artifactDir('transmission-web');
    const d = await startDaemon(dir, ['--max-down', '200k'], { env: { TRANSMISSION_WEB_HOME: '/usr/share/transmission/web' } });
    const { meta } = await twoFamilySwarm(dir, d);
    const browser = await openBrowser({ artifacts });
    const { page } = browser;
    try {
      await page.goto(`${d.url}transmission/web/`);
      await page.locator('#torrent_list .torrent_name', { hasText: 'payload' }).waitFor();
      await expect(page.locator('#torrent_list .torrent_progress_details').first().innerText()).resolves.toMatch(/of 6\.02 MB/);

      // The inspector's peers page: one peer over IPv6, one over IPv4.
      await page.locator('#torrent_list .torrent_name', { hasText: 'payload' }).click();
      await page.locator('#toolbar-inspector').click();
      await page.locator('#inspector-tab-peers').click();
      const peers = page.locator('#inspector_peers_list');
      await page.waitForFunction(() => {
        const text = document.querySelector('#inspector_peers_list')?.textContent ?? '';
        return text.includes('::1') && text.includes('127.0.0.1');
      }, undefined, { timeout: 20_000 });
      await expect(peers.innerText()).resolves.toMatch(/libtorrent\/2/);
      await browser.screenshot('transmission-web-peers');

      // The add dialog, with a magnet link.
      const other = await seedPayload(join(dir, 'other'), { 'm.bin': 40_000 }, 16 * 1024);
      await page.locator('#toolbar-open').click();
      await page.locator('#torrent_upload_url').fill(toMagnet(other.meta));
      await page.locator('#upload_confirm_button').click();
      await page.waitForFunction(() => document.querySelectorAll('#torrent_list .torrent_name').length === 2, undefined, { timeout: 20_000 });
      const hashes = (await d.rpc.torrents(['hashString'])).map((t) => t.hashString);
      expect(hashes.sort()).toEqual([meta.infoHashHex, other.meta.infoHashHex].sort());
      await browser.screenshot('transmission-web-list');
      expect(browser.problems).toEqual([]);
      expect(d.proc.events.filter((e) => e.event === 'refused')).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
