// Browser journey: an engagement letter signed through the signers' links in Debian's Chromium.
// The first signer draws a signature on the canvas (the plugin's script, under the CSP nonce);
// the second signs with JavaScript turned off, by typing a name. Each page is checked with axe-core
// (no serious or critical violations) and saved as a screenshot in test-artifacts/signing/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { Artifacts, launchChromium } from './support.ts';
import { download } from '../plugins/files/helpers.ts';
import { makePdf, pdfText, send, sigWorld, signingLink, uploadPdf, type SigWorld } from '../plugins/signatures/helpers.ts';

const art = new Artifacts('signing');

const test = suite('journey: signing an engagement letter');
let w: SigWorld;
let browser: Browser;
let fileId: string;
const cspErrors: string[] = [];

const local = (path: string) => `${w.app.url}${path}`;
/** In the page: whether the image with this alt text has arrived and decoded. */
const loaded = (alt: string) => `(() => { const i = document.querySelector('img[alt="${alt}"]'); return Boolean(i && i.complete && i.naturalWidth > 0); })()`;

test.before(async () => {
  w = await sigWorld();
  fileId = await uploadPdf(w, 'Engagement letter.pdf', await makePdf(2));
  const sent = await send(w, fileId, [
    { userId: w.users.client_admin, page: 1, position: 'bottom-left' },
    { name: 'Tess Typist', email: 'tess@outside.example', page: 2, position: 'bottom-right' },
  ]);
  assert.is(sent.res.status, 303);
  browser = await launchChromium();
});
test.after(async () => {
  await browser?.close();
  await w?.app.close();
  art.save();
});

test('staff pages (send form, list, envelope) pass axe; the sender places a signature by clicking on the rendered page', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const sid = w.as.staff.sessionCookie();
  assert.ok(sid);
  await ctx.addCookies([...w.as.staff.cookies].map(([name, value]) => ({ name, value, url: w.app.url })));
  const page = await ctx.newPage();
  await page.goto(local(`${w.base}/new?file=${fileId}`));
  assert.match((await page.textContent('h1')) ?? '', 'Send for signature');
  // The document's pages, rendered; a click on page 2 puts signer 1's box there (centred on the
  // click), in PDF points from the page's lower-left corner.
  await page.getByLabel('Who signs').first().selectOption({ label: 'Ada Admin (client.admin@acme.example)' });
  const page2 = page.locator('img[alt="Page 2 of 2"]');
  await page2.scrollIntoViewIfNeeded();
  await page.waitForFunction(loaded('Page 2 of 2'));
  const b = (await page2.boundingBox())!;
  await page.mouse.click(b.x + b.width * 0.5, b.y + b.height * 0.25);
  const placed = await Promise.all(['s1_page', 's1_position', 's1_x', 's1_y'].map((n) => page.locator(`[name="${n}"]`).inputValue()));
  assert.equal(placed.slice(0, 2), ['2', 'custom']);
  assert.ok(Math.abs(Number(placed[2]) - (306 - 90)) < 3 && Math.abs(Number(placed[3]) - (594 - 30)) < 3, `the box is centred on the click: ${placed.join(', ')}`);
  assert.ok(await page.getByRole('button', { name: /^Ada Admin signs here \(signer 1\), on page 2/ }).isVisible(), 'the place is marked on the page');
  await art.check(page, '0-staff-send-form');
  await page.goto(local(`${w.base}/`));
  await art.check(page, '0-staff-list');
  await page.getByRole('link', { name: 'Engagement letter' }).first().click();
  await page.waitForSelector('#events-title');
  await art.check(page, '0-staff-envelope');
  await ctx.close();
});

test('the first signer opens the link on a phone, agrees, draws a signature and signs', async () => {
  const link = await signingLink(w, w.emails.client_admin);
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: false });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  await page.goto(local(link.path));
  assert.match((await page.textContent('h1')) ?? '', 'Sign: Engagement letter');
  // The document in place: page 1 as an image that fits the phone, without scrolling sideways.
  await page.waitForFunction(loaded('Page 1 of 2'));
  const first = (await page.locator('img[alt="Page 1 of 2"]').boundingBox())!;
  assert.ok(first.width > 300 && first.x >= 0 && first.x + first.width <= 390, `page 1 fits the screen: ${JSON.stringify(first)}`);
  assert.is(await page.evaluate('document.documentElement.scrollWidth'), 390, 'no sideways scroll');
  await art.check(page, '1-review');
  await page.getByLabel('I agree to sign this document electronically').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.waitForSelector('#sign-title');
  await page.getByLabel('Draw my signature').check();
  const canvas = page.locator('canvas');
  await canvas.waitFor({ state: 'visible' });
  await art.check(page, '2-draw');
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + 20, box.y + box.height * 0.7);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + 20 + i * ((box.width - 40) / 20), box.y + box.height * (0.7 - 0.4 * Math.sin(i / 3)));
  await page.mouse.up();
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.waitForSelector('text=you have signed');
  await art.check(page, '3-signed');
  const s = await w.app.kernel.db('signatures_signers').where({ position: 1 }).first('status', 'signature_kind');
  assert.equal({ ...s }, { status: 'signed', signature_kind: 'drawn' });
  await ctx.close();
});

test('the second signer, with JavaScript off, can only type, and the typed signature works', async () => {
  const link = await signingLink(w, 'tess@outside.example');
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: false });
  const page = await ctx.newPage();
  await page.goto(local(link.path));
  await page.getByLabel('I agree to sign this document electronically').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.waitForSelector('#sign-title');
  assert.not.ok(await page.getByLabel('Draw my signature').isVisible(), 'no drawing without JavaScript');
  await page.getByLabel('Your full name, as your signature').fill('Tess Typist');
  await art.check(page, '4-type-no-js', { axe: false });
  await page.getByRole('button', { name: 'Sign', exact: true }).click();
  await page.waitForSelector('text=Everyone has now signed');
  await art.check(page, '5-completed', { axe: false });
  await ctx.close();
});

test('the signed letter carries the drawn and the typed signature and the certificate; no CSP or accessibility problems', async () => {
  const signed = await download(w.as.staff, `/w/${w.ws.slug}/files/f/${fileId}/download`);
  const pdf = await pdfText(signed.body);
  assert.is(pdf.pages, 3);
  assert.ok(pdf.images[0], 'the drawn signature is on page 1');
  assert.match(pdf.text[1]!, 'Tess Typist');
  assert.match(pdf.text[2]!, 'Certificate of completion');
  assert.equal(cspErrors, []);
  assert.equal(art.a11y, []);
});

test.run();
