// Browser journey: "waiting on you" in Debian's Chromium. A client with an overdue approval and a
// document to sign sees both on their home card, in /inbox and in the header's count; signs from
// the portal (no mail) on a phone; the count drops, and rises again live when the firm sends
// another document while the page is open. Staff see theirs on the staff overview and in /inbox.
// Every page at 390x844 and 1366x900 is checked with axe-core (no serious or critical violations),
// for horizontal overflow, and saved as a screenshot in test-artifacts/waiting/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Artifacts, arrive, launchChromium } from './support.ts';
import { upload } from '../plugins/files/helpers.ts';
import { makePdf, send, sigWorld, uploadPdf, type SigWorld } from '../plugins/signatures/helpers.ts';

const art = new Artifacts('waiting');
const test = suite('journey: waiting on you');
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1366, height: 900 } } as const;
let w: SigWorld;
let browser: Browser;
let fileId: string;
const problems: string[] = [];

const local = (path: string) => `${w.app.url}${path}`;

async function as(who: 'client_member' | 'staff', size: keyof typeof VIEWPORTS): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: VIEWPORTS[size] });
  await ctx.addCookies([...w.as[who].cookies].map(([name, value]) => ({ name, value, url: w.app.url })));
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${who} ${size}: ${m.text()}`);
  });
  return { ctx, page };
}

async function look(page: Page, name: string): Promise<void> {
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
  if (overflow > 0) problems.push(`${name}: ${overflow}px of horizontal overflow`);
  await art.check(page, name);
}

const badge = (page: Page) => page.locator('[sse-swap="waiting"]');

test.before(async () => {
  w = await sigWorld({ plugins: ['team', 'files', 'approvals', 'signatures'] });
  fileId = await uploadPdf(w, 'Engagement letter.pdf', await makePdf(1));
  // An approval for the client member, due yesterday (set in the table: the form refuses a past date).
  await w.as.staff.get(`/w/${w.ws.slug}/files/`);
  assert.is((await upload(w.as.staff, `/w/${w.ws.slug}/files/upload`, [{ name: 'Brand guidelines.txt', data: 'brand' }])).status, 200);
  const brand = String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Brand guidelines.txt' }).first('id')).id);
  await w.as.staff.get(`/w/${w.ws.slug}/approvals/new?type=files.version&subject=${brand}`);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const asked = await w.as.staff.postForm(`/w/${w.ws.slug}/approvals/`, { type: 'files.version', subject: brand, title: 'Approve the brand guidelines', sequence: 'parallel', approvers: [w.users.client_member, w.users.staff], due: tomorrow });
  assert.is(asked.status, 303, asked.text.slice(0, 300));
  await w.app.kernel.db('approvals_requests').where({ workspace_id: w.ws.id }).update({ due_at: Date.now() - 86_400_000 });
  // A document to sign for the client member.
  assert.is((await send(w, fileId, [{ userId: w.users.client_member, page: 1 }])).res.status, 303);
  await w.app.kernel.waiting.refresh([w.users.client_member, w.users.staff]);
  browser = await launchChromium();
});
test.after(async () => {
  await browser?.close();
  await w?.app.close();
  art.save();
});

test('a client sees both on the home card, in /inbox, in To sign and in the header, at both sizes', async () => {
  for (const size of ['phone', 'desktop'] as const) {
    const { ctx, page } = await as('client_member', size);
    await page.goto(local(`/w/${w.ws.slug}/`));
    const card = page.locator('#widget-core-waiting');
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', 'Approve the brand guidelines');
    assert.not.match((await card.textContent()) ?? '', 'Approve: Approve');
    assert.match((await card.textContent()) ?? '', 'Sign: Engagement letter');
    assert.is((await badge(page).textContent())?.trim(), '2');
    await look(page, `${size}-client-home`);
    await page.goto(local('/inbox'));
    assert.match((await page.textContent('main')) ?? '', '2 things are waiting for you, 1 overdue');
    await look(page, `${size}-client-inbox`);
    await page.goto(local(`/w/${w.ws.slug}/signatures/mine`));
    await look(page, `${size}-client-to-sign`);
    await ctx.close();
  }
});

test('on a phone the client signs from /inbox without the mail; the count drops, then rises live', async () => {
  const { ctx, page } = await as('client_member', 'phone');
  await page.goto(local('/inbox'));
  await page.getByRole('link', { name: /^Sign\W+Engagement letter$/ }).click();
  await arrive(page, /\/signatures\/sign\/[0-9a-f-]+\/$/);
  await look(page, 'phone-client-sign-consent');
  await page.getByLabel('I agree to sign this document electronically').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.waitForSelector('#sign-title');
  await page.getByLabel('Your full name, as your signature').fill('Mo Member');
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.waitForSelector('text=you have signed');
  await look(page, 'phone-client-signed');
  await page.goto(local('/inbox'));
  assert.is((await badge(page).textContent())?.trim(), '1');
  // The firm sends another document while the page is open: the header's count follows, live.
  await page.waitForTimeout(500); // the event stream is open
  assert.is((await send(w, fileId, [{ userId: w.users.client_member, page: 1 }], 'Second letter')).res.status, 303);
  await page.waitForFunction(`document.querySelector('[sse-swap="waiting"]')?.textContent?.trim() === '2'`, undefined, { timeout: 10_000 });
  await ctx.close();
});

test('staff: the overview card and /inbox, at both sizes', async () => {
  for (const size of ['phone', 'desktop'] as const) {
    const { ctx, page } = await as('staff', size);
    await page.goto(local('/staff/'));
    assert.match((await page.locator('#widget-core-waiting').textContent()) ?? '', 'Approve the brand guidelines');
    await look(page, `${size}-staff-overview`);
    await page.goto(local('/inbox'));
    await look(page, `${size}-staff-inbox`);
    await ctx.close();
  }
});

test('an empty inbox says what to do next', async () => {
  const { ctx, page } = await as('client_member', 'desktop');
  await w.app.kernel.db('approvals_requests').where({ workspace_id: w.ws.id }).update({ status: 'cancelled' });
  await w.app.kernel.db('signatures_signers').where({ workspace_id: w.ws.id, user_id: w.users.client_member }).update({ status: 'voided' });
  await w.app.kernel.waiting.refresh([w.users.client_member]);
  await page.goto(local('/inbox'));
  assert.match((await page.textContent('main')) ?? '', 'Nothing is waiting on you');
  await look(page, 'desktop-client-inbox-empty');
  await ctx.close();
});

test('no console errors, no CSP violations, no overflow, no serious or critical axe findings', () => {
  assert.equal(problems, []);
  assert.equal(art.a11y, []);
});

test.run();
