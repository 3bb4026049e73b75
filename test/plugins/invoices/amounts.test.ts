// A client role without `read Invoice` never sees an amount: every GET route of the app (pages
// and htmx fragments), filled with this workspace's invoice and receipt, is read as a client
// member and a client viewer and must carry no amount, no number and no line; and no notice or
// mail reaches them (issue, credit note, reminder). The client admin, who may read invoices,
// sees them (the control).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { routeTable } from '../../../core/http/route-table.ts';
import { mailsTo } from '../../identity/support.ts';
import pino from 'pino';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { runReminders } from '../../../plugins/invoices/reminders.ts';
import type { InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices amounts');
let w: World;
let invoiceId = '';
let paymentId = '';
let creditNoteId = '';
let templateId = '';
const SECRETS = ['7,777.77', '7777.77', '9,333.32', '9,213.32', 'INV-2026-', 'RCT-2026-', 'CN-2026-', 'Secret consulting line', 'Secret retainer line'];

test.before(async () => {
  w = await invoicesWorld();
  const { id } = await newDraft(w, [['Secret consulting line', '1', '7777.77', '20']]);
  invoiceId = id!;
  assert.is((await issue(w, invoiceId)).status, 303);
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${invoiceId}`);
  const paid = await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${invoiceId}/payments`, { amount: '100.00', method: 'cash', reference: '', received: '2026-12-07' });
  paymentId = /receipts\/([0-9a-f-]{36})$/.exec(paid.location ?? '')![1]!;
  await newDraft(w, [['Secret consulting line', '1', '7777.77', '20']]);
  // A credit note (20.00), a recurring template, and an overdue reminder for the invoice.
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${invoiceId}/credit-notes/new`, { kind: 'amount', description: 'Secret consulting line credit', amount: '20.00', taxRate: '0', reason: 'Goodwill' })).status, 303);
  creditNoteId = String((await w.app.kernel.db('invoices_credit_notes').where({ invoice_id: invoiceId }).first('id')).id);
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/recurring/new`);
  const tpl = await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/recurring/new`, { name: 'Retainer', frequency: 'monthly', dayOfMonth: '1', startMonth: '2027-01', autoSend: 'no', currency: 'EUR', termsDays: '30', customDays: '', notes: '', terms: '', intent: 'save', 'line-0-description': 'Secret retainer line', 'line-0-quantity': '1', 'line-0-unitPrice': '7777.77', 'line-0-taxRate': '0', 'line-0-discount': '' });
  templateId = /recurring\/([0-9a-f-]{36})$/.exec(tpl.location ?? '')![1]!;
  await w.app.kernel.db('invoices_invoices').where({ id: invoiceId }).update({ issued_at: w.clock.now() - 40 * 86_400_000, due_at: w.clock.now() - 10 * 86_400_000 });
  const k = w.app.kernel;
  const deps: InvoicesDeps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: w.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
  assert.is((await runReminders(deps)).sent, 1);
});
test.after(async () => {
  await w.app.close();
});

function urls(): string[] {
  const skip = new Set(['/live', '/logout', '/healthz', '/readyz', '/setup', '/assets/theme/*path']);
  return routeTable(w.app.kernel.app)
    .filter((r) => r.method === 'GET' && !skip.has(r.path) && !r.path.includes(':token') && !r.path.startsWith('/l/'))
    .map((r) => r.path.replace(':workspace', w.ws.slug).replace(':invoiceId', invoiceId).replace(':paymentId', paymentId).replace(':creditNoteId', creditNoteId).replace(':templateId', templateId))
    .filter((p) => !/[:*]/.test(p));
}

test('a client member and a client viewer see no amount, number or line on any page or fragment', async () => {
  const list = urls();
  assert.ok(list.some((u) => u.includes('/invoices/i/')), 'the invoice routes are read too');
  assert.ok(list.some((u) => u.includes('/credit-notes/')) && list.some((u) => u.includes(`/recurring/${templateId}`)), 'credit notes and recurring pages too');
  for (const who of ['member', 'viewer'] as const) {
    for (const url of list) {
      for (const hx of [false, true]) {
        const res = await w.as[who].get(url, hx ? { 'HX-Request': 'true' } : {});
        for (const s of SECRETS) assert.ok(!res.text.includes(s), `${who} saw "${s}" on ${url}${hx ? ' (htmx)' : ''}`);
      }
    }
  }
});

test('no notice or mail about an invoice reaches them; the client admin gets one with the amount', async () => {
  for (const who of ['member', 'viewer'] as const) {
    const mails = await mailsTo(w.app, w.emails[who]);
    for (const m of mails) for (const s of SECRETS) assert.ok(!m.text.includes(s) && !m.subject.includes(s), `${who} was mailed "${s}"`);
    const notices = (await w.app.kernel.db('notifications').where({ user_id: w.users[who] }).select('*')) as Array<Record<string, unknown>>;
    for (const n of notices) for (const s of SECRETS) assert.ok(!JSON.stringify(n).includes(s), `${who} has a notice with "${s}"`);
  }
  const admin = await mailsTo(w.app, w.emails.admin);
  assert.ok(admin.some((m) => m.subject.includes('INV-2026-0001') && m.text.includes('EUR 9,333.32')), JSON.stringify(admin.map((m) => m.subject)));
  assert.ok(admin.some((m) => m.subject.includes('CN-2026-0001') && m.text.includes('EUR 20.00')), 'the credit note');
  assert.ok(admin.some((m) => m.subject.includes('is overdue') && m.text.includes('EUR 9,213.32')), 'the reminder, with what is left to pay');
  const home = await w.as.admin.get(`/w/${w.ws.slug}/`);
  assert.ok(home.text.includes('INV-2026-0001'), 'the client admin’s home card and waiting item');
  assert.ok(home.text.includes('EUR 9,213.32'), 'what is still to pay (less the payment and the credit note)');
});

test.run();
