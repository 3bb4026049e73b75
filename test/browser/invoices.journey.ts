// Browser journey: an invoice from issue to the CFO's pack (issue 15), in Debian's Chromium, on the
// demo data /setup loads, with payments-stripe pointed at a fake Stripe API on 127.0.0.1. The firm
// allows card payment for Northwind and issues an invoice from the editor; the payment reminder
// job mails Ada (Northwind's client admin), who opens the invoice from that mail on her phone
// (signing in first), pays it through the fake provider's checkout page, sees it paid and opens
// the receipt; then she downloads the period pack, and the test opens the zip and checks its parts.
// Each page at 390x844 or 1366x900 is checked with axe-core (no serious or critical violations),
// for horizontal overflow and console or CSP errors, and saved in test-artifacts/invoices/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import yauzl from 'yauzl';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Artifacts, Watch, arrive, launchChromium, mainText, signInOnPage, type Viewport } from './support.ts';
import { setupOwner, startApp, type TestApp } from '../helpers/app.ts';
import { mailsTo } from '../identity/support.ts';
import { FakeStripe } from '../plugins/payments-stripe/fake-stripe.ts';
import { SECRET_KEY, WEBHOOK_SECRET } from '../plugins/payments-stripe/helpers.ts';
import { runReminders } from '../../plugins/invoices/reminders.ts';
import { settingsSchema } from '../../plugins/invoices/settings.ts';
import type { InvoicesDeps } from '../../plugins/invoices/service.ts';

const art = new Artifacts('invoices');
const test = suite('journey: staff issue an invoice; the client pays it from the reminder mail and downloads the period pack');
const ADA = 'ada@northwind.example';
const DAY = 86_400_000;
let app: TestApp;
let fake: FakeStripe;
let browser: Browser;
let demoPassword: string;
let ownerEmail: string;
let ownerPassword: string;
let invoiceId = '';
let invoiceNumber = '';
let reminderLink = '';
const watch = new Watch(art, () => app.url);
const problems = watch.problems;

const local = (path: string) => `${app.url}${path}`;

const open = (size: Viewport, who: string) => watch.open(browser, size, who, { acceptDownloads: true });

const signIn = signInOnPage;

const look = (page: Page, name: string) => watch.look(page, name);


/** The entries of a zip and their bytes. */
function unzip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

test.before(async () => {
  fake = await new FakeStripe(SECRET_KEY, WEBHOOK_SECRET).start();
  app = await startApp({
    plugins: ['team', 'files', 'approvals', 'signatures', 'invoices', 'payments-stripe'],
    overrides: {
      // Derived from the port the app listens on, so mail links and the provider's return URLs lead back to it.
      baseUrl: '',
      plugins: {
        settings: {
          invoices: { paymentDetails: 'Bank: Harbor Bank\nIBAN: GB33 BUKB 2020 1555 5555 55', firmAddress: '1 Quay Street, Bristol' },
          'payments-stripe': { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: fake.url },
        },
      },
    },
  });
  fake.webhookUrl = `${app.url}/hooks/payments-stripe/webhook`;
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
  await fake?.stop();
  art.save();
});

test('the firm allows card payment for Northwind and issues an invoice from the editor', async () => {
  const { ctx, page } = await open('desktop', 'staff');
  await page.goto(local('/login'));
  await signIn(page, ownerEmail, ownerPassword);
  await page.goto(local('/w/northwind/invoices/payment-methods'));
  await page.getByLabel(/Card \(Stripe\)/).check();
  await page.getByRole('button', { name: /Save/ }).click();
  await page.waitForLoadState('load');
  assert.ok(await page.getByLabel(/Card \(Stripe\)/).isChecked(), 'Stripe allowed');
  await look(page, 'desktop-staff-payment-methods');

  await page.goto(local('/w/northwind/invoices/new'));
  await page.locator('[name$="-description"]').first().fill('Advisory work, November');
  await page.locator('[name$="-quantity"]').first().fill('12.5');
  await page.locator('[name$="-unitPrice"]').first().fill('180.00');
  await page.locator('[name$="-taxRate"]').first().fill('20');
  // Live totals: the server's sum appears without a save (12.5 x 180 = 2,250.00 + 20% = 2,700.00).
  await page.locator('main').getByText('2,700.00').first().waitFor({ timeout: 10_000 });
  await look(page, 'desktop-staff-editor');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await arrive(page, /\/invoices\/i\/[0-9a-f-]{36}$/);
  invoiceId = /\/i\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  await page.locator('#issue summary').click();
  await page.getByRole('button', { name: 'Issue invoice' }).last().click();
  await page.waitForLoadState('load');
  const text = await mainText(page);
  invoiceNumber = /INV-\d{4}-\d{4}/.exec(text)?.[0] ?? '';
  assert.ok(invoiceNumber, `the issued invoice shows its number: ${text.slice(0, 300)}`);
  assert.match(text, '2,700.00');
  await look(page, 'desktop-staff-issued');
  await ctx.close();
});

test('the reminder job mails Ada, with a link to the invoice in the portal and no anonymous amount page', async () => {
  const k = app.kernel;
  // Five days ago, due yesterday: the "1 day after" step of the default schedule is due now.
  const now = Date.now();
  await k.db('invoices_invoices').where({ id: invoiceId }).update({ issued_at: now - 5 * DAY, due_at: now - 1.5 * DAY });
  const deps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: k.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) } as unknown as InvoicesDeps;
  const { sent } = await runReminders(deps);
  assert.ok(sent >= 1, 'a reminder was sent');
  const mail = (await mailsTo(app, ADA)).filter((m) => m.subject.includes(invoiceNumber)).at(-1);
  assert.ok(mail, `a reminder about ${invoiceNumber} reached Ada`);
  const m = new RegExp(`https?://[^\\s"<>]+/w/northwind/invoices/i/${invoiceId}`).exec(mail!.text);
  assert.ok(m, `the mail links to the invoice: ${mail!.text}`);
  reminderLink = m![0]!;
});

test('on her phone Ada opens the mail link, signs in, lands on the invoice and pays by card', async () => {
  const { ctx, page } = await open('phone', 'client');
  await page.goto(reminderLink);
  await arrive(page, /\/login/);
  await signIn(page, ADA, demoPassword);
  await arrive(page, new RegExp(`/invoices/i/${invoiceId}$`));
  const before = await mainText(page);
  assert.match(before, invoiceNumber);
  assert.match(before, /overdue/i);
  await look(page, 'phone-client-invoice-overdue');
  await page.getByRole('button', { name: /Pay with Card \(Stripe\)/ }).click();
  // Our page first (a link, not a redirect: the CSP's form-action keeps forms on our origin).
  await arrive(page, /\/checkout\/[0-9a-f-]+$/);
  await look(page, 'phone-client-checkout');
  await page.getByRole('link', { name: 'Continue to the payment page' }).click();
  // The provider's checkout page (the fake Stripe, another origin).
  await page.waitForURL((u) => u.toString().startsWith(fake.url), { timeout: 15_000 });
  assert.match(((await page.textContent('body')) ?? '').replace(/\s+/g, ' '), /2,?700\.00/);
  await page.getByRole('button', { name: 'Pay', exact: true }).click();
  // Back in the portal: the fake sends the signed webhook before it redirects, so the payment is recorded.
  await arrive(page, /\/checkout\/[0-9a-f-]+\/done/);
  assert.match(await mainText(page), 'Payment received');
  await look(page, 'phone-client-payment-received');
  await page.getByRole('link', { name: `Back to invoice ${invoiceNumber}` }).click();
  await arrive(page, new RegExp(`/invoices/i/${invoiceId}$`));
  await look(page, 'phone-client-invoice-paid');
  const after = await mainText(page);
  assert.match(after, /\bPaid\b/, after.slice(0, 600));
  assert.not.match(after, 'Pay with Card');
  await page.getByRole('link', { name: /RCT-\d{4}-\d{4}/ }).first().click();
  await arrive(page, /\/receipts\//);
  const receipt = await mainText(page);
  assert.match(receipt, invoiceNumber);
  assert.match(receipt, '2,700.00');
  await look(page, 'phone-client-receipt');
  await ctx.close();
});

test("the client's admin downloads this month's pack, and the zip holds the invoice, receipt, statement and proof of service", async () => {
  const { ctx, page } = await open('desktop', 'client');
  await page.goto(local('/login'));
  await signIn(page, ADA, demoPassword);
  await page.goto(local('/w/northwind/invoices/'));
  await look(page, 'desktop-client-invoices');
  await page.getByRole('link', { name: 'Download a period pack' }).click();
  await arrive(page, /\/invoices\/pack$/);
  await look(page, 'desktop-client-pack');
  // The period: from the invoice's issue (five days ago) to today, in the firm's zone.
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  await page.getByLabel(/First day/i).fill(day(Date.now() - 10 * DAY));
  await page.getByLabel(/Last day/i).fill(day(Date.now() + DAY));
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Download/ }).click()]);
  const file = join(art.dir, 'pack.zip');
  await download.saveAs(file);
  const parts = await unzip(file);
  const names = [...parts.keys()];
  assert.ok(names.includes(`invoices/${invoiceNumber}.pdf`), `the invoice's PDF is in the pack: ${names.join(', ')}`);
  assert.ok(names.some((n) => /^receipts\/RCT-\d{4}-\d{4}\.pdf$/.test(n)), `a receipt: ${names.join(', ')}`);
  for (const n of ['statement.csv', 'statement.pdf', 'proof-of-service.csv', 'proof-of-service.pdf']) assert.ok(names.includes(n), `${n}: ${names.join(', ')}`);
  assert.is(parts.get(`invoices/${invoiceNumber}.pdf`)!.subarray(0, 5).toString(), '%PDF-');
  const statement = parts.get('statement.csv')!.toString('utf8');
  assert.match(statement, invoiceNumber);
  assert.match(statement, '2700.00');
  assert.ok(readFileSync(file).length > 1000);
  await ctx.close();
});

test('no page had overflow, console or CSP errors, or serious accessibility findings', () => {
  assert.equal(problems, []);
  assert.equal(art.a11y, []);
});

test.run();
