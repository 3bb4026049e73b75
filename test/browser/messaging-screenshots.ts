// Screenshots of every messaging page as each role that reaches it (the client's admin, member and
// viewer, staff, the owner), at 390x844 and 1366x900, with each page's horizontal overflow, console
// errors and axe-core serious or critical findings printed. Not a test: Atrium in process on the
// demo data (/setup's "Load demo data"), plus a long thread, a message with attachments, an edited
// message, and Globex with no conversation, so every state of every page is on a picture.
//
//   node --import tsx test/browser/messaging-screenshots.ts /tmp/messaging-shots
import 'reflect-metadata';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support.ts';
import { setupOwner, startApp, type TestApp } from '../helpers/app.ts';
import { Tokens, transaction } from '../../core/index.ts';
import { toThread } from '../../plugins/messaging/repo.ts';
import { ensureThread, postMessage, type MessagingDeps } from '../../plugins/messaging/service.ts';
import { settingsSchema } from '../../plugins/messaging/settings.ts';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const outDir = resolve(process.argv[2] ?? 'test-artifacts/messaging-shots');
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1366, height: 900 } } as const;
const only = process.argv[3] ? new RegExp(process.argv[3]) : undefined;

let app: TestApp;
let browser: Browser;
const report: string[] = [];

async function shoot(page: Page, name: string): Promise<void> {
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
  await page.evaluate(AXE);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as { violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> };
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  report.push(`${name}: ${overflow > 0 ? `OVERFLOW ${overflow}px ` : ''}${bad.length ? `AXE ${bad.join('; ')}` : 'ok'}`);
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  app = await startApp({ plugins: ['team', 'files', 'approvals', 'signatures', 'invoices', 'messaging'], overrides: { baseUrl: '' } });
  const { client, password: ownerPw } = await setupOwner(app, { demo: true });
  const flash = (await client.get('/staff/')).text.replace(/<[^>]+>/g, ' ');
  const demoPw = /use the password (\S+) /.exec(flash)?.[1] ?? '';
  const k = app.kernel;
  const db = k.db;
  const ws = (await db('workspaces').where({ slug: 'northwind' }).first('id')) as { id: string };
  const user = async (email: string) => (await db('users').where({ email }).first('id', 'name')) as { id: string; name: string };
  const [ada, sam] = [await user('ada@northwind.example'), await user('sam.staff@firm.example')];

  // A long thread (more than a page: the "Show earlier messages" link), posted through the service.
  const deps = { db, audit: k.audit, events: k.events, storage: k.storage, notifications: k.notifications, live: k.live, threads: k.container.resolve(Tokens.Threads), clock: k.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) } as unknown as MessagingDeps;
  const start = Date.now() - 40 * 3_600_000;
  for (let i = 0; i < 36; i++) {
    const who = i % 2 ? sam : ada;
    const d = { ...deps, clock: { now: () => start + i * 3_600_000 } };
    await transaction(db, async (trx) => {
      const made = await ensureThread(d, trx, { workspaceId: ws.id, kind: 'topic', key: 'topic:shots-lease', title: 'Lease renewal, 12 Quay Street', createdBy: ada.id, actor: { actorId: ada.id, ip: null, userAgent: null } });
      const thread = toThread((await trx('messaging_threads').where({ id: made.id }).first()) as Record<string, unknown>);
      await postMessage(d, trx, { workspaceId: ws.id, thread, authorId: who.id, authorFirm: who === sam, body: i % 2 ? `Noted, point ${i + 1}: we will cover it in the next draft.` : `Point ${i + 1}: the landlord asks about the break clause and the service charge cap.`, visibility: 'public', attachments: [], via: 'portal', actor: { actorId: who.id, ip: null, userAgent: null } });
    });
  }

  browser = await launchChromium();
  const session = async (email: string, pw: string) => {
    const c = app.client();
    const res = await c.login(email, pw);
    if (res.status !== 303) throw new Error(`${email}: ${res.status}`);
    return c.cookies;
  };
  const roles = [
    { role: 'client-admin', email: 'ada@northwind.example', pw: demoPw, staff: false },
    { role: 'client-member', email: 'eli@northwind.example', pw: demoPw, staff: false },
    { role: 'client-viewer', email: 'ben@northwind.example', pw: demoPw, staff: false },
    { role: 'staff', email: 'sam.staff@firm.example', pw: demoPw, staff: true },
    { role: 'owner', email: 'owner@harbor.example', pw: ownerPw, staff: true },
  ];

  // Ada posts a message with two attachments, and another she then edits (for the history page).
  {
    const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
    await ctx.addCookies([...(await session('ada@northwind.example', demoPw))].map(([name, value]) => ({ name, value, url: app.url })));
    const page = await ctx.newPage();
    await page.goto(`${app.url}/w/northwind/messaging/general`);
    await page.getByLabel('Your message').fill('Here are the signed pages and the schedule of assets.');
    await page.getByLabel(/Attach files/).setInputFiles([
      { name: 'Signed pages.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') },
      { name: 'Schedule of assets.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: Buffer.from('PK\u0003\u0004 not really a sheet') },
    ]);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.ui-message-files').last().waitFor();
    await page.getByLabel('Your message').fill('One more thing: the meeting is on Tuesday.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('the meeting is on Tuesday').waitFor();
    await page.getByRole('link', { name: /Edit/ }).last().click();
    await page.getByLabel('Message').fill('One more thing: the meeting is on Wednesday, not Tuesday.');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('on Wednesday').waitFor();
    await ctx.close();
  }
  const general = (await db('messaging_threads').where({ workspace_id: ws.id, key: 'general' }).first('id')) as { id: string };
  const lease = (await db('messaging_threads').where({ workspace_id: ws.id, key: 'topic:shots-lease' }).first('id')) as { id: string };
  const edited = (await db('messaging_messages').where({ thread_id: general.id }).whereNotNull('edited_at').first('id')) as { id: string };
  const file = (await db('files_files').where({ workspace_id: ws.id }).whereNull('deleted_at').first('id')) as { id: string } | undefined;
  const W = '/w/northwind/messaging';

  for (const r of roles) {
    const cookies = await session(r.email, r.pw);
    for (const [vp, size] of Object.entries(VIEWPORTS)) {
      const ctx = await browser.newContext({ viewport: size });
      await ctx.addCookies([...cookies].map(([name, value]) => ({ name, value, url: app.url })));
      const page = await ctx.newPage();
      page.on('console', (m) => m.type() === 'error' && report.push(`${r.role} ${vp} console: ${m.text()}`));
      page.on('pageerror', (e) => report.push(`${r.role} ${vp} uncaught: ${e.message}`));
      const go = async (path: string, name: string, after?: () => Promise<void>) => {
        const full = `${r.role}-${vp}-${name}`;
        if (only && !only.test(full)) return;
        const res = await page.goto(`${app.url}${path}`);
        if (!res || res.status() >= 400) {
          report.push(`${full}: HTTP ${res?.status()} for ${path}`);
          return;
        }
        await page.waitForLoadState('networkidle').catch(() => {});
        if (after) await after();
        await shoot(page, full);
      };
      await go('/w/northwind/', 'home');
      await go(`${W}/`, 'list');
      await go(`${W}/t/${general.id}`, 'general');
      await go(`${W}/t/${lease.id}`, 'long-thread');
      await go(`${W}/t/${lease.id}`, 'long-thread-older', async () => {
        await page.getByRole('link', { name: 'Show earlier messages' }).click();
        await page.waitForLoadState('load');
      });
      if (r.role !== 'client-viewer') {
        await go(`${W}/new`, 'new-errors', async () => {
          await page.getByRole('button', { name: 'Send' }).click();
          await page.getByRole('alert').first().waitFor();
        });
      }
      await go(`${W}/search?q=clause`, 'search');
      await go(`${W}/search?q=zebra`, 'search-empty');
      if (r.role === 'client-admin') await go(`${W}/m/${edited.id}/edit`, 'edit');
      if (r.staff) {
        await go(`${W}/m/${edited.id}/history`, 'history');
        for (const show of ['waiting', 'mine', 'open', 'done']) await go(`/staff/messaging/?show=${show}`, `inbox-${show}`);
        await go('/w/globex/messaging/', 'list-empty-globex');
      }
      if (file) {
        await go(`/w/northwind/files/f/${file.id}`, 'file-discussion', async () => {
          await page.locator('.subject-thread-body form, .subject-thread-body .hint').first().waitFor({ timeout: 5000 }).catch(() => {});
        });
      }
      await ctx.close();
    }
  }
  // Cara (Globex): a workspace with no conversation yet.
  {
    const cookies = await session('cara@globex.example', demoPw);
    for (const [vp, size] of Object.entries(VIEWPORTS)) {
      const ctx = await browser.newContext({ viewport: size });
      await ctx.addCookies([...cookies].map(([name, value]) => ({ name, value, url: app.url })));
      const page = await ctx.newPage();
      for (const [path, name] of [['/w/globex/', 'home'], ['/w/globex/messaging/', 'list'], ['/w/globex/messaging/general', 'general']] as const) {
        if (only && !only.test(`other-client-${vp}-${name}`)) continue;
        await page.goto(`${app.url}${path}`);
        await page.waitForLoadState('networkidle').catch(() => {});
        await shoot(page, `other-client-${vp}-${name}`);
      }
      await ctx.close();
    }
  }
  console.log(report.join('\n'));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await browser?.close();
    await app?.close();
  });
