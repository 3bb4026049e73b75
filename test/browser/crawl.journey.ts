// The crawl that keeps the portal fit (issue 14): Atrium with every built-in plugin and the demo
// data (loaded by /setup, as a new firm does), then every page each demo role can reach, found by
// following same-origin links breadth-first from the landing page, at 390x844 and 1366x900 in
// Debian's Chromium. Each page fails the crawl on horizontal overflow (scrollWidth wider than the
// viewport, naming what sticks out), a console error or uncaught exception, a CSP violation, an
// axe-core serious or critical finding, or an answer of 404 or worse to a link the portal shows.
// Every finding is reported at once with role, viewport and page. A screenshot of each page is
// saved under test-artifacts/crawl/<role>/<viewport>/<page>.jpg, the findings in findings.txt.
//
// Bounded for CI: one browser, one context per role and viewport, at most MAX_PAGES pages per role
// and PER_PATTERN URLs per pattern (a path with its ids replaced, and the names of its query
// parameters: the tenth file page or sort order shows nothing the third did not). Only GET links
// are followed (forms are not submitted), never one that signs out, downloads or exports; a link
// answering with something other than HTML is not a page and is skipped.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Artifacts, launchChromium } from './support.ts';
import { setupOwner, startApp, type TestApp } from '../helpers/app.ts';

const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1366, height: 900 } } as const;
type Viewport = keyof typeof VIEWPORTS;
/** Each demo role (core/demo.ts) and the owner who set the portal up. */
const ROLES: Array<{ role: string; email: string }> = [
  { role: 'owner', email: 'owner@harbor.example' },
  { role: 'staff', email: 'sam.staff@firm.example' },
  { role: 'client-admin', email: 'ada@northwind.example' },
  { role: 'client-member', email: 'eli@northwind.example' },
  { role: 'client-viewer', email: 'ben@northwind.example' },
  { role: 'other-client', email: 'cara@globex.example' },
];
const MAX_PAGES = 100;
/** URLs per path pattern with the same query parameter names (`?sort&dir&page`), and per path pattern in all. */
const PER_PATTERN = 2;
const PER_PATH = 4;

/**
 * Links that are not pages to look at: signing out, downloads and exports (bytes, and a receipt
 * or an audit event for each), page images, previews and thumbnails, the live event stream,
 * static assets, and single-use links from mail.
 */
const NOT_PAGES: Array<[RegExp, string]> = [
  [/\/logout\b/, 'signs out'],
  [/\/(download|zip|pdf)(\/|$|\?)|\.(zip|pdf)($|\?)|[?&]download=/, 'a download'],
  [/\/export(\/|$|\?)|\.csv($|\?)/, 'an export'],
  [/\/(preview|thumbnail|thumb|raw|pages?\/\d+|page-image)(\/|\.png|$|\?)/, 'an image of a document'],
  [/^\/live\b/, 'the live event stream'],
  [/^\/(assets|vendor|theme|brand)\//, 'a static asset'],
  [/^\/l\//, 'a single-use link from a mail'],
];

const art = new Artifacts('crawl');
const test = suite('journey: crawl every page as every demo role');
let app: TestApp;
let browser: Browser;
const findings: string[] = [];
const visited: string[] = [];

/** A URL's path pattern (ids: UUIDs, long hex or tokens, replaced; no trailing slash) and its query's parameter names. */
function patternOf(u: URL): { path: string; names: string } {
  const path = u.pathname
    .split('/')
    .map((seg) => (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg) || /^[0-9a-f]{16,}$/i.test(seg) || /^[A-Za-z0-9_-]{22,}$/.test(seg) ? ':id' : seg))
    .join('/')
    .replace(/(.)\/$/, '$1');
  return { path, names: `${path}?${[...new Set(u.searchParams.keys())].sort().join('&')}` };
}

/** The same page whether or not its address ends in a slash (`/w/x/files` redirects to `/w/x/files/`). */
const keyOf = (url: string) => {
  const u = new URL(url);
  u.hash = '';
  u.pathname = u.pathname.replace(/(.)\/$/, '$1');
  return u.toString();
};

/** A screenshot name from the path and query: `w-northwind-files-f-<id>`. */
function pageName(u: URL): string {
  const raw = `${u.pathname}${u.search}`.replace(/^\/+|\/+$/g, '') || 'root';
  return raw.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/-+/g, '-').slice(0, 120);
}

interface Tab {
  viewport: Viewport;
  ctx: BrowserContext;
  page: Page;
  /** Console errors, uncaught exceptions and CSP reports since the last navigation. */
  errors: string[];
}

async function openTab(viewport: Viewport, cookies: Map<string, string>): Promise<Tab> {
  const ctx = await browser.newContext({ viewport: VIEWPORTS[viewport], acceptDownloads: false });
  await ctx.addCookies([...cookies].map(([name, value]) => ({ name, value, url: app.url })));
  // Violations are reported as DOM events whether or not the browser also logs them.
  await ctx.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + (e.sourceFile || 'page') + ':' + e.lineNumber + ')'));",
  );
  const page = await ctx.newPage();
  const tab: Tab = { viewport, ctx, page, errors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) tab.errors.push(`console: ${m.text().slice(0, 300)}`);
  });
  page.on('pageerror', (err) => tab.errors.push(`uncaught: ${err.message.slice(0, 300)}`));
  return tab;
}

/** Sign a demo person in over HTTP and hand the session cookie to the browser. */
async function sessionOf(email: string, password: string): Promise<Map<string, string>> {
  const c = app.client();
  const res = await c.login(email, password);
  if (res.status !== 303) throw new Error(`${email} could not sign in: ${res.status}`);
  return c.cookies;
}

/** Same-origin GET links of the page, absolute, without their fragment. */
async function linksOf(page: Page): Promise<string[]> {
  const hrefs = (await page.evaluate(`[...document.querySelectorAll('a[href]')].filter((a) => !a.hasAttribute('download')).map((a) => a.href)`)) as string[];
  const out: string[] = [];
  for (const h of hrefs) {
    const u = new URL(h);
    if (u.origin !== app.url) continue;
    u.hash = '';
    out.push(u.toString());
  }
  return out;
}

/** Visit one URL in one tab, check it and screenshot it. Returns false when it is not an HTML page. */
async function visit(role: string, tab: Tab, url: string): Promise<{ page: boolean; status: number; type: string }> {
  tab.errors.length = 0;
  const u = new URL(url);
  const where = `${role} ${tab.viewport} ${u.pathname}${u.search}`;
  let status = 0;
  let type = '';
  try {
    const res = await tab.page.goto(url, { waitUntil: 'load', timeout: 20_000 });
    status = res?.status() ?? 0;
    type = res?.headers()['content-type'] ?? '';
  } catch (err) {
    const msg = (err as Error).message;
    if (/Download is starting/i.test(msg)) return { page: false, status: 200, type: 'download' };
    findings.push(`${where}: could not be opened: ${msg.split('\n')[0]}`);
    return { page: false, status: 0, type: '' };
  }
  if (!type.startsWith('text/html')) return { page: false, status, type };
  if (status >= 400) findings.push(`${where}: answers ${status} to a link the portal shows`);
  await judge(role, tab, u, findings);
  return { page: true, status, type };
}

/** The checks on the page a tab shows, each problem into `into`; a screenshot either way. */
async function judge(role: string, tab: Tab, u: URL, into: string[]): Promise<void> {
  const where = `${role} ${tab.viewport} ${u.pathname}${u.search}`;
  // Let htmx settle (lazy fragments, swaps on load) before judging the layout.
  await tab.page.waitForTimeout(150);
  const width = VIEWPORTS[tab.viewport].width;
  const scroll = (await tab.page.evaluate('document.documentElement.scrollWidth')) as number;
  if (scroll > width) {
    const culprits = (await tab.page.evaluate(
      `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > ${width} + 0.5 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > ${width} + 0.5)).slice(0, 4).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' (right ' + Math.round(e.getBoundingClientRect().right) + ')')`,
    )) as string[];
    into.push(`${where}: ${scroll - width}px of horizontal overflow (${culprits.join(', ') || 'no single element'})`);
  }
  const shot = `${role}/${tab.viewport}/${pageName(u)}`;
  mkdirSync(dirname(join(art.dir, shot)), { recursive: true });
  const before = art.a11y.length;
  await art.check(tab.page, shot, { jpeg: true });
  for (const a of art.a11y.splice(before)) into.push(`${where}: axe ${a.slice(shot.length + 2)}`);
  for (const e of new Set(tab.errors)) into.push(`${where}: ${e}`);
}

test.before(async () => {
  app = await startApp({ plugins: ['team', 'files', 'approvals', 'signatures', 'invoices', 'messaging'] });
  browser = await launchChromium();
});
test.after(async () => {
  await browser?.close();
  await app?.close();
});

test('the checks catch what they look for (a wide element, an image from another origin, an unlabelled field)', async () => {
  const tab = await openTab('phone', new Map());
  try {
    await tab.page.goto(`${app.url}/login`, { waitUntil: 'load' });
    tab.errors.length = 0;
    await tab.page.evaluate(`(() => {
      const wide = document.createElement('div'); wide.style.width = '900px'; wide.style.height = '4px'; document.body.append(wide);
      const field = document.createElement('input'); document.body.append(field);
      const img = document.createElement('img'); img.alt = ''; img.src = 'https://images.example.invalid/x.png'; document.body.append(img);
    })()`);
    const caught: string[] = [];
    await judge('self-test', tab, new URL(`${app.url}/login`), caught);
    assert.ok(caught.some((c) => /horizontal overflow \(.*\bdiv \(right 9\d\d\)/.test(c)), caught.join('\n'));
    assert.ok(caught.some((c) => /CSP violation|Content Security Policy/.test(c)), caught.join('\n'));
    assert.ok(caught.some((c) => /axe label \(critical/.test(c)), caught.join('\n'));
  } finally {
    await tab.ctx.close();
  }
});

test('every page each demo role reaches fits both viewports, logs no error, breaks no CSP rule and passes axe', async () => {
  const started = Date.now();
  const { client, password: ownerPassword } = await setupOwner(app, { demo: true });
  const flash = (await client.get('/staff/')).text.replace(/<[^>]+>/g, ' ');
  const demoPassword = /use the password (\S+) /.exec(flash)?.[1];
  assert.ok(demoPassword, 'the demo password is shown after /setup');
  // The demo's PDFs get their previews first, so file pages are crawled as a person sees them later.
  for (let i = 0; i < 100 && (await app.kernel.db('files_previews').count({ n: '*' }).first().then((r) => Number((r as { n: number | string }).n))) < 6; i++) await new Promise((r) => setTimeout(r, 200));

  for (const { role, email } of ROLES) {
    const cookies = await sessionOf(email, role === 'owner' ? ownerPassword : demoPassword!);
    const tabs = await Promise.all((Object.keys(VIEWPORTS) as Viewport[]).map((v) => openTab(v, cookies)));
    const seen = new Set<string>();
    const perPattern = new Map<string, number>();
    const bump = (k: string) => perPattern.set(k, (perPattern.get(k) ?? 0) + 1);
    const queue: string[] = [`${app.url}/`];
    let pages = 0;
    const enqueue = (url: string) => {
      if (seen.has(keyOf(url))) return;
      const u = new URL(url);
      const path = `${u.pathname}${u.search}`;
      if (NOT_PAGES.some(([re]) => re.test(path))) return;
      const p = patternOf(u);
      if ((perPattern.get(p.names) ?? 0) >= PER_PATTERN || (perPattern.get(p.path) ?? 0) >= PER_PATH) return;
      bump(p.names);
      bump(p.path);
      seen.add(keyOf(url));
      queue.push(url);
    };
    seen.add(keyOf(queue[0]!));
    while (queue.length && pages < MAX_PAGES) {
      const url = queue.shift()!;
      // The desktop tab reads the links; the page is the same at both sizes.
      const [desktop] = await Promise.all([visit(role, tabs[1]!, url), visit(role, tabs[0]!, url)]);
      if (!desktop.page) continue;
      pages++;
      // Where a redirect led counts as seen too (`/` is the landing page, listed again in the menu).
      seen.add(keyOf(tabs[1]!.page.url()));
      visited.push(`${role}: ${new URL(tabs[1]!.page.url()).pathname}${new URL(tabs[1]!.page.url()).search} (${desktop.status})`);
      for (const link of await linksOf(tabs[1]!.page)) enqueue(link);
    }
    if (queue.length) visited.push(`${role}: stopped at ${MAX_PAGES} pages, ${queue.length} more queued`);
    await Promise.all(tabs.map((t) => t.ctx.close()));
  }

  const report = [`${visited.length} pages in ${Math.round((Date.now() - started) / 1000)} s`, '', ...visited, '', `${findings.length} findings`, ...findings].join('\n');
  writeFileSync(join(art.dir, 'findings.txt'), report + '\n');
  console.log(`\n  crawl: ${visited.length} pages, ${findings.length} findings, ${Math.round((Date.now() - started) / 1000)} s (test-artifacts/crawl/findings.txt)`);
  assert.ok(visited.filter((v) => v.startsWith('client-admin:')).length >= 8, 'the crawl reached the client admin\'s pages');
  assert.equal(findings, [], `the crawl found:\n${findings.join('\n')}`);
});

test.run();
