// Browser journeys: a person in Debian's Chromium (driven by playwright-core) against a real
// Atrium on 127.0.0.1, mail captured from a real SMTP server. Each page visited is checked with
// axe-core (no serious or critical violations) and its key pages are saved as screenshots in
// test-artifacts/ (git-ignored). Run with `npm run test:browser` (CI runs it on SQLite).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Artifacts, arrive, launchChromium } from './support.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { flushMail, parse, SMTP_CONFIG, startSmtp } from '../identity/support.ts';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';

const art = new Artifacts('journeys');
const OWNER = { email: 'olivia@harbor.example', password: 'Harbour lights over the quay', name: 'Olivia Owner' };
const CLIENT = { email: 'dana@acme.example', password: 'Ten green bottles on the wall', name: 'Dana Client' };

const test = suite('journeys');
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let browser: Browser;
let ownerCtx: BrowserContext;
let clientCtx: BrowserContext;
let owner: Page;
let client: Page;

/** The newest mail to `to`, after letting the outbox worker send everything due. */
async function mailTo(to: string) {
  await flushMail(app);
  const got = [...smtp.received].reverse().find((m) => m.to.includes(to));
  assert.ok(got, `a mail to ${to}`);
  return parse(got!.raw);
}

/** Links in mails are built from the configured base URL; the test server listens elsewhere. */
const local = (url: string) => url.replace(app.kernel.config.baseUrl, app.url);

test.before(async () => {
  smtp = await startSmtp();
  app = await startApp({ plugins: ['team', 'files'], overrides: { ...SMTP_CONFIG(smtp.port), auth: { argon2MemoryKiB: 19456, argon2Iterations: 2 } } });
  browser = await launchChromium();
  ownerCtx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  clientCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
  owner = await ownerCtx.newPage();
  client = await clientCtx.newPage();
});
test.after(async () => {
  await browser?.close();
  await app?.close();
  await smtp?.close();
  art.save();
});

test('first run: / leads to setup; the owner lands on an empty staff overview', async () => {
  await owner.goto(`${app.url}/`);
  assert.match(owner.url(), /\/setup$/);
  await art.check(owner, '01-setup');
  await owner.getByLabel('Firm name').fill('Harbor & Vale LLP');
  await owner.getByLabel('Your name').fill(OWNER.name);
  await owner.getByLabel('Your email').fill(OWNER.email);
  await owner.getByLabel('Password', { exact: true }).fill(OWNER.password);
  await owner.getByLabel(/Load demo data/).uncheck();
  await owner.getByRole('button', { name: 'Create owner account' }).click();
  await arrive(owner, /\/staff\/$/);
  assert.match(await owner.textContent('main') ?? '', 'No client workspaces yet');
  await art.check(owner, '02-staff-overview-empty');
  await owner.getByRole('link', { name: 'Create the first workspace' }).click();
  await owner.getByLabel('Client organisation').fill('Acme Holdings');
  await owner.getByLabel(/Address/).fill('acme');
  await owner.getByRole('button', { name: 'Create workspace' }).click();
  await arrive(owner, /\/w\/acme\/$/);
});

test('the owner invites a client by email; the client accepts, enrols TOTP and signs in with it', async () => {
  await owner.goto(`${app.url}/w/acme/invitations`);
  await art.check(owner, '03-invitations');
  await owner.getByLabel('Email', { exact: true }).fill(CLIENT.email);
  await owner.getByLabel('Role').selectOption('client_admin');
  await owner.getByRole('button', { name: /Send invitation|Invite/ }).click();
  await owner.waitForLoadState();
  const mail = await mailTo(CLIENT.email);
  const link = /https?:\/\/\S+\/invite\/[A-Za-z0-9_-]+/.exec(mail.text ?? '')?.[0];
  assert.ok(link, 'invitation link in the mail');

  await client.goto(local(link!));
  await art.check(client, '04-invite-accept');
  await client.getByLabel('Your name').fill(CLIENT.name);
  await client.getByLabel('Password', { exact: true }).fill(CLIENT.password);
  await client.getByLabel(/Confirm|again/i).fill(CLIENT.password);
  await client.getByRole('button', { name: /Join|Accept|Create/ }).click();
  await arrive(client, /\/w\/acme\/|\/account/);

  // Enrol TOTP from the account page.
  await client.goto(`${app.url}/account/mfa/setup`);
  if (/reauth/.test(client.url())) {
    await client.getByLabel(/Password/).fill(CLIENT.password);
    await client.getByRole('button', { name: /Continue|Confirm/ }).click();
    await arrive(client, /mfa\/setup/);
  }
  await art.check(client, '05-mfa-setup');
  const secret = ((await client.textContent('#mfa-secret')) ?? '').replace(/\s+/g, '');
  assert.ok(secret.length >= 16, 'secret shown for manual entry');
  await client.getByLabel(/code/i).fill(app.kernel.mfa.codeAt(secret, app.kernel.clock.now()));
  await client.getByRole('button', { name: /Turn on|Confirm|Enable|Verify/ }).click();
  await client.waitForLoadState();
  assert.match((await client.textContent('main')) ?? '', /recovery/i);
  await art.check(client, '06-recovery-codes');

  // Sign out, then in with password + TOTP (the next 30-second step, so it is not a replay).
  await client.getByRole('button', { name: 'Sign out' }).first().click();
  await arrive(client, /\/login/);
  await client.getByLabel('Email').fill(CLIENT.email);
  await client.getByLabel('Password').fill(CLIENT.password);
  await client.getByRole('button', { name: 'Sign in' }).click();
  await arrive(client, /\/login\/mfa/);
  await art.check(client, '07-login-mfa');
  await client.getByLabel(/code/i).fill(app.kernel.mfa.codeAt(secret, app.kernel.clock.now() + 30_000));
  await client.getByRole('button', { name: /Verify|Continue|Sign in/ }).click();
  await arrive(client, /\/w\/acme\/$/);
  await art.check(client, '08-client-home');
});

test('staff upload a deliverable (the progress bar shows); the client sees it on the home page and downloads it', async () => {
  await owner.goto(`${app.url}/w/acme/files`);
  await art.check(owner, '09-files-empty');
  await owner.setInputFiles('#files-input', { name: 'Engagement letter.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3 * 1024 * 1024, 32), Buffer.from('\n%%EOF\n')]) });
  await owner.getByLabel(/Mark as a deliverable/).check();
  // A fast local upload shows and hides the bar within milliseconds, so watch for it rather than
  // race it: a MutationObserver records every moment the bar is visible with a value.
  await owner.evaluate(`(() => {
    window.__progressSeen = [];
    const bar = document.querySelector('progress[data-files-progress]');
    new MutationObserver(() => { if (!bar.hidden) window.__progressSeen.push(bar.value); })
      .observe(bar, { attributes: true, attributeFilter: ['hidden', 'value'] });
  })()`);
  await owner.getByRole('button', { name: 'Upload' }).click();
  await owner.waitForSelector('#file-list >> text=Engagement letter.pdf', { timeout: 20_000 });
  const seen = (await owner.evaluate('window.__progressSeen')) as number[];
  assert.ok(seen.length > 0, 'the progress bar was shown during the upload');
  await art.check(owner, '10-files-uploaded');

  await client.goto(`${app.url}/w/acme/`);
  assert.match((await client.textContent('main')) ?? '', 'Engagement letter.pdf');
  await art.check(client, '11-client-home-deliverable');
  await client.goto(`${app.url}/w/acme/files`);
  await client.getByRole('link', { name: 'Engagement letter.pdf' }).first().click();
  const [download] = await Promise.all([client.waitForEvent('download'), client.getByRole('link', { name: /Download/ }).first().click()]);
  assert.is(download.suggestedFilename(), 'Engagement letter.pdf');
  assert.ok(await app.kernel.db('audit_events').where({ action: 'files.file.download' }).first(), 'a download receipt');
});

test("a real PDF shows its first page in the client's list and on the file's page", async () => {
  const doc = await PDFDocument.create();
  const page = doc.addPage([595, 842]);
  page.drawRectangle({ x: 60, y: 300, width: 475, height: 420, color: rgb(0.1, 0.2, 0.5) });
  page.drawText('Statement of work', { x: 60, y: 200, size: 28, font: await doc.embedFont(StandardFonts.Helvetica) });
  await owner.goto(`${app.url}/w/acme/files`);
  await owner.setInputFiles('#files-input', { name: 'Statement of work.pdf', mimeType: 'application/pdf', buffer: Buffer.from(await doc.save()) });
  await owner.getByRole('button', { name: 'Upload' }).click();
  await owner.waitForSelector('#file-list >> text=Statement of work.pdf', { timeout: 20_000 });
  // The render runs after the upload's commit, off the request: wait for its outcome.
  const deadline = Date.now() + 30_000;
  while (!(await app.kernel.db('files_previews').where({ status: 'ready' }).first('id'))) {
    assert.ok(Date.now() < deadline, 'a preview was rendered within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const img = 'img[alt="First page of Statement of work.pdf"]';
  /** The image is in the page and the browser decoded it (naturalWidth is 0 for a broken image). */
  const shown = async (p: Page) => {
    await p.waitForSelector(img, { timeout: 10_000 });
    await p.waitForFunction(`(() => { const i = document.querySelector('${img}'); return i && i.complete && i.naturalWidth > 0; })()`, undefined, { timeout: 10_000 });
    return (await p.evaluate(`document.querySelector('${img}').naturalWidth`)) as number;
  };
  await client.goto(`${app.url}/w/acme/files`);
  assert.is(await shown(client), 480, 'the list shows the 480 px preview, scaled down');
  await art.check(client, '12-client-list-pdf-preview');
  await client.getByRole('link', { name: 'Statement of work.pdf' }).first().click();
  assert.is(await shown(client), 480, "the file's page shows it too");
  await art.check(client, '13-client-file-pdf-preview');
});

test("an admin's branding change shows on the client's next page", async () => {
  await owner.goto(`${app.url}/admin/branding`);
  await art.check(owner, '14-branding');
  await owner.getByLabel('Primary colour').fill('#0b3d2e');
  await owner.getByRole('button', { name: 'Save branding' }).click();
  await owner.waitForLoadState();
  await client.goto(`${app.url}/w/acme/`);
  const primary = (await client.evaluate(`getComputedStyle(document.documentElement).getPropertyValue('--brand-primary').trim()`)) as string;
  assert.is(primary, '#0b3d2e');
  await art.check(client, '15-client-rebranded');
});

test('no serious or critical accessibility violations on any page visited', () => {
  assert.equal(art.a11y, []);
});

test.run();
