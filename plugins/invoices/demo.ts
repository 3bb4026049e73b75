// The invoices plugin's demo data (the `demo` hook, core/demo.ts): in Northwind, November's
// retainer issued by Sam (waiting on Ada to pay, so her home, /inbox and Invoices show it), a
// project invoice issued and partly paid by bank transfer, December's retainer as a draft, and the
// retainer as a recurring invoice from next month (drafts for review, so nothing is made now).
// Made through service.ts, as the pages do: numbers, PDFs, audit and notices included.
import { AtriumError, transaction, type DemoContext } from '../../core/index.ts';
import { createDraft, issueInvoice, recordPayment, type InvoicesDeps } from './service.ts';
import { createTemplate } from './recurring.ts';
import { monthOf } from './schedule.ts';

export async function seedInvoicesDemo(deps: InvoicesDeps, demo: DemoContext): Promise<void> {
  const ws = demo.workspaces.northwind;
  const sam = demo.people['sam.staff'];
  if (!ws || !sam) throw new AtriumError('ATR_NOT_FOUND', 'the demo workspaces and people are missing');
  const actor = { actorId: sam.id, ip: null, userAgent: null };
  const currency = deps.settings.currency;
  const rate = Math.round(deps.settings.defaultTaxRate * 100) || 2000;
  const draft = (description: string, lines: Array<[string, number, number]>) =>
    transaction(deps.db, (trx) =>
      createDraft(deps, trx, ws, actor, {
        currency,
        termsDays: 30,
        notes: description,
        terms: 'Payment within 30 days of the invoice date.',
        lines: lines.map(([d, q, p]) => ({ description: d, quantity: q, unitPrice: p, taxRate: rate, discount: 0 })),
      }),
    );
  const retainer = await draft('Monthly retainer, November 2026.', [['Managed IT retainer, November 2026', 1000, 250_000], ['On-site support (hours)', 3500, 9_500]]);
  await issueInvoice(deps, ws, actor, retainer);
  const project = await draft('Office network refresh, phase 1.', [['Network switches (24-port)', 2000, 38_900], ['Installation and configuration (hours)', 12_000, 9_500]]);
  await issueInvoice(deps, ws, actor, project);
  await recordPayment(deps, ws, actor, project, { amount: 50_000, method: 'bank_transfer', reference: 'NW-TRF-20261128', receivedAt: Date.UTC(2026, 10, 28) });
  await draft('Monthly retainer, December 2026.', [['Managed IT retainer, December 2026', 1000, 250_000]]);
  const now = new Date(deps.clock.now());
  await createTemplate(deps, ws, actor, {
    name: 'Managed IT retainer',
    currency,
    termsDays: 30,
    notes: 'Monthly retainer, {period}.',
    terms: 'Payment within 30 days of the invoice date.',
    lines: [{ description: 'Managed IT retainer, {period}', quantity: 1000, unitPrice: 250_000, taxRate: rate, discount: 0 }],
    schedule: { anchorMonth: monthOf(now.getUTCFullYear(), now.getUTCMonth()) + 1, intervalMonths: 1, dayOfMonth: 1 },
    autoSend: false,
  });
}
