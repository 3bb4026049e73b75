// Screenshots of the pages a firm judges Atrium by, for before/after comparisons of the design
// system (docs/screenshots/). Not a test: it installs Atrium the way a new firm would (the CLI in
// a temporary data folder, /setup in the browser, `atrium demo:seed`), fills the Northwind
// workspace with a few files and folders as the staff member, then saves full-page screenshots of
// the file browser, a folder, a file page, the staff overview and the client home, as staff and as
// the client, at 1366x900 and 390x844. It also prints each page's horizontal overflow.
//
//   node --import tsx test/browser/screenshots.ts docs/screenshots/after [--theme ledger] [--more]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support.ts';

const args = process.argv.slice(2);
const outDir = resolve(args.find((a) => !a.startsWith('--')) ?? 'docs/screenshots/after');
const theme = args.includes('--theme') ? args[args.indexOf('--theme') + 1]! : 'default';
const PASSWORD = 'Screenshots need a long passphrase';
const OWNER = { email: 'olivia@harbor.example', name: 'Olivia Owner' };
const STAFF = 'sam.staff@firm.example';
const CLIENT = 'ada@northwind.example';
const VIEWPORTS = { desktop: { width: 1366, height: 900 }, phone: { width: 390, height: 844 } } as const;

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function pdf(title: string, pages: number): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  for (let i = 1; i <= pages; i++) {
    const page = doc.addPage([595, 842]);
    page.drawRectangle({ x: 0, y: 762, width: 595, height: 80, color: rgb(0.12, 0.31, 0.47) });
    page.drawText(title, { x: 48, y: 792, size: 24, font: bold, color: rgb(1, 1, 1) });
    for (let l = 0; l < 24; l++) page.drawText('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.', { x: 48, y: 700 - l * 22, size: 11, font, color: rgb(0.2, 0.2, 0.2) });
    page.drawText(`Page ${i} of ${pages}`, { x: 48, y: 40, size: 9, font });
  }
  return Buffer.from(await doc.save());
}

/** A small PNG (a solid-colour logo tile), built by hand so no image library is needed. */
async function png(): Promise<Buffer> {
  const { createCanvas } = await import('@napi-rs/canvas');
  const c = createCanvas(320, 200);
  const g = c.getContext('2d');
  g.fillStyle = '#1f4e79';
  g.fillRect(0, 0, 320, 200);
  g.fillStyle = '#fff';
  g.font = 'bold 40px sans-serif';
  g.fillText('Northwind', 50, 115);
  return c.toBuffer('image/png');
}

async function csrf(page: Page): Promise<string> {
  return (await page.getAttribute('meta[name="csrf-token"]', 'content')) ?? '';
}

async function signIn(browser: Browser, base: string, email: string): Promise<string> {
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await ctx.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  const state = join(tmpdir(), `atrium-shots-${email}.json`);
  await ctx.storageState({ path: state });
  await ctx.close();
  return state;
}

async function upload(page: Page, base: string, folder: string, files: Array<{ name: string; mimeType: string; buffer: Buffer }>, fields: Record<string, string> = {}): Promise<void> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append('files', new Blob([new Uint8Array(f.buffer)], { type: f.mimeType }), f.name);
  const res = await page.request.post(`${base}/w/northwind/files/upload?folder=${folder}`, { multipart: form, headers: { 'X-CSRF-Token': await csrf(page), 'HX-Request': 'true', Origin: base } });
  if (!res.ok()) throw new Error(`upload failed: ${res.status()} ${(await res.text()).slice(0, 300)}`);
}

async function newFolder(page: Page, base: string, name: string, area: 'shared' | 'internal', parent = ''): Promise<string> {
  const res = await page.request.post(`${base}/w/northwind/files/folders`, { form: { _csrf: await csrf(page), name, parent, area, client_access: 'upload' }, headers: { Origin: base }, maxRedirects: 0 });
  const to = res.headers()['location'] ?? '';
  const id = /\/folders\/([^/?]+)/.exec(to)?.[1];
  if (!id) throw new Error(`folder ${name} not created: ${res.status()} ${to}`);
  return id;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-shots-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL' && k !== 'PORT'));
  const env = { ...clean, ATRIUM_DATA_DIR: dataDir, PORT: String(port), ATRIUM_BASE_URL: base, ATRIUM_LOG_LEVEL: 'warn', ATRIUM_THEME: theme, ATRIUM_ARGON2_MEMORY_KIB: '19456', ATRIUM_ARGON2_ITERATIONS: '2' };
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

    // First run, as a new firm does it.
    const setupCtx = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const setup = await setupCtx.newPage();
    await setup.goto(`${base}/setup`);
    await setup.getByLabel('Firm name').fill('Harbor & Vale LLP');
    await setup.getByLabel('Your name').fill(OWNER.name);
    await setup.getByLabel('Your email').fill(OWNER.email);
    await setup.getByLabel('Password', { exact: true }).fill(PASSWORD);
    const demo = setup.getByLabel(/Load demo data/);
    if (await demo.count()) await demo.uncheck();
    await setup.getByRole('button', { name: /Create owner account/ }).click();
    await setup.waitForURL(/\/staff\/$/);
    await setupCtx.close();
    const seeded = spawnSync(process.execPath, ['bin/atrium.js', 'demo:seed', '--password', PASSWORD], { env, encoding: 'utf8' });
    if (seeded.status !== 0) throw new Error(`demo:seed failed: ${seeded.stderr}`);

    const ownerState = await signIn(browser, base, OWNER.email);
    const staffState = await signIn(browser, base, STAFF);
    const clientState = await signIn(browser, base, CLIENT);

    // Sam fills the Northwind workspace (through the same endpoints the pages post to).
    const work = await (await browser.newContext({ viewport: VIEWPORTS.desktop, storageState: staffState })).newPage();
    await work.goto(`${base}/w/northwind/files/`);
    const contracts = await newFolder(work, base, 'Contracts', 'shared');
    await newFolder(work, base, 'Brand assets', 'shared');
    await newFolder(work, base, 'Working notes', 'internal');
    await newFolder(work, base, 'Signed', 'shared', contracts);
    await upload(work, base, '', [{ name: 'Q1 Brand Guidelines.pdf', mimeType: 'application/pdf', buffer: await pdf('Q1 Brand Guidelines', 3) }], { area: 'shared', deliverable: 'yes' });
    await upload(work, base, '', [
      { name: 'Northwind logo.png', mimeType: 'image/png', buffer: await png() },
      { name: 'Budget 2026.csv', mimeType: 'text/csv', buffer: Buffer.from('month,amount\nJanuary,1200\nFebruary,1350\n') },
      { name: 'Meeting notes 2026-03-02.md', mimeType: 'text/markdown', buffer: Buffer.from('# Kick-off\n\n- Scope agreed\n- Next review in April\n') },
    ], { area: 'shared' });
    await upload(work, base, contracts, [
      { name: 'Engagement letter.pdf', mimeType: 'application/pdf', buffer: await pdf('Engagement letter', 2) },
      { name: 'Master services agreement.pdf', mimeType: 'application/pdf', buffer: await pdf('Master services agreement', 6) },
    ], { area: 'shared' });
    await work.goto(`${base}/w/northwind/files/`);
    const fileHref = await work.locator('a', { hasText: 'Q1 Brand Guidelines.pdf' }).first().getAttribute('href');
    if (!fileHref) throw new Error('the uploaded PDF is not listed');
    // Ada downloads the deliverable, so the file page has a receipt to show.
    const ada = await (await browser.newContext({ viewport: VIEWPORTS.desktop, storageState: clientState })).newPage();
    await ada.request.get(`${base}${fileHref}/download`);
    // First-page previews render in a worker after commit.
    await new Promise((r) => setTimeout(r, 4000));

    const shots: Array<{ name: string; state: string; path: string; click?: string }> = [
      { name: 'files-staff', state: staffState, path: '/w/northwind/files/' },
      { name: 'folder-staff', state: staffState, path: `/w/northwind/files/folders/${contracts}` },
      { name: 'file-staff', state: staffState, path: fileHref },
      { name: 'folder-dialog-staff', state: staffState, path: `/w/northwind/files/folders/${contracts}`, click: '#new-folder > summary' },
      { name: 'staff-overview', state: staffState, path: '/staff/' },
      { name: 'style-guide', state: ownerState, path: '/admin/style-guide' },
      // The home first: visiting the files page resets "new deliverables since your last visit".
      { name: 'client-home', state: clientState, path: '/w/northwind/' },
      { name: 'files-client', state: clientState, path: '/w/northwind/files/' },
      { name: 'files-grid-client', state: clientState, path: '/w/northwind/files/?view=grid' },
      { name: 'file-client', state: clientState, path: fileHref },
    ];
    // --more: the other pages on the components too (approvals, signatures, team, trash, staff queue).
    if (args.includes('--more')) {
      shots.push(
        { name: 'approvals-client', state: clientState, path: '/w/northwind/approvals/' },
        { name: 'team-client', state: clientState, path: '/w/northwind/team' },
        { name: 'signatures-staff', state: staffState, path: '/w/northwind/signatures/' },
        { name: 'approvals-queue-staff', state: staffState, path: '/staff/approvals/' },
        { name: 'trash-staff', state: staffState, path: '/w/northwind/files/trash' },
      );
    }
    mkdirSync(outDir, { recursive: true });
    const contexts: BrowserContext[] = [];
    for (const shot of shots) {
      for (const [size, viewport] of Object.entries(VIEWPORTS)) {
        const ctx = await browser.newContext({ viewport, storageState: shot.state });
        contexts.push(ctx);
        const page = await ctx.newPage();
        await page.goto(`${base}${shot.path}`);
        await page.waitForLoadState('networkidle').catch(() => undefined);
        if (shot.click) await page.click(shot.click);
        const { scroll, height } = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight })')) as { scroll: number; height: number };
        const file = join(outDir, `${shot.name}-${size}.png`);
        await page.screenshot({ path: file, fullPage: true });
        // What sticks out, when something does: the outermost elements past the right edge.
        const culprits = scroll > viewport.width ? ((await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > ${viewport.width} + 0.5 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > ${viewport.width} + 0.5)).slice(0, 4).map((e) => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right))`)) as string[]) : [];
        console.log(`${shot.name}-${size}: ${scroll > viewport.width ? `OVERFLOW ${scroll}px wide (${culprits.join(', ')})` : 'fits'}, ${height}px tall`);
        await ctx.close();
      }
    }
  } finally {
    await browser?.close();
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
