// Browser journey: a client writes to the firm and sees the answer arrive (the messaging plugin),
// in Debian's Chromium, on the demo data /setup loads. Ada (Northwind's client admin) opens
// Messages on her phone and posts in the general conversation with an attachment (a multipart
// htmx post); the owner, at a desk, finds the conversation in the staff inbox under "Awaiting our
// reply", opens it and answers. Ada's page, still open and never reloaded, shows the answer (a live
// ping over the page's one SSE connection, then an htmx fetch), and the menu's unread count follows:
// the answer she is reading is not counted, a message in another conversation is.
// Each page is checked with axe-core (no serious or critical violations), for horizontal overflow
// and console or CSP errors, and saved in test-artifacts/messaging/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Artifacts, Watch, arrive, launchChromium, mainText, signInOnPage, type Viewport } from './support.ts';
import { setupOwner, startApp, type TestApp } from '../helpers/app.ts';

const art = new Artifacts('messaging');
const test = suite('journey: a client writes with an attachment on her phone; the firm answers from its inbox; the answer appears live');
const ADA = 'ada@northwind.example';
const QUESTION = 'Could you check the indemnity in the attached draft before we sign on Monday?';
const ANSWER = 'Yes: the indemnity is uncapped. We will send a marked-up version tomorrow morning.';
let app: TestApp;
let browser: Browser;
let demoPassword: string;
let ownerEmail: string;
let ownerPassword: string;
/** Ada's phone: opened in the first test, kept open (never reloaded) until the last. */
let ada: { ctx: BrowserContext; page: Page };
let owner: { ctx: BrowserContext; page: Page };
const watch = new Watch(art, () => app.url);
const problems = watch.problems;

const local = (path: string) => `${app.url}${path}`;

const open = (size: Viewport, who: string) => watch.open(browser, size, who);

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(local('/login'));
  await signInOnPage(page, email, password);
}

const look = (page: Page, name: string) => watch.look(page, name);

/** The menu's unread badge for Messages (empty when nothing is unread). */
const badge = (page: Page) => page.locator('.section-nav a[href$="/messaging"] .nav-badge');

test.before(async () => {
  app = await startApp({ plugins: ['team', 'files', 'approvals', 'signatures', 'invoices', 'messaging'], overrides: { baseUrl: '' } });
  const { client, password, email } = await setupOwner(app, { demo: true });
  ownerPassword = password;
  ownerEmail = email;
  const flash = (await client.get('/staff/')).text.replace(/<[^>]+>/g, ' ');
  demoPassword = /use the password (\S+) /.exec(flash)?.[1] ?? '';
  assert.ok(demoPassword, 'the demo password is shown after /setup');
  browser = await launchChromium();
});
test.after(async () => {
  await browser?.close();
  await app?.close();
  art.save();
});

test('on her phone Ada opens Messages and posts in the general conversation with an attachment', async () => {
  ada = await open('phone', 'client');
  const { page } = ada;
  await signIn(page, ADA, demoPassword);
  // The demo left her the firm's answer about the board pack unread (two messages in that conversation).
  await badge(page).filter({ hasText: '2' }).waitFor({ timeout: 10_000 });
  await page.locator('.section-nav').getByRole('link', { name: /^Messages/ }).click();
  await arrive(page, /\/w\/northwind\/messaging\/?$/);
  const list = await mainText(page);
  assert.match(list, 'General');
  assert.match(list, 'Board pack for the March meeting');
  assert.match(list, '2 new');
  await look(page, 'phone-client-list');

  await page.getByRole('link', { name: 'General', exact: true }).click();
  await arrive(page, /\/messaging\/t\/[0-9a-f-]{36}$/);
  const thread = await mainText(page);
  assert.match(thread, 'clause 12');
  assert.not.match(thread, 'Internal note', 'the firm’s internal note is not shown to the client');
  assert.not.match(thread, 'partner’s look');
  await look(page, 'phone-client-general');

  await page.getByLabel('Your message').fill(QUESTION);
  await page.getByLabel(/Attach files/).setInputFiles({ name: 'Supply agreement v3.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n') });
  // A marker on the page: if anything reloads it, the marker is gone.
  await page.evaluate("document.body.dataset.journey = 'kept'");
  await page.getByRole('button', { name: 'Send' }).click();
  // The composer answers in place (cleared); the message arrives through the live fetch.
  const mine = page.locator('#messages .ui-message').filter({ hasText: QUESTION });
  await mine.waitFor({ timeout: 10_000 });
  await mine.getByRole('link', { name: /Supply agreement v3\.pdf/ }).waitFor();
  assert.is(await page.getByLabel('Your message').inputValue(), '', 'the composer is cleared');
  assert.is(await page.locator('body[data-journey="kept"]').count(), 1, 'posted without a reload');
  await look(page, 'phone-client-posted');
});

test('the owner finds the conversation in the staff inbox, awaiting a reply, and answers it', async () => {
  owner = await open('desktop', 'owner');
  const { page } = owner;
  await signIn(page, ownerEmail, ownerPassword);
  await page.goto(local('/staff/messaging/'));
  const inbox = await mainText(page);
  assert.match(inbox, 'Awaiting our reply');
  const row = page.locator('main tr').filter({ hasText: 'Northwind Traders' }).filter({ has: page.getByRole('link', { name: 'General', exact: true }) });
  assert.is(await row.count(), 1, `the general conversation awaits a reply: ${inbox.slice(0, 500)}`);
  await look(page, 'desktop-owner-inbox');
  await row.getByRole('link', { name: 'General' }).click();
  await arrive(page, /\/w\/northwind\/messaging\/t\/[0-9a-f-]{36}$/);
  const text = await mainText(page);
  assert.match(text, QUESTION);
  assert.match(text, 'Internal note', 'the firm sees its internal note');
  await page.locator('#messages .ui-message').filter({ hasText: QUESTION }).getByRole('link', { name: /Supply agreement v3\.pdf/ }).waitFor();
  await look(page, 'desktop-owner-thread');
  await page.getByLabel('Your message').fill(ANSWER);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('#messages .ui-message').filter({ hasText: ANSWER }).waitFor({ timeout: 10_000 });
  await look(page, 'desktop-owner-answered');
  // Answered: the conversation leaves "Awaiting our reply".
  await page.goto(local('/staff/messaging/'));
  assert.is(await page.locator('main tr').filter({ hasText: 'Northwind Traders' }).filter({ has: page.getByRole('link', { name: 'General', exact: true }) }).count(), 0, 'no longer awaiting a reply');
});

test("Ada's open page shows the answer live, and the menu's count leaves out what she is reading", async () => {
  const { page } = ada;
  const answer = page.locator('#messages .ui-message').filter({ hasText: ANSWER });
  await answer.waitFor({ timeout: 15_000 });
  assert.is(await page.locator('body[data-journey="kept"]').count(), 1, 'the answer arrived without a reload');
  assert.match((await answer.textContent()) ?? '', 'Olivia Owner');
  // She is reading the answer: still the two of the board pack, not three.
  await badge(page).filter({ hasText: /^\s*2\s*unread\s*$/ }).waitFor({ timeout: 10_000 });
  await look(page, 'phone-client-answer-live');

  // A message in another conversation: her menu counts it at once.
  const { page: desk } = owner;
  await desk.goto(local('/w/northwind/messaging/'));
  await desk.getByRole('link', { name: 'Board pack for the March meeting' }).click();
  await arrive(desk, /\/messaging\/t\/[0-9a-f-]{36}$/);
  await desk.getByLabel('Your message').fill('The draft board pack is in Files now.');
  await desk.getByRole('button', { name: 'Send' }).click();
  await desk.locator('#messages .ui-message').filter({ hasText: 'The draft board pack is in Files now.' }).waitFor({ timeout: 10_000 });
  await badge(page).filter({ hasText: /^\s*3\s*unread\s*$/ }).waitFor({ timeout: 15_000 });
  assert.is(await page.locator('body[data-journey="kept"]').count(), 1, 'still the same page');
  assert.not.match(await mainText(page), 'The draft board pack is in Files now.', 'another conversation’s message is not added to this one');
  await look(page, 'phone-client-badge-live');
  await ada.ctx.close();
  await owner.ctx.close();
});

test('no page had overflow, console or CSP errors, or serious accessibility findings', () => {
  assert.equal(problems, []);
  assert.equal(art.a11y, []);
});

test.run();
