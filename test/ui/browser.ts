/** Headless Debian chromium for the UI tests (playwright-core), with only loopback reachable. */
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A persistent context in `<dir>/chromium` (playwright passes it as --user-data-dir) and its page. */
export async function launchBrowser(dir: string): Promise<{ browser: BrowserContext; page: Page }> {
  const browser = await chromium.launchPersistentContext(path.join(dir, 'chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 700 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  // nothing leaves loopback
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return u.hostname === '127.0.0.1' ? route.continue() : route.abort();
  });
  return { browser, page };
}
