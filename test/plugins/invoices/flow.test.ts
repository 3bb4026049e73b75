// The life of an invoice through its pages: a draft made in the editor (rows added and removed on
// the server, errors beside fields with nothing saved), issued with a number and a PDF, viewed by
// the client (recorded once), paid in part and in full with receipts, a refund; void with a reason;
// every transition audited with an activity sentence; an issued invoice is never edited.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download } from '../files/helpers.ts';
import { decode, editorFields, invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices flow');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;

test.before(async () => {
  w = await invoicesWorld();
});
test.after(async () => {
  await w.app.close();
});

test('the editor adds and removes rows on the server and saves nothing on an error', async () => {
  const page = await w.as.staff.get(`${base()}/new`);
  assert.is(page.status, 200);
  assert.ok(page.text.includes('name="line-0-description"'));
  const added = await w.as.staff.postForm(`${base()}/new`, editorFields([['Design', '2', '100.00', '20']], { intent: 'add' }));
  assert.is(added.status, 200);
  assert.ok(added.text.includes('name="line-1-description"'), 'a second row');
  assert.ok(added.text.includes('EUR 240.00'), 'totals recomputed on the server');
  const removed = await w.as.staff.postForm(`${base()}/new`, editorFields([['Design', '2', '100.00', '20'], ['Hosting', '1', '10.00', '20']], { intent: 'remove-0' }));
  assert.ok(!removed.text.includes('value="Design"'));
  assert.ok(removed.text.includes('value="Hosting"'));
  const before = await w.app.kernel.db('invoices_invoices').count({ n: '*' }).first();
  const bad = await w.as.staff.postForm(`${base()}/new`, editorFields([['Design', '1.2345', '100.001', '120'], ['', '1', '5', '0']]));
  assert.is(bad.status, 400);
  assert.ok(bad.text.includes('id="line-0-quantity-error"'), 'quantity error beside its field');
  assert.ok(bad.text.includes('id="line-0-unitPrice-error"'));
  assert.ok(bad.text.includes('id="line-0-taxRate-error"'));
  assert.ok(bad.text.includes('id="line-1-description-error"'));
  const jpy = await w.as.staff.postForm(`${base()}/new`, editorFields([['Design', '1', '100.50', '10']], { currency: 'JPY' }));
  assert.is(jpy.status, 400);
  assert.ok(jpy.text.includes('JPY has no decimals'));
  const ctl = await w.as.staff.postForm(`${base()}/new`, editorFields([['Evil\u202Eftp.exe', '1', '1', '0']]));
  assert.is(ctl.status, 400, 'a bidi override in a description is refused');
  const after = await w.app.kernel.db('invoices_invoices').count({ n: '*' }).first();
  assert.equal(after, before, 'nothing saved');
});

test('draft -> issued -> viewed -> partly paid -> paid, refund, with numbers, receipts and audit', async () => {
  const { res, id } = await newDraft(w, [['Retainer, December', '1', '1000.00', '20'], ['Support hours', '2.5', '80.00', '20', '10']], { notes: 'Thank you.', termsDays: '15' });
  assert.is(res.status, 303, res.text.slice(0, 400));
  assert.ok(id);
  // A client never sees a draft: not in the list, and its page is 404.
  assert.is((await w.as.admin.get(`${base()}/i/${id}`)).status, 404);
  assert.ok(!(await w.as.admin.get(`${base()}/`)).text.includes(id!));
  // Edit it: a line changes, totals follow.
  const edit = await w.as.staff.get(`${base()}/i/${id}/edit`);
  assert.is(edit.status, 200);
  assert.ok(edit.text.includes('value="2.5"'));
  const saved = await w.as.staff.postForm(`${base()}/i/${id}/edit`, editorFields([['Retainer, December', '1', '1000.00', '20'], ['Support hours', '2.5', '80.00', '20', '10']], { notes: 'Thank you.', termsDays: '15' }));
  assert.is(saved.status, 303);
  const row = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  // 1000 + 2.5 x 80 x 0.9 = 1180.00 net, 236.00 tax
  assert.is(Number(row.subtotal), 118000);
  assert.is(Number(row.tax_total), 23600);
  assert.is(Number(row.total), 141600);

  const issued = await issue(w, id!);
  assert.is(issued.status, 303);
  const inv = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(inv.status, 'issued');
  assert.is(inv.number, 'INV-2026-0001');
  assert.is(Number(inv.due_at), Number(inv.issued_at) + 15 * 86_400_000);
  assert.match(String(inv.pdf_sha256), /^[0-9a-f]{64}$/);
  assert.ok(String(inv.payment_details).includes('IBAN'));

  // Never edited again.
  const late = await w.as.staff.postForm(`${base()}/i/${id}/edit`, editorFields([['Changed', '1', '1.00', '0']]));
  assert.is(late.status, 303);
  assert.is(Number((await w.app.kernel.db('invoices_invoices').where({ id }).first()).total), 141600);
  assert.is((await issue(w, id!)).status, 303);
  assert.is((await w.app.kernel.db('invoices_invoices').where({ id }).first()).number, 'INV-2026-0001', 'issuing twice takes no second number');

  // The staff view is not the client's first view.
  await w.as.staff.get(`${base()}/i/${id}`);
  assert.is((await w.app.kernel.db('invoices_invoices').where({ id }).first()).viewed_at, null);
  const seen = await w.as.admin.get(`${base()}/i/${id}`);
  assert.is(seen.status, 200);
  assert.ok(seen.text.includes('INV-2026-0001'));
  assert.ok(seen.text.includes('EUR 1,416.00'));
  assert.ok(seen.text.includes(inv.pdf_sha256), 'the PDF fingerprint on the page');
  const viewed = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(viewed.status, 'viewed');
  await w.as.admin.get(`${base()}/i/${id}`);
  assert.is(await w.app.kernel.db('audit_events').where({ action: 'invoices.invoice.view', subject_id: id }).count({ n: '*' }).first().then((r) => Number((r as { n: number | string }).n)), 1, 'the first view only');

  // The PDF download: the stored bytes, safe headers.
  const pdf = await download(w.as.admin, `${base()}/i/${id}/pdf`);
  assert.is(pdf.status, 200);
  assert.is(pdf.headers.get('content-type'), 'application/pdf');
  assert.match(pdf.headers.get('content-disposition')!, /^attachment; filename="Invoice INV-2026-0001\.pdf"; filename\*=UTF-8''Invoice%20INV-2026-0001\.pdf$/);
  assert.is(pdf.headers.get('x-content-type-options'), 'nosniff');
  const { createHash } = await import('node:crypto');
  assert.is(createHash('sha256').update(pdf.body).digest('hex'), inv.pdf_sha256);

  // Payments: partial, too much, the rest, a refund.
  const pay = (fields: Record<string, string>) => w.as.staff.postForm(`${base()}/i/${id}/payments`, { method: 'bank_transfer', reference: 'TRF-1', received: '2026-12-08', ...fields });
  const part = await pay({ amount: '416.00' });
  assert.is(part.status, 303);
  assert.match(part.location!, /\/receipts\/[0-9a-f-]{36}$/);
  const receipt = await w.as.admin.get(part.location!);
  assert.is(receipt.status, 200);
  assert.ok(receipt.text.includes('RCT-2026-0001'));
  assert.ok(receipt.text.includes('EUR 1,000.00'), 'what is still to pay');
  assert.is((await w.app.kernel.db('invoices_invoices').where({ id }).first()).status, 'partially_paid');
  const over = await pay({ amount: '1000.01' });
  assert.is(over.status, 400);
  assert.ok(decode(over.text).includes('more than is owed'));
  const badAmount = await pay({ amount: '10.005' });
  assert.is(badAmount.status, 400);
  assert.ok(badAmount.text.includes('id="amount-error"'));
  assert.is((await pay({ amount: '1,000.00', method: 'cheque', reference: '000123' })).status, 303);
  const paid = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(paid.status, 'paid');
  assert.is(Number(paid.paid_total), 141600);
  assert.is((await pay({ amount: '-100.00', method: 'cash', reference: '' })).status, 303);
  assert.is((await w.app.kernel.db('invoices_invoices').where({ id }).first()).status, 'partially_paid');
  assert.is((await pay({ amount: '-2000.00' })).status, 400, 'a refund of more than was paid');

  // Audited, with sentences on the activity page.
  const actions = (await w.app.kernel.db('audit_events').where({ subject_id: id }).orderBy('seq').pluck('action')) as string[];
  assert.equal([...new Set(actions)], ['invoices.invoice.create', 'invoices.invoice.update', 'invoices.invoice.issue', 'invoices.invoice.view', 'invoices.invoice.pay', 'invoices.invoice.refund']);
  const activity = decode((await w.as.admin.get(`/w/${w.ws.slug}/audit`)).text);
  assert.ok(activity.includes('issued invoice'), 'sentences');
  assert.ok(activity.includes('INV-2026-0001'));
});

test('void: a reason is required, the client reads it; a paid invoice cannot be voided', async () => {
  const { id } = await newDraft(w, [['Workshop', '1', '500.00', '0']]);
  assert.is((await issue(w, id!)).status, 303);
  await w.as.staff.get(`${base()}/i/${id}`);
  const noReason = await w.as.staff.postForm(`${base()}/i/${id}/void`, { reason: '' });
  assert.is(noReason.status, 400);
  assert.ok(noReason.text.includes('id="void-reason-error"'));
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/void`, { reason: 'Issued to the wrong client' })).status, 303);
  const row = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(row.status, 'void');
  const seen = await w.as.admin.get(`${base()}/i/${id}`);
  assert.ok(seen.text.includes('Issued to the wrong client'));
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/payments`, { amount: '1', method: 'cash', reference: '', received: '2026-12-08' })).status, 400, 'refused beside the amount');
  assert.is(Number((await w.app.kernel.db('invoices_invoices').where({ id }).first()).paid_total), 0);
  assert.is(await w.app.kernel.db('audit_events').where({ action: 'invoices.invoice.void', subject_id: id }).count({ n: '*' }).first().then((r) => Number((r as { n: number | string }).n)), 1);
});

test('lists: staff filter by status with drafts; the client sees outstanding and overdue totals', async () => {
  await newDraft(w, [['Next month', '1', '10.00', '0']]);
  const drafts = await w.as.staff.get(`${base()}/?status=draft`);
  assert.is(drafts.status, 200);
  assert.ok(drafts.text.includes('Draft invoice'));
  const mine = await w.as.admin.get(`${base()}/`);
  assert.ok(!mine.text.includes('Draft invoice'));
  assert.ok(mine.text.includes('To be paid'));
  assert.ok(mine.text.includes('EUR 100.00'), 'outstanding after the refund');
  assert.ok(mine.text.includes('Nothing overdue'));
  // Past its due date (moving the clock would end the sessions).
  await w.app.kernel.db('invoices_invoices').where({ number: 'INV-2026-0001' }).update({ due_at: w.clock.now() - 1 });
  const later = await w.as.admin.get(`${base()}/?status=overdue`);
  assert.ok(later.text.includes('INV-2026-0001'));
  assert.ok(later.text.includes('Overdue'));
  assert.ok(!later.text.includes('Nothing overdue'));
});

test('menu: "Invoices" only for those who may read them', async () => {
  const href = `href="${base()}"`;
  assert.ok((await w.as.admin.get(`/w/${w.ws.slug}/`)).text.includes(href));
  assert.ok((await w.as.staff.get(`/w/${w.ws.slug}/`)).text.includes(href));
  assert.ok(!(await w.as.member.get(`/w/${w.ws.slug}/`)).text.includes(href));
  assert.is((await w.as.member.get(`${base()}/`)).status, 404);
  assert.is((await w.as.viewer.get(`${base()}/`)).status, 404);
});

test.run();
