/** Headless Debian chromium for the UI tests (playwright-core), with only loopback reachable. */
import { createHash, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * A persistent context in `<dir>/chromium` (playwright passes it as --user-data-dir) and its page.
 * `extraArgs`: more Chromium flags, e.g. `--ignore-certificate-errors-spki-list=<spkiHash(cert)>`,
 * which trusts exactly the certificate with that key (and no other bad certificate).
 */
export async function launchBrowser(
  dir: string,
  extraArgs: readonly string[] = [],
): Promise<{ browser: BrowserContext; page: Page }> {
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
      ...extraArgs,
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

/** The base64 SHA-256 of a certificate's SubjectPublicKeyInfo (Chromium's SPKI pin format). */
export function spkiHash(certPem: Buffer | string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}
