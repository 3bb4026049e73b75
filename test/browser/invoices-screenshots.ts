// Screenshots of the invoices pages of issue 15 (the editor with live totals, the settings page, the
// receivables page, the client's list with its filters, an invoice), as staff and as the client's
// admin, at 1366x900 and 390x844, with each page's horizontal overflow printed. Not a test: it
// installs Atrium in a temporary data folder with the demo data, as test/browser/screenshots.ts does.
//
//   node --import tsx test/browser/invoices-screenshots.ts /tmp/invoices-shots
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launchChromium } from './support.ts';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const outDir = resolve(process.argv[2] ?? 'test-artifacts/invoices-shots');
const PASSWORD = 'Screenshots need a long passphrase';
const VIEWPORTS = { desktop: { width: 1366, height: 900 }, phone: { width: 390, height: 844 } } as const;

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function signIn(browser: Browser, base: string, email: string): Promise<string> {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  const state = join(tmpdir(), `atrium-inv-shots-${email}.json`);
  await ctx.storageState({ path: state });
  await ctx.close();
  return state;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-inv-shots-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL' && k !== 'PORT'));
  const env = { ...clean, ATRIUM_DATA_DIR: dataDir, PORT: String(port), ATRIUM_BASE_URL: base, ATRIUM_LOG_LEVEL: 'warn', ATRIUM_ARGON2_MEMORY_KIB: '19456', ATRIUM_ARGON2_ITERATIONS: '2' };
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  try {
    server = spawn(process.execPath, ['bin/atrium.js', 'start'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error('the server did not start');
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    browser = await launchChromium();
    const setupCtx = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const setup = await setupCtx.newPage();
    await setup.goto(`${base}/setup`);
    await setup.getByLabel('Firm name').fill('Harbor & Vale LLP');
    await setup.getByLabel('Your name').fill('Olivia Owner');
    await setup.getByLabel('Your email').fill('olivia@harbor.example');
    await setup.getByLabel('Password', { exact: true }).fill(PASSWORD);
    const demo = setup.getByLabel(/Load demo data/);
    if (await demo.count()) await demo.uncheck();
    await setup.getByRole('button', { name: /Create owner account/ }).click();
    await setup.waitForURL(/\/staff\/$/);
    await setupCtx.close();
    const seeded = spawnSync(process.execPath, ['bin/atrium.js', 'demo:seed', '--password', PASSWORD], { env, encoding: 'utf8' });
    if (seeded.status !== 0) throw new Error(`demo:seed failed: ${seeded.stderr}`);
    const staff = await signIn(browser, base, 'sam.staff@firm.example');
    const client = await signIn(browser, base, 'ada@northwind.example');

    // The ids of the demo's invoices, from the staff list.
    const look = await (await browser.newContext({ storageState: staff })).newPage();
    await look.goto(`${base}/w/northwind/invoices/`);
    const hrefs = await look.locator('td.cell-main a').evaluateAll((as) => as.map((a) => [a.textContent ?? '', a.getAttribute('href') ?? '']));
    const issued = hrefs.find(([t]) => t.startsWith('INV-'))![1]!;
    const draft = hrefs.find(([t]) => t.startsWith('Draft'))![1]!;

    const shots: Array<{ name: string; state: string; path: string; act?: (p: import('playwright-core').Page) => Promise<void> }> = [
      { name: 'list-staff', state: staff, path: '/w/northwind/invoices/' },
      {
        name: 'editor-live-staff',
        state: staff,
        path: '/w/northwind/invoices/new',
        act: async (p) => {
          await p.fill('#line-0-description', 'Network audit');
          await p.fill('#line-0-quantity', '1.5');
          await p.fill('#line-0-unitPrice', '120.00');
          await p.fill('#line-0-discount', '10');
          await p.locator('#line-0-amount', { hasText: '162.00' }).waitFor({ timeout: 5000 });
        },
      },
      {
        // Enter in a field recalculates (nothing saved); "Save draft" is a plain submit, not htmx.
        name: 'editor-saved-staff',
        state: staff,
        path: '/w/northwind/invoices/new',
        act: async (p) => {
          await p.fill('#line-0-description', 'Saved from the browser');
          await p.fill('#line-0-unitPrice', '80.00');
          await p.press('#line-0-unitPrice', 'Enter');
          await p.waitForURL(/\/invoices\/new$/);
          if ((await p.inputValue('#line-0-description')) !== 'Saved from the browser') throw new Error('Enter lost the line');
          await p.getByRole('button', { name: 'Save draft' }).click();
          await p.waitForURL(/\/invoices\/i\/[0-9a-f-]{36}$/);
        },
      },
      { name: 'editor-draft-staff', state: staff, path: `${draft}/edit` },
      { name: 'draft-staff', state: staff, path: draft },
      { name: 'settings-staff', state: staff, path: '/w/northwind/invoices/settings' },
      { name: 'receivables-staff', state: staff, path: '/staff/invoices/' },
      { name: 'invoice-staff', state: staff, path: issued },
      { name: 'list-client', state: client, path: '/w/northwind/invoices/' },
      { name: 'list-period-client', state: client, path: '/w/northwind/invoices/?period=last-year' },
      { name: 'invoice-client', state: client, path: issued },
    ];
    mkdirSync(outDir, { recursive: true });
    for (const shot of shots) {
      for (const [size, viewport] of Object.entries(VIEWPORTS)) {
        const ctx = await browser.newContext({ viewport, storageState: shot.state });
        const page = await ctx.newPage();
        await page.goto(`${base}${shot.path}`);
        await page.waitForLoadState('networkidle').catch(() => undefined);
        if (shot.act) await shot.act(page);
        const scroll = (await page.evaluate('document.documentElement.scrollWidth')) as number;
        const culprits = scroll > viewport.width ? ((await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > ${viewport.width} + 0.5 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > ${viewport.width} + 0.5)).slice(0, 4).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right))`)) as string[]) : [];
        await page.screenshot({ path: join(outDir, `${shot.name}-${size}.png`), fullPage: true });
        // axe-core, through the DevTools protocol (the page's CSP stays as it is): serious and critical only.
        await page.evaluate(AXE);
        const axe = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as { violations: Array<{ id: string; impact: string; nodes: unknown[] }> };
        const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}, ${v.nodes.length})`);
        console.log(`${shot.name}-${size}: ${scroll > viewport.width ? `OVERFLOW ${scroll}px (${culprits.join(', ')})` : 'fits'}; axe: ${bad.length ? bad.join(', ') : 'no serious or critical'}`);
        await ctx.close();
      }
    }
  } finally {
    await browser?.close();
    server?.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
