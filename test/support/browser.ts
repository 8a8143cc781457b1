/**
 * Test support: Debian's Chromium, headless, driven by playwright-core (no browser download),
 * with a fresh profile and nothing that talks to Google (no background networking, component
 * updates or sync); the page's console errors and failed requests are collected. Screenshots go
 * to a folder kept after the test (its path is printed), as test artifacts.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and requests that failed (4xx/5xx from the daemon, CSP refusals). */
  problems: string[];
  /** Save a screenshot as an artifact; returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Where this run's artifacts go: tmpdir()/sixswarm-artifacts/<name>-<time>, kept after the test. */
export async function artifactDir(name: string): Promise<string> {
  const dir = join(tmpdir(), 'sixswarm-artifacts', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function openBrowser(o: { artifacts: string; viewport?: { width: number; height: number }; httpCredentials?: { username: string; password: string } }): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'sixswarm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: o.viewport ?? { width: 1280, height: 860 },
    ...(o.httpCredentials ? { httpCredentials: o.httpCredentials } : {}),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => {
    // The RPC's first answer is 409 by design (it carries the session id): the browser logs it.
    if (m.type() === 'error' && !/status of 409/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && r.status() !== 409) problems.push(`${r.status()} ${r.url()}`);
  });
  return {
    context,
    page,
    problems,
    async screenshot(name) {
      const path = join(o.artifacts, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      console.info(`[artifact] ${path}`);
      return path;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
