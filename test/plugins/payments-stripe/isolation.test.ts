// The isolation kit over every route with invoices and payments-stripe enabled: A's people acting
// on B's invoices, checkouts and receipts get 404 and change nothing (Pay included: no checkout is
// started for B's invoice); B's canary never reaches A; the webhook, driven without a signature
// (anonymous, and with A's session, naming B's workspace), is refused and changes nothing.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { transaction } from '../../../core/db/index.ts';
import { createDraft, issueInvoice, recordPayment, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { issueCreditNote } from '../../../plugins/invoices/credit-notes.ts';
import { createTemplate } from '../../../plugins/invoices/recurring.ts';
import { monthOf } from '../../../plugins/invoices/schedule.ts';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { seedOnline } from '../invoices/online-seed.ts';
import { SECRET_KEY, WEBHOOK_SECRET } from './helpers.ts';

const test = suite('payments-stripe isolation');

async function seed(ctx: SeedContext) {
  const { kernel: k, workspace, canary, users } = ctx;
  const deps: InvoicesDeps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: k.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({ paymentDetails: `IBAN ${canary}` }) };
  const ws = { id: workspace.id, slug: workspace.slug, name: workspace.name };
  const actor = { actorId: users.staff };
  const invoiceId = await transaction(k.db, (trx) => createDraft(deps, trx, ws, actor, { currency: 'EUR', termsDays: 30, notes: `Notes ${canary}`, terms: '', lines: [{ description: `Work ${canary}`, quantity: 1000, unitPrice: 50_000, taxRate: 0, discount: 0 }] }));
  await issueInvoice(deps, ws, actor, invoiceId);
  const { paymentId } = await recordPayment(deps, ws, actor, invoiceId, { amount: 1000, method: 'bank_transfer', reference: `Ref ${canary}`, receivedAt: Date.UTC(2026, 11, 1) });
  // The other invoices routes' ids, as the invoices kit seeds them: a credit note and a recurring template.
  const { id: creditNoteId } = await issueCreditNote(deps, ws, actor, invoiceId, { reason: `Reason ${canary}`, lines: [{ invoiceLineId: null, description: `Credit ${canary}`, quantity: 1000, unitPrice: 500, taxRate: 0, discount: 0 }] });
  const now = new Date(k.clock.now());
  const templateId = await createTemplate(deps, ws, actor, {
    name: `Retainer ${canary}`,
    currency: 'EUR',
    termsDays: 30,
    notes: '',
    terms: '',
    lines: [{ description: `Retainer {period} ${canary}`, quantity: 1000, unitPrice: 100_000, taxRate: 0, discount: 0 }],
    schedule: { anchorMonth: monthOf(now.getUTCFullYear(), now.getUTCMonth()), intervalMonths: 1, dayOfMonth: 1 },
    autoSend: false,
  });
  return { invoiceId, paymentId, creditNoteId, templateId, ...(await seedOnline(ctx, invoiceId)) };
}

test('every route x method x role with invoices and payments-stripe: A acting on B gets 404 and changes nothing', async () => {
  const report = await runIsolationKit({
    plugins: ['invoices', 'payments-stripe'],
    // A closed port: no request in the kit may reach any Stripe.
    overrides: { plugins: { settings: { 'payments-stripe': { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: 'http://127.0.0.1:9' } } } },
    seed,
    globalTables: {
      invoices_series: 'the firm’s number series: one counter per prefix, no client data',
      payments_stripe_events: 'Stripe event ids processed once (id, type, outcome): an event may name no invoice we know',
    },
    getWrites: { 'GET /w/:workspace/invoices/i/:invoiceId': 'the first view by someone of the client is recorded (status "viewed", audited)' },
  });
  const paths = report.routes.map((r) => `${r.method} ${r.path}`);
  for (const p of ['POST /hooks/payments-stripe/webhook', 'POST /w/:workspace/invoices/i/:invoiceId/pay', 'GET /w/:workspace/invoices/i/:invoiceId/checkout/:checkoutId', 'GET /w/:workspace/invoices/i/:invoiceId/checkout/:checkoutId/done', 'GET /w/:workspace/invoices/i/:invoiceId/checkout/:checkoutId/cancelled', 'GET /w/:workspace/invoices/payment-methods', 'POST /w/:workspace/invoices/payment-methods']) {
    assert.ok(paths.includes(p), `${p} enumerated`);
  }
  assert.equal(report.violations, []);
});

test.run();
