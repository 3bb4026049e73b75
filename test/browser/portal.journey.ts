// Browser journey: the portal as a firm first uses it (issue 14), in Debian's Chromium, on the demo
// data /setup loads. A client sees the engagement letter waiting on their home card and in /inbox,
// reads it in place (its pages drawn on the signing page) and signs it on a phone. The owner adds a
// colleague and assigns her to the client from the UI; she chooses her password from the welcome
// mail and her time zone on her account, and reads the client's activity as sentences, with times
// in her zone. Each page at 390x844 or 1366x900 is checked with axe-core (no serious or critical
// violations), for horizontal overflow and console or CSP errors, and saved in test-artifacts/portal/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Artifacts, Watch, arrive, launchChromium, mainText, signInOnPage, type Viewport } from './support.ts';
import { setupOwner, startApp, type TestApp } from '../helpers/app.ts';
import { lastMailTo, linkIn, pathOf } from '../identity/support.ts';

const art = new Artifacts('portal');
const test = suite('journey: a client signs, the firm adds and assigns a colleague, who reads the activity in her zone');
const COLLEAGUE = { name: 'Dana Reyes', email: 'dana@harbor.example', password: 'correct-horse-battery-staple-7' };
/** A zone far from the server's UTC, so a time shown in UTC could not pass for hers. */
const HER_ZONE = 'Asia/Tokyo';
let app: TestApp;
let browser: Browser;
let demoPassword: string;
let ownerPassword: string;
const watch = new Watch(art, () => app.url);
const problems = watch.problems;

const local = (path: string) => `${app.url}${path}`;

const open = (size: Viewport, who: string) => watch.open(browser, size, who);

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(local('/login'));
  await signInOnPage(page, email, password);
}

const look = (page: Page, name: string) => watch.look(page, name);


test.before(async () => {
  app = await startApp({ plugins: ['team', 'files', 'approvals', 'signatures'] });
  const { client, password } = await setupOwner(app, { demo: true });
  ownerPassword = password;
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

test('the client sees the letter waiting on her home card and in /inbox', async () => {
  const { ctx, page } = await open('desktop', 'client');
  await signIn(page, 'ada@northwind.example', demoPassword);
  await page.goto(local('/w/northwind/'));
  const card = page.locator('#widget-core-waiting');
  await card.waitFor();
  assert.match((await card.textContent()) ?? '', /Sign\W+Engagement letter 2026/);
  await look(page, 'desktop-client-home');
  await page.goto(local('/inbox'));
  assert.match(await mainText(page), 'Engagement letter 2026');
  await look(page, 'desktop-client-inbox');
  await ctx.close();
});

test('on a phone she opens it from /inbox, reads its pages in place and signs', async () => {
  const { ctx, page } = await open('phone', 'client');
  await signIn(page, 'ada@northwind.example', demoPassword);
  await page.goto(local('/inbox'));
  await page.getByRole('link', { name: /Engagement letter 2026/ }).first().click();
  await arrive(page, /\/signatures\/sign\/[0-9a-f-]+\/?$/);
  await page.getByLabel('I agree to sign this document electronically').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.waitForSelector('#sign-title');
  // The document itself, drawn as page images on the page she signs on (two pages), not a download.
  const pages = page.locator('img[alt^="Page "]');
  await pages.first().waitFor();
  assert.is(await pages.count(), 2);
  assert.is(await pages.first().getAttribute('alt'), 'Page 1 of 2');
  await pages.nth(1).scrollIntoViewIfNeeded();
  await page.waitForFunction(`[...document.querySelectorAll('img[alt^="Page "]')].every((i) => i.complete && i.naturalWidth > 300)`, undefined, { timeout: 30_000 });
  const fits = (await page.evaluate(`[...document.querySelectorAll('img[alt^="Page "]')].every((i) => i.getBoundingClientRect().right <= window.innerWidth)`)) as boolean;
  assert.ok(fits, 'the pages fit the phone');
  await look(page, 'phone-client-sign-reading');
  await page.getByLabel('Your full name, as your signature').fill('Ada Lindqvist');
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.waitForSelector('text=you have signed');
  await look(page, 'phone-client-signed');
  // Signed: the letter leaves her inbox; the demo's approval still waits on her.
  await page.goto(local('/inbox'));
  const inbox = await mainText(page);
  assert.not.match(inbox, 'Engagement letter 2026');
  assert.match(inbox, 'Statement of work');
  await ctx.close();
});

test('the owner adds a colleague and assigns her to the client, from the UI', async () => {
  const { ctx, page } = await open('desktop', 'owner');
  await signIn(page, 'owner@harbor.example', ownerPassword);
  await page.goto(local('/admin/people'));
  await page.getByRole('link', { name: 'Add a colleague' }).first().click();
  await arrive(page, /\/admin\/people\/new$/);
  await page.getByLabel('Name').fill(COLLEAGUE.name);
  await page.getByLabel('Work email').fill(COLLEAGUE.email);
  await page.getByLabel('Role').selectOption('staff');
  await look(page, 'desktop-owner-add-colleague');
  await page.getByRole('button', { name: 'Add and send the link' }).click();
  await arrive(page, /\/admin\/people\/[0-9a-f-]+$/);
  assert.match(await mainText(page), `${COLLEAGUE.name} was added as staff`);

  await page.goto(local('/admin/workspaces'));
  await page.getByRole('link', { name: 'Northwind Traders' }).click();
  await arrive(page, /\/admin\/workspaces\/[0-9a-f-]+$/);
  await page.getByLabel('Assign someone from the firm').selectOption({ label: `${COLLEAGUE.name} (staff, ${COLLEAGUE.email})` });
  await page.getByRole('button', { name: 'Assign', exact: true }).click();
  await page.waitForLoadState('load');
  assert.match(await mainText(page), `${COLLEAGUE.name} is now on the account team of Northwind Traders`);
  assert.match((await page.locator('#team').textContent()) ?? '', COLLEAGUE.email);
  await look(page, 'desktop-owner-workspace-team');
  await ctx.close();
});

test('the colleague chooses her password and her time zone, and reads the activity in sentences in her zone', async () => {
  const { ctx, page } = await open('phone', 'colleague');
  const mail = await lastMailTo(app, COLLEAGUE.email);
  await page.goto(local(pathOf(linkIn(mail.text, '/password/reset/'))));
  await page.locator('#password').fill(COLLEAGUE.password);
  await page.locator('#confirm').fill(COLLEAGUE.password);
  await page.getByRole('button', { name: 'Save my password' }).click();
  await page.waitForLoadState('load');
  await signIn(page, COLLEAGUE.email, COLLEAGUE.password);

  await page.goto(local('/account'));
  await page.getByLabel('Show times in').selectOption(HER_ZONE);
  await page.locator('form[action="/account/time-zone"] button[type="submit"]').click();
  await page.waitForLoadState('load');
  await look(page, 'phone-colleague-account');

  await page.goto(local('/w/northwind/audit'));
  const text = await mainText(page);
  // Sentences, not codes: what the demo and the journey did, by name.
  assert.match(text, 'Ada Lindqvist signed Engagement letter 2026');
  assert.match(text, /Sam Okafor (uploaded|added)/);
  assert.not.match(text, /signatures\.\w+\.\w+|files\.\w+\.\w+/, 'no action codes');
  // The exact time on hover is in Tokyo's zone, and matches the event's own instant there.
  const first = page.locator('table time').first();
  const iso = (await first.getAttribute('datetime'))!;
  const title = (await first.getAttribute('title'))!;
  const expected = new Intl.DateTimeFormat('en-GB', { timeZone: HER_ZONE, day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(new Date(iso));
  assert.is(title, expected);
  assert.match(title, 'GMT+9');
  assert.match((await first.textContent()) ?? '', /ago|now|minute|second/, 'relative time shown');
  await look(page, 'phone-colleague-activity');
  await ctx.close();
});

test('no console errors, no CSP violations, no overflow, no serious or critical axe findings', () => {
  assert.equal(problems, []);
  assert.equal(art.a11y, []);
});

test.run();
