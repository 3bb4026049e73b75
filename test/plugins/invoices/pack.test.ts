// The CFO's period pack: a fixture with invoices before, in and after November 2026 (two
// currencies), payments, a refund, a void and credit notes (one before November that credits an
// invoice in full, two in it: part of one invoice, all of another); a file delivered and
// downloaded and an approval decided in November. The client's admin downloads November's pack
// from the list page's link; the test opens the zip and checks its parts: names, the invoice and
// credit note PDFs exactly as stored, the receipts, the statement's balances (CSV and PDF), the
// proof-of-service rows, formula-safe CSV; the download is audited; a client role without
// `read Invoice` and another workspace's people get 404, and another workspace's own pack holds
// none of this one's credit notes; a bad period is refused beside its field.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import yauzl from 'yauzl';
import pino from 'pino';
import { transaction } from '../../../core/db/index.ts';
import { newId } from '../../../core/ids.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { HttpClient } from '../../helpers/http.ts';
import { issueCreditNote } from '../../../plugins/invoices/credit-notes.ts';
import { createDraft, findInvoiceRow, issueInvoice, recordPayment, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { download, upload } from '../files/helpers.ts';
import { invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices pack');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;
const at = (iso: string) => w.clock.set(Date.parse(iso));
const ids: Record<string, string> = {};
const CANARY = 'CANARY-BRAVO-91c2';
/** A client admin of the other workspace, signed in. */
let bravoAdmin: HttpClient;

async function issued(name: string, when: string, lines: Array<[string, string, string, string]>, extra: Record<string, string> = {}) {
  at(when);
  const { id } = await newDraft(w, lines, extra);
  assert.ok(id, `draft ${name}`);
  assert.is((await issue(w, id!)).status, 303);
  ids[name] = id!;
  return id!;
}

async function pay(name: string, when: string, amount: string, received: string, reference = '') {
  at(when);
  await w.as.staff.get(`${base()}/i/${ids[name]}`);
  const r = await w.as.staff.postForm(`${base()}/i/${ids[name]}/payments`, { amount, method: 'bank_transfer', reference, received });
  assert.is(r.status, 303, r.text.slice(0, 300));
}

async function credit(name: string, when: string, fields: Record<string, string>) {
  at(when);
  const url = `${base()}/i/${ids[name]}/credit-notes/new`;
  await w.as.staff.get(url);
  const r = await w.as.staff.postForm(url, fields);
  assert.is(r.status, 303, r.text.slice(0, 300));
}

test.before(async () => {
  w = await invoicesWorld({ plugins: ['files', 'approvals', 'invoices'] });
  // December 2025 (its own year's series, so 2026's numbers stay as they are): G (EUR 30.00),
  // credited in full two days later (CN-2025-0001). It nets to zero in November's opening balance.
  await issued('G', '2025-12-10T10:00:00Z', [['Setup fee', '1', '30.00', '0']]);
  await credit('G', '2025-12-12T10:00:00Z', { kind: 'amount', description: 'Setup fee waived', amount: '30.00', taxRate: '0', reason: 'Waived as agreed' });
  // Before November: A (EUR 120.00), 20.00 paid in October.
  await issued('A', '2026-10-15T10:00:00Z', [['October retainer', '1', '100.00', '20']]);
  await pay('A', '2026-10-20T10:00:00Z', '20.00', '2026-10-20');
  // November: B (EUR 1,200.00), C (GBP 50.00), D (EUR 10.00, voided the next day).
  await issued('B', '2026-11-03T10:00:00Z', [['November retainer', '1', '1000.00', '20']]);
  await issued('C', '2026-11-05T10:00:00Z', [['Licences', '2', '25.00', '0']], { currency: 'GBP' });
  await pay('B', '2026-11-10T10:00:00Z', '500.00', '2026-11-10', '=HYPERLINK("http://evil.example")');
  await pay('B', '2026-11-12T10:00:00Z', '-100.00', '2026-11-12');
  await pay('A', '2026-11-15T10:00:00Z', '100.00', '2026-11-15');
  // CN-2026-0001: 100.00 + 20% off B, issued later on the day A's payment was received (it is
  // listed before the payment all the same: credits before payments on one day).
  await credit('B', '2026-11-15T16:00:00Z', { kind: 'amount', description: 'Discount', amount: '100.00', taxRate: '20', reason: 'Late delivery' });
  await issued('D', '2026-11-20T10:00:00Z', [['Mistake', '1', '10.00', '0']]);
  at('2026-11-21T10:00:00Z');
  await w.as.staff.get(`${base()}/i/${ids.D}`);
  assert.is((await w.as.staff.postForm(`${base()}/i/${ids.D}/void`, { reason: 'Issued twice' })).status, 303);
  // After November: E, and a payment received on 1 December.
  // CN-2026-0002: all of C (both licences), which leaves GBP at zero.
  await credit('C', '2026-11-25T10:00:00Z', { kind: 'lines', 'qty-1': '2', reason: 'Licences not used' });
  await issued('E', '2026-12-02T10:00:00Z', [['December retainer', '1', '1000.00', '20']]);
  await pay('B', '2026-12-02T11:00:00Z', '50.00', '2026-12-01');

  // Evidence: a shared file uploaded and delivered on 6 Nov, downloaded by the client's admin on
  // 7 Nov; an internal file (never in the pack); an approval decided on 8 Nov.
  at('2026-11-06T09:00:00Z');
  await w.as.staff.get(`/w/${w.ws.slug}/files/`);
  assert.is((await upload(w.as.staff, `/w/${w.ws.slug}/files/upload`, [{ name: 'Design system v1.txt', data: 'the deliverable' }])).status, 200);
  const file = (await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Design system v1.txt' }).first('id')) as { id: string };
  await w.as.staff.get(`/w/${w.ws.slug}/files/f/${file.id}`);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/files/f/${file.id}/deliver`, {})).status, 303);
  await w.app.kernel.db('files_files').insert({ id: newId(), workspace_id: w.ws.id, folder_id: null, name: 'Internal margin notes.txt', name_key: 'internal margin notes.txt', area: 'internal', current_version_id: null, size: 1, content_type: 'text/plain', delivered_at: Date.parse('2026-11-06T10:00:00Z'), created_at: 1, updated_at: 1 });
  at('2026-11-07T15:30:00Z');
  assert.is((await download(w.as.admin, `/w/${w.ws.slug}/files/f/${file.id}/download`)).status, 200);
  await transaction(w.app.kernel.db, async (trx) => {
    const request = newId();
    await trx('approvals_requests').insert({ id: request, workspace_id: w.ws.id, subject_type: 'files.version', subject_id: file.id, subject_title: 'Design system v1.txt', version_id: newId(), version_number: 1, sha256: 'a'.repeat(64), client_visible: true, title: 'Sign off the design system', message: '', sequence: 'parallel', current_position: null, due_at: null, auto_approve: false, status: 'approved', round: 1, round_opened_at: 1, created_by: w.users.staff, created_at: 1, updated_at: 1, decided_at: 2, turnaround_ms: 1 });
    await trx('approvals_decisions').insert({ id: newId(), workspace_id: w.ws.id, request_id: request, round: 1, approver_id: w.users.admin, decided_by: w.users.admin, decision: 'approved', comment: '', version_id: newId(), version_number: 1, sha256: 'a'.repeat(64), via: 'portal', ip: null, user_agent: null, created_at: Date.parse('2026-11-08T12:00:00Z') });
  });
  // Another workspace's November: an invoice, a payment and a delivery carrying the canary.
  const k = w.app.kernel;
  const deps: InvoicesDeps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: w.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({ numberPrefix: 'BRAVO-{YYYY}-', receiptPrefix: 'BRCT-{YYYY}-', creditNotePrefix: 'BRCN-{YYYY}-' }) };
  const bravo = await transaction(k.db, (trx) => createWorkspace(k, trx, { name: `Bravo ${CANARY}`, slug: 'bravo' }, { actorId: null, via: 'cli' }));
  const bws = { id: bravo.id, slug: 'bravo', name: `Bravo ${CANARY}` };
  at('2026-11-09T10:00:00Z');
  const bInvoice = await transaction(k.db, (trx) => createDraft(deps, trx, bws, { actorId: w.users.staff }, { currency: 'EUR', termsDays: 30, notes: CANARY, terms: '', lines: [{ description: `Work ${CANARY}`, quantity: 1000, unitPrice: 99_900, taxRate: 0, discount: 0 }] }));
  await issueInvoice(deps, bws, { actorId: w.users.staff }, bInvoice);
  await recordPayment(deps, bws, { actorId: w.users.staff }, bInvoice, { amount: 1000, method: 'cash', reference: CANARY, receivedAt: Date.parse('2026-11-09T00:00:00Z') });
  at('2026-11-16T10:00:00Z');
  await issueCreditNote(deps, bws, { actorId: w.users.staff }, bInvoice, { reason: `Goodwill ${CANARY}`, lines: [{ invoiceLineId: null, description: `Credit ${CANARY}`, quantity: 1000, unitPrice: 5_000, taxRate: 0, discount: 0 }] });
  // Bravo's client admin, who may read Bravo's invoices and nothing of Acme's.
  const password = 'bravo-client-password-123';
  await transaction(k.db, async (trx) => {
    const u = await createUser(k, trx, { email: 'admin@bravo.example', name: 'Bravo Admin', passwordHash: await k.passwords.hash(password), firmRole: null }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: bravo.id, userId: u.id, role: 'client_admin' }, { actorId: null, via: 'cli' });
  });
  await k.db('files_files').insert({ id: newId(), workspace_id: bravo.id, folder_id: null, name: `Bravo ${CANARY}.txt`, name_key: 'bravo.txt', area: 'shared', current_version_id: null, size: 1, content_type: 'text/plain', delivered_at: Date.parse('2026-11-09T10:00:00Z'), created_at: 1, updated_at: 1 });
  at('2026-12-07T09:00:00Z');
  // Signed in at the tests' time, so the session is fresh when they run.
  bravoAdmin = w.app.client();
  assert.is((await bravoAdmin.login('admin@bravo.example', password)).status, 303);
  await bravoAdmin.get('/w/bravo/');
});
test.after(async () => {
  await w.app.close();
});

async function unzip(buf: Buffer): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(buf, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z!))));
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      zip.openReadStream(e, (err, s) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        s!.on('data', (c: Buffer) => chunks.push(c));
        s!.on('end', () => {
          out.set(e.fileName, Buffer.concat(chunks));
          zip.readEntry();
        });
        s!.on('error', reject);
      });
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return out;
}

async function pdfText(bytes: Buffer): Promise<string> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: 0 }).promise;
  const text: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) text.push((await (await doc.getPage(i)).getTextContent()).items.map((it) => ('str' in it ? it.str : '')).join(' '));
  await doc.destroy();
  return text.join('\n');
}

/** A CSV's rows as cells (quoted cells unquoted). */
function csv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.replace(/^\ufeff/, '').split('\r\n').filter(Boolean)) {
    const cells: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') {
        cells.push(cur);
        cur = '';
      } else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  return rows;
}

let parts: Map<string, Buffer>;

test('the list page links to the pack form; the form offers presets in the firm’s zone', async () => {
  const list = await w.as.admin.get(`${base()}/`);
  assert.ok(list.text.includes(`href="${base()}/pack"`), 'a link from the invoices list');
  const form = await w.as.admin.get(`${base()}/pack`);
  assert.is(form.status, 200);
  assert.ok(form.text.includes('Download a period pack'));
  assert.ok(form.text.includes('value="2026-11-01"') && form.text.includes('value="2026-11-30"'), 'last month by default');
  assert.ok(form.text.includes('Last month (November 2026)'));
  assert.ok(form.text.includes('UTC'));
});

test('a bad period is refused beside its field, and nothing is recorded', async () => {
  const before = await w.app.kernel.db('audit_events').where({ action: 'invoices.pack.download' }).count({ n: '*' }).first();
  const bad = await w.as.admin.get(`${base()}/pack.zip?from=2026-11-30&to=2026-11-01`);
  assert.is(bad.status, 400);
  assert.ok(bad.text.includes('id="to-error"'));
  assert.ok(bad.text.includes('The last day must be on or after the first'));
  const missing = await w.as.admin.get(`${base()}/pack.zip?from=2026-02-30&to=`);
  assert.is(missing.status, 400);
  assert.ok(missing.text.includes('id="from-error"') && missing.text.includes('id="to-error"'));
  assert.equal(await w.app.kernel.db('audit_events').where({ action: 'invoices.pack.download' }).count({ n: '*' }).first(), before);
});

test('the client admin downloads November’s pack: the parts are there, named by number', async () => {
  const res = await download(w.as.admin, `${base()}/pack.zip?from=2026-11-01&to=2026-11-30`);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/zip');
  assert.ok((res.headers.get('content-disposition') ?? '').includes('2026-11-01 to 2026-11-30.zip'));
  assert.is(res.headers.get('cache-control'), 'no-store');
  parts = await unzip(res.body);
  assert.equal([...parts.keys()].sort(), [
    'credit-notes/CN-2026-0001.pdf',
    'credit-notes/CN-2026-0002.pdf',
    'invoices/INV-2026-0002.pdf',
    'invoices/INV-2026-0003.pdf',
    'invoices/INV-2026-0004 (void).pdf',
    'proof-of-service.csv',
    'proof-of-service.pdf',
    'receipts/RCT-2026-0002.pdf',
    'receipts/RCT-2026-0003.pdf',
    'receipts/RCT-2026-0004.pdf',
    'statement.csv',
    'statement.pdf',
  ]);
  // Written in PACK_PARTS order: the credit notes right after the invoices, before the receipts.
  const order = [...parts.keys()].map((n) => n.split('/')[0]);
  assert.equal(order.slice(0, 7), ['invoices', 'invoices', 'invoices', 'credit-notes', 'credit-notes', 'receipts', 'receipts']);
  // Nothing of another workspace in any part.
  for (const [name, bytes] of parts) {
    const text = name.endsWith('.pdf') ? await pdfText(bytes) : bytes.toString('utf8');
    assert.not.ok(text.includes(CANARY) || text.includes('BRAVO-') || text.includes('BRCT-') || text.includes('BRCN-'), `${name} shows another workspace's data`);
  }
  // Audited: who downloaded which period.
  const ev = await w.app.kernel.db('audit_events').where({ action: 'invoices.pack.download' }).orderBy('seq', 'desc').first();
  assert.is(ev.actor_id, w.users.admin);
  assert.is(ev.workspace_id, w.ws.id);
  assert.ok(String(ev.detail).includes('2026-11-01') && String(ev.detail).includes('2026-11-30'));
  // On the activity page of whoever may read invoices, in a sentence; not for the others.
  const activity = await w.as.admin.get(`/w/${w.ws.slug}/audit`);
  assert.is(activity.status, 200);
  assert.ok(activity.text.includes('downloaded the invoices pack for 2026-11-01 to 2026-11-30'), activity.text.match(/[^>]{0,200}pack[^<]{0,200}/g)?.join(' | ') ?? activity.text.slice(-3000));
  const member = await w.as.member.get(`/w/${w.ws.slug}/audit`);
  assert.not.ok(member.text.includes('invoices pack'), 'a member who may not read invoices does not see it');
});

test('the invoice PDFs are the stored ones; the receipts parse with their numbers and amounts', async () => {
  for (const [name, id] of [['INV-2026-0002', ids.B], ['INV-2026-0003', ids.C]] as const) {
    const row = await w.app.kernel.db('invoices_invoices').where({ id }).first('number', 'pdf_sha256');
    assert.is(row.number, name);
    assert.is(createHash('sha256').update(parts.get(`invoices/${name}.pdf`)!).digest('hex'), row.pdf_sha256);
  }
  const b = await pdfText(parts.get('invoices/INV-2026-0002.pdf')!);
  assert.ok(b.includes('Invoice INV-2026-0002') && b.includes('EUR 1,200.00'), b);
  const paid = await pdfText(parts.get('receipts/RCT-2026-0002.pdf')!);
  assert.ok(paid.includes('Receipt RCT-2026-0002'), paid);
  assert.ok(paid.includes('EUR 500.00') && paid.includes('INV-2026-0002') && paid.includes('2026-11-10'), paid);
  const refund = await pdfText(parts.get('receipts/RCT-2026-0003.pdf')!);
  assert.ok(refund.includes('Refund receipt RCT-2026-0003') && refund.includes('EUR 100.00') && refund.includes('Amount refunded'), refund);
});

test('the credit note PDFs are the stored ones, for the period only', async () => {
  const db = w.app.kernel.db;
  const stored = (await db('invoices_credit_notes').where({ workspace_id: w.ws.id }).orderBy('number').select('number', 'invoice_id', 'pdf_sha256', 'pdf_size')) as Array<{ number: string; invoice_id: string; pdf_sha256: string; pdf_size: number }>;
  assert.equal(stored.map((c) => [c.number, c.invoice_id]), [['CN-2025-0001', ids.G], ['CN-2026-0001', ids.B], ['CN-2026-0002', ids.C]]);
  for (const c of stored.slice(1)) {
    const bytes = parts.get(`credit-notes/${c.number}.pdf`)!;
    assert.is(bytes.length, Number(c.pdf_size), c.number);
    assert.is(createHash('sha256').update(bytes).digest('hex'), c.pdf_sha256, c.number);
  }
  // December 2025's credit note is before the period: in the opening balance, not in the zip.
  assert.not.ok(parts.has('credit-notes/CN-2025-0001.pdf'));
  const one = await pdfText(parts.get('credit-notes/CN-2026-0001.pdf')!);
  assert.ok(one.includes('Credit note CN-2026-0001') && one.includes('INV-2026-0002') && one.includes('EUR 120.00') && one.includes('Late delivery'), one);
  const two = await pdfText(parts.get('credit-notes/CN-2026-0002.pdf')!);
  assert.ok(two.includes('Credit note CN-2026-0002') && two.includes('INV-2026-0003') && two.includes('GBP 50.00') && two.includes('Licences not used'), two);
});

test('the statement: opening balance, each entry with its running balance, closing balance, per currency', async () => {
  const rows = csv(parts.get('statement.csv')!.toString('utf8'));
  assert.equal(rows[0], ['Currency', 'Date', 'Entry', 'Reference', 'Description', 'Charges', 'Credits', 'Balance']);
  const eur = rows.filter((r) => r[0] === 'EUR').map((r) => [r[1], r[2], r[3], r[5], r[6], r[7]]);
  assert.equal(eur, [
    ['2026-11-01', 'Opening balance', '', '', '', '100.00'],
    ['2026-11-03', 'Invoice', 'INV-2026-0002', '1200.00', '', '1300.00'],
    ['2026-11-10', 'Payment', 'RCT-2026-0002', '', '500.00', '800.00'],
    ['2026-11-12', 'Refund', 'RCT-2026-0003', '100.00', '', '900.00'],
    ['2026-11-15', 'Credit note', 'CN-2026-0001', '', '120.00', '780.00'],
    ['2026-11-15', 'Payment', 'RCT-2026-0004', '', '100.00', '680.00'],
    ['2026-11-20', 'Invoice', 'INV-2026-0004', '10.00', '', '690.00'],
    ['2026-11-21', 'Invoice voided', 'INV-2026-0004', '', '10.00', '680.00'],
    ['2026-11-30', 'Closing balance', '', '', '', '680.00'],
  ]);
  // The opening balance is 100.00, A's 120.00 less its 20.00 paid in October: G (30.00) and its
  // credit note in full (CN-2025-0001, 30.00) cancel out, which only holds if that credit note is
  // counted before the period (without it the opening would be 130.00).
  const g = (await findInvoiceRow(w.app.kernel.db, w.ws.id, ids.G!))!;
  assert.is(g.status, 'paid', 'credited in full');
  assert.is(g.credited_total, g.total);
  const cn = rows.find((r) => r[3] === 'CN-2026-0001')!;
  assert.is(cn[4], 'On invoice INV-2026-0002. Reason: Late delivery');
  // C credited in full in the period: GBP closes at zero.
  const gbp = rows.filter((r) => r[0] === 'GBP').map((r) => [r[1], r[2], r[3], r[5], r[6], r[7]]);
  assert.equal(gbp, [
    ['2026-11-01', 'Opening balance', '', '', '', '0.00'],
    ['2026-11-05', 'Invoice', 'INV-2026-0003', '50.00', '', '50.00'],
    ['2026-11-25', 'Credit note', 'CN-2026-0002', '', '50.00', '0.00'],
    ['2026-11-30', 'Closing balance', '', '', '', '0.00'],
  ]);
  // A reference typed as a formula stays text.
  const payment = rows.find((r) => r[3] === 'RCT-2026-0002')!;
  assert.ok(payment[4]!.includes(`reference =HYPERLINK("http://evil.example")`), payment[4]);
  assert.ok(rows.every((r) => r.every((c) => !/^[=+\-@\t\r]/.test(c))), 'no cell starts with a formula character');

  const pdf = await pdfText(parts.get('statement.pdf')!);
  assert.ok(pdf.includes('Statement of account') && pdf.includes('Acme Ltd'), pdf);
  assert.ok(pdf.includes('In EUR') && pdf.includes('In GBP'), pdf);
  assert.ok(pdf.includes('Opening balance') && pdf.includes('100.00'), pdf);
  assert.ok(pdf.includes('1,300.00') && pdf.includes('690.00'));
  assert.ok(pdf.includes('Credit note') && pdf.includes('CN-2026-0001') && pdf.includes('CN-2026-0002'), pdf);
  assert.ok(pdf.includes('Closing balance: EUR 680.00 owed'), pdf);
  assert.ok(pdf.includes('Closing balance: GBP 0.00.'), pdf);
});

test('proof of service: the delivery, the client’s download and the decision; nothing internal', async () => {
  const rows = csv(parts.get('proof-of-service.csv')!.toString('utf8'));
  assert.equal(rows[0], ['Date', 'Time', 'Source', 'What', 'Item', 'Detail', 'Who']);
  const body = rows.slice(1).map((r) => [r[0], r[1], r[2], r[3], r[4], r[6]]);
  assert.equal(body, [
    ['2026-11-06', '09:00', 'Files', 'Shared', 'Design system v1.txt', 'Staff Person'],
    ['2026-11-06', '09:00', 'Files', 'Delivered', 'Design system v1.txt', 'Staff Person'],
    ['2026-11-07', '15:30', 'Files', 'Downloaded', 'Design system v1.txt', 'Admin Person'],
    ['2026-11-08', '12:00', 'Approvals', 'Approved', 'Sign off the design system', 'Admin Person'],
  ]);
  const text = parts.get('proof-of-service.csv')!.toString('utf8');
  assert.not.ok(text.includes('Internal margin notes'));
  const pdf = await pdfText(parts.get('proof-of-service.pdf')!);
  assert.ok(pdf.includes('Proof of service') && pdf.includes('Design system v1.txt') && pdf.includes('Sign off the design system') && pdf.includes('Downloaded'), pdf);
  assert.not.ok(pdf.includes('Internal margin notes'));
});

test('staff download the same period; a client role without read Invoice gets 404; so does another workspace', async () => {
  const staff = await download(w.as.staff, `${base()}/pack.zip?from=2026-11-01&to=2026-11-30`);
  assert.is(staff.status, 200);
  assert.equal([...(await unzip(staff.body)).keys()].sort(), [...parts.keys()].sort());
  for (const who of ['member', 'viewer'] as const) {
    assert.is((await w.as[who].get(`${base()}/pack`)).status, 404);
    const r = await download(w.as[who], `${base()}/pack.zip?from=2026-11-01&to=2026-11-30`);
    assert.is(r.status, 404);
    assert.not.ok(r.body.toString('latin1').includes('INV-2026') || r.body.toString('latin1').includes('CN-2026'));
  }
  // Another workspace's client admin: 404 on this workspace's pack, and their own pack has their
  // credit note only (a credit note is read through its own workspace's invoices).
  const foreign = await download(bravoAdmin, `${base()}/pack.zip?from=2026-11-01&to=2026-11-30`);
  assert.is(foreign.status, 404);
  assert.not.ok(/\b(INV|CN)-2026-/.test(foreign.body.toString('latin1')));
  const own = await download(bravoAdmin, `/w/bravo/invoices/pack.zip?from=2026-11-01&to=2026-11-30`);
  assert.is(own.status, 200);
  const bravoParts = await unzip(own.body);
  assert.equal([...bravoParts.keys()].filter((n) => n.startsWith('credit-notes/')), ['credit-notes/BRCN-2026-0001.pdf']);
  const bravoRows = csv(bravoParts.get('statement.csv')!.toString('utf8'));
  assert.equal(bravoRows.filter((r) => r[2] === 'Credit note').map((r) => [r[3], r[6]]), [['BRCN-2026-0001', '50.00']]);
  assert.is(bravoRows.at(-1)![7], '939.00', 'Bravo: 999.00 less 10.00 paid less 50.00 credited');
  for (const [name, bytes] of bravoParts) {
    const text = name.endsWith('.pdf') ? await pdfText(bytes) : bytes.toString('utf8');
    // Acme's numbers as words: Bravo's own BRCN-2026-0001 contains "CN-2026".
    assert.not.ok(/\b(INV|CN)-2026-/.test(text) || text.includes('Late delivery') || text.includes('Licences not used'), `${name} shows Acme's data`);
  }
  const anon = await w.app.client().get(`${base()}/pack.zip?from=2026-11-01&to=2026-11-30`);
  assert.ok(anon.status === 302 || anon.status === 303 || anon.status === 404, String(anon.status));
});

test('a period with nothing in it gives a pack that says so', async () => {
  const res = await download(w.as.admin, `${base()}/pack.zip?from=2025-01-01&to=2025-01-31`);
  assert.is(res.status, 200);
  const p = await unzip(res.body);
  assert.equal([...p.keys()].sort(), ['proof-of-service.csv', 'proof-of-service.pdf', 'statement.csv', 'statement.pdf']);
  assert.is(csv(p.get('statement.csv')!.toString('utf8')).length, 1);
  assert.ok((await pdfText(p.get('statement.pdf')!)).includes('Nothing was invoiced or paid in this period'));
});

test.run();
