// Credit notes through their pages: staff credit some of an issued invoice's lines or an amount
// (errors beside the fields, nothing saved; never more than is left to credit), each with its own
// number series and a PDF stored encrypted whose SHA-256 is on the invoice page; what is owed goes
// down everywhere (the invoice, the list's totals, the home card) and the invoice is paid once
// nothing is left; the client reads the credit notes and downloads them; audited, with a sentence.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { creditLinesOf, creditNotesOf, creditPdfModel } from '../../../plugins/invoices/credit-notes.ts';
import { renderInvoicePdf } from '../../../plugins/invoices/pdf.ts';
import { findInvoiceRow, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { Tokens } from '../../../core/index.ts';
import { download } from '../files/helpers.ts';
import { mailsTo } from '../../identity/support.ts';
import { decode, invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices credit notes');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;
const count = async (action: string, id: string) => Number(((await w.app.kernel.db('audit_events').where({ action, subject_id: id }).count({ n: '*' }).first()) as { n: number | string }).n);

test.before(async () => {
  w = await invoicesWorld();
});
test.after(async () => {
  await w.app.close();
});

async function parseText(bytes: Uint8Array): Promise<string> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: 0 }).promise;
  const text: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) text.push((await (await doc.getPage(i)).getTextContent()).items.map((it) => ('str' in it ? it.str : '')).join(' '));
  await doc.destroy();
  return text.join(' ');
}

test('credit some lines, then an amount: own numbers, PDFs, what is owed goes down to paid', async () => {
  // 10 h x 100.00 + 1 x 500.00 at 20% = 1,800.00
  const { id } = await newDraft(w, [['Consulting hours', '10', '100.00', '20'], ['Workshop', '1', '500.00', '20']]);
  assert.is((await issue(w, id!)).status, 303);
  const url = `${base()}/i/${id}/credit-notes/new`;

  // Neither a client admin nor a member may open the form.
  assert.is((await w.as.admin.get(url)).status, 404);
  assert.is((await w.as.member.get(url)).status, 404);
  const form = await w.as.staff.get(url);
  assert.is(form.status, 200);
  assert.ok(form.text.includes('name="qty-1"') && form.text.includes('name="qty-2"'));
  assert.ok(form.text.includes('EUR 1,800.00'), 'what can be credited');

  // Errors beside the fields, nothing saved.
  const bad = await w.as.staff.postForm(url, { kind: 'lines', 'qty-1': '11', 'qty-2': '0.0001', reason: '' });
  assert.is(bad.status, 400);
  assert.ok(bad.text.includes('id="qty-1-error"'), 'more than the line');
  assert.ok(bad.text.includes('id="qty-2-error"'), 'more than 3 decimals');
  assert.ok(bad.text.includes('id="reason-error"'));
  const none = await w.as.staff.postForm(url, { kind: 'lines', reason: 'Nothing' });
  assert.is(none.status, 400);
  const badAmount = await w.as.staff.postForm(url, { kind: 'amount', description: '', amount: '-5', reason: 'x' });
  assert.is(badAmount.status, 400);
  assert.ok(badAmount.text.includes('id="amount-error"') && badAmount.text.includes('id="description-error"'));
  assert.is((await creditNotesOf(w.app.kernel.db, w.ws.id, id!)).length, 0, 'nothing saved');

  // 2 hours credited: 200.00 + 20% = 240.00.
  const first = await w.as.staff.postForm(url, { kind: 'lines', 'qty-1': '2', 'qty-2': '', reason: 'Two hours were not worked' });
  assert.is(first.status, 303, first.text.slice(0, 500));
  let inv = (await findInvoiceRow(w.app.kernel.db, w.ws.id, id!))!;
  assert.is(inv.credited_total, 24_000);
  assert.is(inv.status, 'issued');
  const [cn1] = await creditNotesOf(w.app.kernel.db, w.ws.id, id!);
  assert.is(cn1!.number, 'CN-2026-0001', 'its own series');
  assert.is(cn1!.total, 24_000);
  assert.match(cn1!.pdf_sha256, /^[0-9a-f]{64}$/);

  // The client reads it on the invoice page and downloads the PDF: the stored bytes.
  const page = decode((await w.as.admin.get(`${base()}/i/${id}`)).text);
  assert.ok(page.includes('CN-2026-0001'));
  assert.ok(page.includes('Two hours were not worked'));
  assert.ok(page.includes(cn1!.pdf_sha256), 'its fingerprint');
  assert.ok(page.includes('EUR 1,560.00'), 'to pay: 1,800.00 - 240.00');
  const pdf = await download(w.as.admin, `${base()}/i/${id}/credit-notes/${cn1!.id}/pdf`);
  assert.is(pdf.status, 200);
  assert.is(pdf.headers.get('content-type'), 'application/pdf');
  assert.match(pdf.headers.get('content-disposition')!, /filename="Credit note CN-2026-0001\.pdf"/);
  assert.is(createHash('sha256').update(pdf.body).digest('hex'), cn1!.pdf_sha256);
  const text = await parseText(pdf.body);
  assert.ok(text.includes('Credit note CN-2026-0001'), text);
  assert.ok(text.includes('Consulting hours'));
  assert.ok(text.includes('INV-2026-0001'), 'the invoice it credits');
  assert.ok(text.includes('EUR 240.00'));
  assert.ok(!text.includes('How to pay'));
  // Rendering it again from the stored rows gives the same bytes.
  const k = w.app.kernel;
  const deps = { branding: k.container.resolve(Tokens.Branding), settings: settingsSchema.parse({ firmAddress: '1 Quay Street, Bristol' }), logger: pino({ level: 'silent' }) } as unknown as InvoicesDeps;
  const again = await renderInvoicePdf(await creditPdfModel(deps, k.db, { name: w.ws.name }, inv, cn1!, await creditLinesOf(k.db, w.ws.id, cn1!.id)));
  assert.is(Buffer.compare(Buffer.from(again), pdf.body), 0);

  // The client was told, with the amount.
  const mails = await mailsTo(w.app, w.emails.admin);
  assert.ok(mails.some((m) => m.subject.includes('CN-2026-0001') && m.text.includes('EUR 240.00') && m.text.includes('EUR 1,560.00')), JSON.stringify(mails.map((m) => m.subject)));

  // The list's totals and the home card use what is owed.
  const list = decode((await w.as.admin.get(`${base()}/`)).text);
  assert.ok(list.includes('EUR 1,560.00'));
  const home = decode((await w.as.admin.get(`/w/${w.ws.slug}/`)).text);
  assert.ok(home.includes('EUR 1,560.00'));
  // Past its due date (the row's date, not the clock: sessions stay): the overdue totals and the
  // staff overview's overdue card say the reduced amount too.
  await w.app.kernel.db('invoices_invoices').where({ id }).update({ due_at: w.clock.now() - 1 });
  const overdue = decode((await w.as.admin.get(`${base()}/?status=overdue`)).text);
  assert.ok(/EUR 1,560\.00<\/td><td[^>]*>EUR 1,560\.00/.test(overdue.replace(/\s+</g, '<')), 'outstanding and overdue');
  const staff = decode((await w.as.staff.get('/staff/')).text);
  const card = /id="widget-invoices-overdue"[^]*?<\/section>/.exec(staff)?.[0] ?? '';
  assert.ok(card.includes('EUR 1,560.00'), card.slice(0, 600));

  // Line 1 has 8 hours left; more is refused beside the field.
  const tooMuch = await w.as.staff.postForm(url, { kind: 'lines', 'qty-1': '8.001', reason: 'Too much' });
  assert.is(tooMuch.status, 400);
  assert.ok(decode(tooMuch.text).includes('At most 8'));

  // A payment of the rest less 60.00, then an amount credit of 60.00 settles it: paid.
  await w.as.staff.get(`${base()}/i/${id}`);
  const over = await w.as.staff.postForm(`${base()}/i/${id}/payments`, { amount: '1560.01', method: 'bank_transfer', reference: 'x', received: '2026-12-07' });
  assert.is(over.status, 400, 'more than is owed after the credit note');
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/payments`, { amount: '1500.00', method: 'bank_transfer', reference: 'x', received: '2026-12-07' })).status, 303);
  const amountTooBig = await w.as.staff.postForm(url, { kind: 'amount', description: 'Goodwill', amount: '1560.01', taxRate: '0', reason: 'Too much' });
  assert.is(amountTooBig.status, 400);
  assert.ok(decode(amountTooBig.text).includes('more than is left to credit'));
  assert.is((await w.as.staff.postForm(url, { kind: 'amount', description: 'Goodwill discount', amount: '50.00', taxRate: '20', reason: 'Goodwill' })).status, 303);
  inv = (await findInvoiceRow(w.app.kernel.db, w.ws.id, id!))!;
  assert.is(inv.credited_total, 30_000);
  assert.is(inv.status, 'paid', 'nothing left to pay');
  assert.ok(inv.paid_at !== null);
  const notes = await creditNotesOf(w.app.kernel.db, w.ws.id, id!);
  assert.equal(notes.map((n) => n.number), ['CN-2026-0001', 'CN-2026-0002']);
  // No longer waiting on the client.
  assert.ok(!(await w.as.admin.get('/inbox')).text.includes(`/invoices/i/${id}`));

  // Audited on the invoice with a sentence; no voiding once credited.
  assert.is(await count('invoices.invoice.credit', id!), 2);
  const activity = decode((await w.as.admin.get(`/w/${w.ws.slug}/audit`)).text);
  assert.ok(activity.includes('issued credit note CN-2026-0001 on invoice'), 'the sentence');
});

test('an invoice with a credit note is not voided: what is left is credited instead', async () => {
  const { id } = await newDraft(w, [['Support', '1', '100.00', '0']]);
  await issue(w, id!);
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/credit-notes/new`, { kind: 'amount', description: 'Part', amount: '40.00', taxRate: '0', reason: 'Part' })).status, 303);
  const page = await w.as.staff.get(`${base()}/i/${id}`);
  assert.ok(!page.text.includes('Void invoice'), 'no void button');
  await w.as.staff.postForm(`${base()}/i/${id}/void`, { reason: 'x' });
  assert.is((await findInvoiceRow(w.app.kernel.db, w.ws.id, id!))!.status, 'issued', 'not voided');
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/credit-notes/new`, { kind: 'amount', description: 'Rest', amount: '60.00', taxRate: '0', reason: 'Cancelled' })).status, 303);
  const inv = (await findInvoiceRow(w.app.kernel.db, w.ws.id, id!))!;
  assert.is(inv.status, 'paid');
  assert.is(inv.credited_total, 10_000);
  assert.ok(!(await w.as.staff.get(`${base()}/i/${id}`)).text.includes('Issue a credit note'), 'nothing left to credit');
});

test('a draft or a void invoice cannot be credited; a member sees no credit note', async () => {
  const { id: draft } = await newDraft(w, [['Draft line', '1', '10.00', '0']]);
  assert.is((await w.as.staff.get(`${base()}/i/${draft}/credit-notes/new`)).status, 404);
  const { id } = await newDraft(w, [['Voided line', '1', '10.00', '0']]);
  await issue(w, id!);
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/void`, { reason: 'Wrong client' })).status, 303);
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/credit-notes/new`, { kind: 'amount', description: 'x', amount: '1', reason: 'x' })).status, 404);
  const notes = await w.app.kernel.db('invoices_credit_notes').select('id', 'invoice_id');
  for (const n of notes) {
    assert.is((await w.as.member.get(`${base()}/i/${n.invoice_id}/credit-notes/${n.id}/pdf`)).status, 404);
    assert.is((await w.as.viewer.get(`${base()}/i/${n.invoice_id}/credit-notes/${n.id}/pdf`)).status, 404);
  }
  assert.ok(notes.length >= 2);
});

test.run();
