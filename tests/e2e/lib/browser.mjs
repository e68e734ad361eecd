// Debian's chromium, headless, driven by playwright-core (never a downloaded browser). The
// background-networking switches keep it from calling out of this machine; Playwright gives
// every launch a fresh temporary profile (its own --user-data-dir).

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumPath, outDir } from './paths.mjs';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: FLAGS, timeout: 30_000 });
}

// A page that records what must never happen: dialogs (an alert() from job output), script
// errors, and console errors such as CSP violations.
export async function openPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems = { dialogs: [], errors: [] };
  page.on('dialog', (dialog) => {
    problems.dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (error) => problems.errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A node killed on purpose makes the browser log failed requests; those are expected.
    if (message.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED/.test(message.text())) {
      problems.errors.push(`console: ${message.text()}`);
    }
  });
  return { context, page, problems };
}

export async function screenshot(page, name, options = {}) {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: file, ...options });
  return file;
}
