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

test('staff pages (send form, list, envelope) pass axe', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const sid = w.as.staff.sessionCookie();
  assert.ok(sid);
  await ctx.addCookies([...w.as.staff.cookies].map(([name, value]) => ({ name, value, url: w.app.url })));
  const page = await ctx.newPage();
  await page.goto(local(`${w.base}/new?file=${fileId}`));
  assert.match((await page.textContent('h1')) ?? '', 'Send for signature');
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
