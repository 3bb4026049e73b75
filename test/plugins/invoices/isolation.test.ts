// The isolation kit over every route with the invoices plugin: A's people acting on B's
// workspace, B's invoices or B's receipts get 404 and change nothing; B's canary (line
// descriptions, notes, payment references) never reaches A; the audit rule shows a client only
// events about invoices they may read (never a draft).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { transaction } from '../../../core/db/index.ts';
import { createDraft, issueInvoice, recordPayment, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
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
  return { invoiceId, paymentId, ...(await seedOnline(ctx, invoiceId)) };
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
