// The isolation kit over every route with the invoices plugin: A's people acting on B's
// workspace, B's invoices, receipts, credit notes or recurring templates get 404 and change nothing; B's canary (line
// descriptions, notes, payment references) never reaches A; the audit rule shows a client only
// events about invoices they may read (never a draft).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { transaction } from '../../../core/db/index.ts';
import { createDraft, issueInvoice, recordPayment, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { issueCreditNote } from '../../../plugins/invoices/credit-notes.ts';
import { createTemplate, runPeriod } from '../../../plugins/invoices/recurring.ts';
import { monthOf } from '../../../plugins/invoices/schedule.ts';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { seedOnline } from './online-seed.ts';

const test = suite('invoices isolation');

async function seed(ctx: SeedContext) {
  const { kernel: k, workspace, canary, users } = ctx;
  const deps: InvoicesDeps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: k.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({ paymentDetails: `IBAN ${canary}` }) };
  const ws = { id: workspace.id, slug: workspace.slug, name: workspace.name };
  const actor = { actorId: users.staff };
  const make = (what: string) =>
    transaction(k.db, (trx) => createDraft(deps, trx, ws, actor, { currency: 'EUR', termsDays: 30, notes: `Notes ${canary}`, terms: `Terms ${canary}`, lines: [{ description: `${what} ${canary}`, quantity: 1500, unitPrice: 12_345, taxRate: 2000, discount: 0 }] }));
  const invoiceId = await make('Issued work');
  await issueInvoice(deps, ws, actor, invoiceId);
  const { paymentId } = await recordPayment(deps, ws, actor, invoiceId, { amount: 1000, method: 'bank_transfer', reference: `Ref ${canary}`, receivedAt: Date.UTC(2026, 11, 1) });
  await make('Draft work'); // a draft: staff only
  // A credit note on the issued invoice, and a recurring template that made this month's draft.
  const { id: creditNoteId } = await issueCreditNote(deps, ws, actor, invoiceId, { reason: `Reason ${canary}`, lines: [{ invoiceLineId: null, description: `Credit ${canary}`, quantity: 1000, unitPrice: 500, taxRate: 0, discount: 0 }] });
  const now = new Date(k.clock.now());
  const templateId = await createTemplate(deps, ws, actor, {
    name: `Retainer ${canary}`,
    currency: 'EUR',
    termsDays: 30,
    notes: `Template notes ${canary}`,
    terms: '',
    lines: [{ description: `Retainer {period} ${canary}`, quantity: 1000, unitPrice: 100_000, taxRate: 0, discount: 0 }],
    schedule: { anchorMonth: monthOf(now.getUTCFullYear(), now.getUTCMonth()), intervalMonths: 1, dayOfMonth: 1 },
    autoSend: false,
  });
  await k.db('invoices_templates').where({ id: templateId }).update({ next_index: 0, next_at: 0 });
  await runPeriod(deps, ws.id, templateId, k.clock.now());
  return { invoiceId, paymentId, creditNoteId, templateId, ...(await seedOnline(ctx, invoiceId)) };
}

test('every route x method x role with invoices: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['invoices'],
    seed,
    globalTables: { invoices_series: 'the firm’s number series: one counter per prefix, no client data' },
    getWrites: { 'GET /w/:workspace/invoices/i/:invoiceId': 'the first view by someone of the client is recorded (status "viewed", audited)' },
  });
  const mine = report.routes.filter((r) => r.path.includes('/invoices'));
  assert.ok(mine.length >= 10, `${mine.length} invoices routes enumerated`);
  assert.equal(report.violations, []);
});

test.run();
