// What every browser journey shares: Debian's Chromium through playwright-core, a screenshot and
// an axe-core check of each key page (serious or critical violations are collected, and each
// journey asserts there are none), and waiting for a page with a useful message when it fails.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Screenshots and accessibility findings of one journey, under test-artifacts/<name>/. */
export class Artifacts {
  readonly dir: string;
  readonly a11y: string[] = [];

  constructor(name: string) {
    this.dir = join(process.cwd(), 'test-artifacts', name);
    mkdirSync(this.dir, { recursive: true });
  }

  /** Screenshot the page; unless `axe: false` (a page without script), run axe-core on it. */
  async check(page: Page, name: string, opts: { axe?: boolean; jpeg?: boolean } = {}): Promise<void> {
    // JPEG for the crawl's hundreds of pages: encoded several times faster than a full-page PNG.
    if (opts.jpeg) await page.screenshot({ path: join(this.dir, `${name}.jpg`), fullPage: true, type: 'jpeg', quality: 60 });
    else await page.screenshot({ path: join(this.dir, `${name}.png`), fullPage: true });
    if (opts.axe === false) return;
    // Evaluated through the DevTools protocol, so the page's CSP stays as it is.
    await page.evaluate(AXE);
    const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as { violations: Array<{ id: string; impact: string; nodes: unknown[] }> };
    for (const v of result.violations) if (v.impact === 'serious' || v.impact === 'critical') this.a11y.push(`${name}: ${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
    // axe-core leaves `style=""` on elements it looked at; an htmx swap later copies that attribute
    // (its settle step), which the CSP reports. The page itself never has one: take them away.
    await page.evaluate(`document.querySelectorAll('[style=""]').forEach((e) => e.removeAttribute('style'))`);
  }

  /** Write the findings next to the screenshots (the journey's last test asserts they are none). */
  save(): void {
    writeFileSync(join(this.dir, 'a11y.txt'), this.a11y.join('\n') + '\n');
  }
}

/** Wait for a URL; on failure say where the page is and what it shows. */
export async function arrive(page: Page, re: RegExp): Promise<void> {
  try {
    await page.waitForURL(re, { timeout: 15_000 });
  } catch {
    const text = ((await page.textContent('main').catch(() => '')) ?? '').replace(/\s+/g, ' ').slice(0, 400);
    throw new Error(`expected ${re} but the page is ${page.url()}: ${text}`);
  }
}

/** The two sizes every page is looked at. */
export const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1366, height: 900 } } as const;
export type Viewport = keyof typeof VIEWPORTS;

/** The text of a page's <main>, whitespace collapsed. */
export const mainText = async (page: Page): Promise<string> => ((await page.textContent('main')) ?? '').replace(/\s+/g, ' ');

/**
 * A journey's pages under watch: each page opened through `open` reports console errors, CSP
 * violations and uncaught exceptions, and `look` adds horizontal overflow, a screenshot and the
 * axe check. The journey's last test asserts `problems` is empty.
 */
export class Watch {
  readonly problems: string[] = [];

  constructor(
    private readonly art: Artifacts,
    /** Only pages under this origin are ours (a payment provider's page is not). */
    private readonly origin: () => string,
  ) {}

  async open(browser: Browser, size: Viewport, who: string, opts: { acceptDownloads?: boolean } = {}): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ viewport: VIEWPORTS[size], ...(opts.acceptDownloads ? { acceptDownloads: true } : {}) });
    // Violations are reported as DOM events whether or not the browser also logs them.
    await ctx.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + (e.sourceFile || 'page') + ':' + e.lineNumber + ':' + e.columnNumber + ')'));");
    const page = await ctx.newPage();
    page.on('console', (m) => {
      if (!page.url().startsWith(this.origin())) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) this.problems.push(`${who} ${size}: ${m.text()}`);
    });
    page.on('pageerror', (err) => this.problems.push(`${who} ${size}: uncaught ${err.message}`));
    return { ctx, page };
  }

  async look(page: Page, name: string): Promise<void> {
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    if (overflow > 0) this.problems.push(`${name}: ${overflow}px of horizontal overflow`);
    await this.art.check(page, name);
  }
}

/** Sign in through the form on the page already open (the login page, or where a link led). */
export async function signInOnPage(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('load');
  if (/\/login(\?|$)/.test(new URL(page.url()).pathname + new URL(page.url()).search)) throw new Error(`${email} did not get past the sign-in page`);
}
