// The draft editor's live totals and its PDF preview. As a line's quantity, price, tax or discount
// changes, htmx posts the form and the server answers each line's amount and the invoice's totals,
// computed with money.ts (the page does no arithmetic); without JavaScript the same address answers
// the whole editor. "Preview as PDF" renders the draft on the fly, marked "DRAFT — not issued", with
// no number, storing nothing; an issued invoice has no preview, and a client never reaches either.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download } from '../files/helpers.ts';
import { parsePdf } from './pdf-parse.ts';
import { editorFields, invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices editor');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;
const HX = { 'HX-Request': 'true', 'HX-Target': 'invoice-totals' };

test.before(async () => {
  w = await invoicesWorld();
});
test.after(async () => {
  await w.app.close();
});

/** POST a form as staff and get the raw bytes back (a PDF). */
async function postBytes(path: string, fields: Record<string, string>) {
  const c = w.as.staff;
  const token = await c.ensureCsrf();
  const res = await fetch(c.base + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    body: new URLSearchParams({ _csrf: token, ...fields }).toString(),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

test('live totals: the server answers each line amount and the totals as a fragment', async () => {
  const page = await w.as.staff.get(`${base()}/new`);
  assert.ok(page.text.includes(`hx-post="${base()}/new/totals"`), 'the form posts its values for totals');
  assert.ok(page.text.includes('id="invoice-totals"'));
  assert.ok(page.text.includes('id="line-0-amount"'));
  // 2 x 100.00 less 10% = 180.00 net, 20% tax 36.00; 1.5 x 33.33 = 49.995 -> 50.00, tax 10.00
  const res = await w.as.staff.postForm(`${base()}/new/totals`, editorFields([['Design', '2', '100.00', '20', '10'], ['Hours', '1.5', '33.33', '20']]), { headers: HX });
  assert.is(res.status, 200);
  assert.not.match(res.text, '<html', 'a fragment');
  assert.match(res.text, /<output id="line-0-amount" hx-swap-oob="true">EUR 180.00<\/output>/);
  assert.match(res.text, /<output id="line-1-amount" hx-swap-oob="true">EUR 50.00<\/output>/);
  assert.ok(res.text.includes('id="invoice-totals"'));
  assert.ok(res.text.includes('EUR 230.00'), 'subtotal');
  assert.ok(res.text.includes('EUR 46.00'), 'tax 20%');
  assert.ok(res.text.includes('EUR 276.00'), 'total');
  // A line that cannot be read yet is left out, without an error beside it (the person is typing).
  const typing = await w.as.staff.postForm(`${base()}/new/totals`, editorFields([['Design', '2', '100.', '20'], ['Hours', '1', '10.00', '0']]), { headers: HX });
  assert.is(typing.status, 200);
  assert.match(typing.text, /<output id="line-0-amount" hx-swap-oob="true">—<\/output>/);
  assert.ok(typing.text.includes('Lines with a problem are not counted yet'));
  assert.not.match(typing.text, 'field-error');
  // Three-decimal currency, tax inclusive of nothing: the rounding is money.ts's.
  const kwd = await w.as.staff.postForm(`${base()}/new/totals`, editorFields([['Audit', '1.5', '120.250', '5']], { currency: 'KWD' }), { headers: HX });
  assert.ok(kwd.text.includes('KWD 180.375'));
  assert.ok(kwd.text.includes('KWD 9.019'));
  // Nothing saved.
  assert.is(Number(((await w.app.kernel.db('invoices_invoices').count({ n: '*' }).first()) as { n: number }).n), 0);
});

test('live totals without JavaScript: the same address answers the whole editor', async () => {
  const res = await w.as.staff.postForm(`${base()}/new/totals`, editorFields([['Design', '2', '100.00', '20']]));
  assert.is(res.status, 200);
  assert.match(res.text, '<html');
  assert.ok(res.text.includes('value="Design"'));
  assert.ok(res.text.includes('EUR 240.00'));
  // And the editor's own "Recalculate totals" still works as before.
  const recalc = await w.as.staff.postForm(`${base()}/new`, editorFields([['Design', '2', '100.00', '20']], { intent: 'recalculate' }));
  assert.is(recalc.status, 200);
  assert.ok(recalc.text.includes('EUR 240.00'));
});

test('an existing draft: live totals use its own tax mode; an issued invoice has none', async () => {
  const { id } = await newDraft(w, [['Retainer', '1', '500.00', '20']]);
  const res = await w.as.staff.postForm(`${base()}/i/${id}/totals`, editorFields([['Retainer', '2', '500.00', '20']]), { headers: HX });
  assert.is(res.status, 200);
  assert.ok(res.text.includes('EUR 1,200.00'));
  assert.is(Number((await w.app.kernel.db('invoices_invoices').where({ id }).first()).total), 60000, 'nothing saved');
  const edit = await w.as.staff.get(`${base()}/i/${id}/edit`);
  assert.ok(edit.text.includes(`hx-post="${base()}/i/${id}/totals"`));
  assert.is((await issue(w, id!)).status, 303);
  assert.is((await w.as.staff.postForm(`${base()}/i/${id}/totals`, editorFields([['Retainer', '2', '500.00', '20']]), { headers: HX })).status, 404);
  // The client's people never reach the editor's addresses.
  for (const who of ['admin', 'member', 'viewer'] as const) {
    assert.is((await w.as[who].postForm(`${base()}/new/totals`, editorFields([['x', '1', '1', '0']]), { headers: HX })).status, 404, who);
  }
});

test('preview as PDF from the editor: marked as a draft, no number, nothing stored', async () => {
  const before = await w.app.kernel.db('storage_blobs').count({ n: '*' }).first();
  const drafts = Number(((await w.app.kernel.db('invoices_invoices').count({ n: '*' }).first()) as { n: number }).n);
  const res = await postBytes(`${base()}/new`, editorFields([['Network audit', '1.5', '120.00', '20']], { intent: 'preview', notes: 'Preview notes' }));
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/pdf');
  assert.match(res.headers.get('content-disposition')!, /^attachment; filename="Draft invoice \(preview, not issued\)\.pdf"/);
  assert.is(res.headers.get('cache-control'), 'no-store');
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  const pdf = await parsePdf(res.body);
  assert.ok(pdf.text.includes('DRAFT — not issued'), pdf.text);
  assert.ok(pdf.title.includes('DRAFT — not issued'), pdf.title);
  assert.ok(pdf.text.includes('Network audit'));
  assert.ok(pdf.text.includes('EUR 216.00'), 'the total, by money.ts');
  assert.ok(pdf.text.includes('Not issued yet'));
  assert.not.match(pdf.text, /INV-\d{4}-\d+/, 'no number');
  assert.not.match(pdf.text, 'Payment reference:');
  assert.is(Number(((await w.app.kernel.db('invoices_invoices').count({ n: '*' }).first()) as { n: number }).n), drafts, 'no draft saved');
  const after = await w.app.kernel.db('storage_blobs').count({ n: '*' }).first();
  assert.equal(after, before, 'nothing stored');
  // A form with a problem comes back with it beside the field, no PDF.
  const bad = await w.as.staff.postForm(`${base()}/new`, editorFields([['Audit', '1', '12.345', '20']], { intent: 'preview' }));
  assert.is(bad.status, 400);
  assert.ok(bad.text.includes('id="line-0-unitPrice-error"'));
});

test('preview of a saved draft from its page; none once issued, none for a client', async () => {
  const { id } = await newDraft(w, [['Hosting, January', '1', '90.00', '0']], { termsDays: '15' });
  const page = await w.as.staff.get(`${base()}/i/${id}`);
  assert.ok(page.text.includes(`href="${base()}/i/${id}/preview"`));
  const got = await download(w.as.staff, `${base()}/i/${id}/preview`);
  assert.is(got.status, 200);
  const pdf = await parsePdf(got.body);
  assert.ok(pdf.text.includes('DRAFT — not issued'));
  assert.ok(pdf.text.includes('Hosting, January'));
  assert.ok(pdf.text.includes('15 days after issue'));
  // The same draft previews to the same bytes (nothing depends on the moment of rendering).
  const again = await download(w.as.staff, `${base()}/i/${id}/preview`);
  assert.is(Buffer.compare(got.body, again.body), 0);
  for (const who of ['admin', 'member', 'viewer'] as const) assert.is((await download(w.as[who], `${base()}/i/${id}/preview`)).status, 404, who);
  assert.is((await issue(w, id!)).status, 303);
  assert.is((await download(w.as.staff, `${base()}/i/${id}/preview`)).status, 404, 'an issued invoice has its stored PDF, no preview');
  assert.not.ok((await w.as.staff.get(`${base()}/i/${id}`)).text.includes('/preview"'));
});

test.run();
