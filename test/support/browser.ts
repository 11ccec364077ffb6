// Headless Chromium for browser tests: playwright-core driving Debian's `chromium` package
// (scripts/setup.sh installs it), at 1280×800; screenshots go to the run's artefacts folder.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The Chromium binary: CHROMIUM_PATH, else Debian's (the real binary behind /usr/bin/chromium), else one on PATH. */
export function chromiumPath(): string {
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/lib/chromium/chromium',
    ...(process.env.PATH ?? '').split(path.delimiter).flatMap((d) => [path.join(d, 'chromium'), path.join(d, 'chromium-browser')]),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) {
    throw new Error('Chromium not found (the browser tests need it): run `npm run setup` as root, or `sudo apt-get install chromium`, or set CHROMIUM_PATH');
  }
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Chromium refuses to run as root with its sandbox (containers, CI).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

export async function newPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  return context.newPage();
}

/** Saves a full-page screenshot as a test artefact (kept after the run; `npm test` prints the folder). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = process.env.TEST_ARTEFACTS_DIR ?? path.join(process.env.DIALER_DATA_DIR ?? '/tmp', 'artefacts');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}
