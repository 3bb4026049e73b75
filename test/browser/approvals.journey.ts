// Browser journey: staff ask a client to approve a delivered file from the file's page; the client
// opens the emailed link on a phone without signing in, sees the document and approves it; staff
// see the decision on the request and in the queue. Every page is checked with axe-core (no
// serious or critical violations) and saved as a screenshot in test-artifacts/approvals/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { Artifacts, arrive, launchChromium } from './support.ts';
import { approvalsWorld, linkIn, type World } from '../plugins/approvals/helpers.ts';
import { upload } from '../plugins/files/helpers.ts';

const art = new Artifacts('approvals');

const test = suite('journey: approving a deliverable from the email link');
let w: World;
let browser: Browser;
let staff: Page;
let phone: Page;
let fileId: string;
const csp: string[] = [];

test.before(async () => {
  w = await approvalsWorld();
  // A deliverable the account team has already sent to the client.
  await w.as.staff.get('/w/acme/files/');
  const res = await upload(w.as.staff, '/w/acme/files/upload', [{ name: 'Homepage design.txt', data: 'the homepage design' }], { deliverable: 'yes' });
  assert.is(res.status, 200);
  fileId = String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Homepage design.txt' }).first('id')).id);
  browser = await launchChromium();
  staff = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true })).newPage();
  for (const p of [staff, phone]) p.on('console', (m) => /Content Security Policy/i.test(m.text()) && csp.push(m.text()));
});
test.after(async () => {
  await browser?.close();
  await w?.app.close();
  art.save();
});

test('staff request approval from the file page', async () => {
  await staff.goto(`${w.app.url}/login`);
  await staff.getByLabel('Email').fill(w.emails.staff);
  await staff.getByLabel('Password').fill(w.password);
  await staff.getByRole('button', { name: 'Sign in' }).click();
  await staff.waitForLoadState();
  await staff.goto(`${w.app.url}/w/acme/files/f/${fileId}`);
  await staff.getByRole('link', { name: 'Request approval' }).click();
  await arrive(staff, /\/approvals\/new\?/);
  await art.check(staff, '01-new-request');
  // Sent with nothing chosen: the message appears beside the approvers, and nothing is saved.
  await staff.getByRole('button', { name: 'Send the request' }).click();
  await staff.waitForLoadState();
  assert.match((await staff.textContent('main')) ?? '', 'Choose at least one approver');
  await art.check(staff, '02-new-request-error');
  await staff.getByLabel('Title').fill('Approve the homepage design');
  await staff.getByLabel('Message').fill('This is the version we discussed on Friday.');
  await staff.getByLabel(/^Admin Person/).check();
  await staff.getByRole('textbox', { name: /^Due date/ }).fill('2026-12-18');
  await staff.getByRole('button', { name: 'Send the request' }).click();
  await arrive(staff, /\/approvals\/r\/[0-9a-f-]{36}$/);
  assert.match((await staff.textContent('main')) ?? '', 'Waiting for their decision');
  await art.check(staff, '03-request-waiting');
});

test('the client opens the emailed link on a phone without signing in, downloads and approves', async () => {
  const path = await linkIn(w, w.emails.admin, /Approval requested/);
  await phone.goto(`${w.app.url}${path}`);
  assert.match((await phone.textContent('main')) ?? '', 'This is the version we discussed on Friday.');
  await art.check(phone, '04-link-page');
  const [download] = await Promise.all([phone.waitForEvent('download'), phone.getByRole('link', { name: 'Download version 1' }).click()]);
  assert.is(download.suggestedFilename(), 'Homepage design.txt');
  await phone.getByRole('button', { name: 'Approve version 1' }).click();
  await phone.waitForLoadState();
  assert.match((await phone.textContent('main')) ?? '', 'Your answer to “Approve the homepage design” is recorded: approved.');
  assert.match((await phone.textContent('main')) ?? '', 'Harbor & Vale LLP keeps a record of your decision');
  await art.check(phone, '05-link-done');
  // The link is used up: opening it again says so in the kernel's words (404).
  const again = await phone.goto(`${w.app.url}${path}`);
  assert.is(again?.status(), 404);
});

test('staff see the decision on the request and in the queue; the queue filters in place', async () => {
  await staff.reload();
  const main = (await staff.textContent('main')) ?? '';
  assert.match(main, 'Approved');
  assert.match(main, 'from the email link');
  await art.check(staff, '06-request-approved');
  await staff.goto(`${w.app.url}/staff/approvals/`);
  assert.match((await staff.textContent('#approvals-queue')) ?? '', 'No requests match');
  await art.check(staff, '07-queue-waiting');
  await staff.getByLabel('Status').selectOption('approved');
  await staff.waitForSelector('#approvals-queue >> text=Approve the homepage design', { timeout: 10_000 });
  await art.check(staff, '08-queue-approved');
});

test('no serious or critical accessibility violations, no CSP violations', () => {
  assert.equal(art.a11y, []);
  assert.equal(csp, []);
});

test.run();
