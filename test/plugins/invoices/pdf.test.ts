// The issued PDF: parsed back with pdfjs it shows the number, the client, every line, the totals,
// the payment reference and the firm's branding colour; it is the stored blob (SHA-256 on the
// page), and rendering the issued invoice again gives the same bytes.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { WorkspaceScope } from '../../../core/tenancy.ts';
import { linesOf, findInvoiceRow, pdfModel, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { renderInvoicePdf } from '../../../plugins/invoices/pdf.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { download } from '../files/helpers.ts';
import { invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices pdf');
let w: World;

test.before(async () => {
  w = await invoicesWorld({ settings: { currency: 'KWD' } });
});
test.after(async () => {
  await w.app.close();
});

async function parse(bytes: Uint8Array) {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: 0 }).promise;
  const text: string[] = [];
  const colours = new Set<string>();
  for (let i = 1; i <= doc.numPages; i++) {
    const page = await doc.getPage(i);
    const content = await page.getTextContent();
    text.push(content.items.map((it) => ('str' in it ? it.str : '')).join(' '));
    const ops = await page.getOperatorList();
    ops.fnArray.forEach((f, j) => {
      if (f === pdfjs.OPS.setFillRGBColor) colours.add(String(ops.argsArray[j]?.[0] ?? ops.argsArray[j]).toLowerCase());
    });
  }
  const pages = doc.numPages;
  await doc.destroy();
  return { pages, text: text.join(' '), colours };
}

test('the PDF shows number, lines, totals, payment reference and the firm colour; same bytes again', async () => {
  const { id } = await newDraft(w, [['Network audit', '1.5', '120.250', '5'], ['Licences (per seat)', '12', '3.125', '5', '10']], { currency: 'KWD', notes: 'With thanks.' });
  assert.ok(id);
  assert.is((await issue(w, id!)).status, 303);
  const row = (await findInvoiceRow(w.app.kernel.db, w.ws.id, id!))!;
  const got = await download(w.as.admin, `/w/${w.ws.slug}/invoices/i/${id}/pdf`);
  assert.is(got.status, 200);
  assert.is(createHash('sha256').update(got.body).digest('hex'), row.pdf_sha256);
  const { text, colours } = await parse(got.body);
  assert.ok(text.includes('Invoice INV-2026-0001'), text);
  assert.ok(text.includes('Acme Ltd'));
  assert.ok(text.includes('Network audit'));
  assert.ok(text.includes('Licences (per seat)'));
  // 1.5 x 120.250 = 180.375; 12 x 3.125 x 0.9 = 33.750; net 214.125, tax 5% 9.019 + 1.688 = 10.707
  assert.ok(text.includes('180.375'));
  assert.ok(text.includes('33.750'));
  assert.ok(text.includes('KWD 214.125'), text);
  assert.ok(text.includes('KWD 10.707'));
  assert.ok(text.includes('KWD 224.832'));
  assert.is(row.total, 224832);
  assert.ok(text.includes('Payment reference: INV-2026-0001'));
  assert.ok(text.includes('IBAN'));
  // The default branding colour, #1f4e79, fills the band and the table header.
  assert.ok([...colours].some((c) => c.includes('1f4e79')), [...colours].join(','));

  // Rendering again from the stored rows gives the same bytes.
  const k = w.app.kernel;
  const deps = { db: k.db, branding: k.container.resolve((await import('../../../core/index.ts')).Tokens.Branding), settings: settingsSchema.parse({}), logger: pino({ level: 'silent' }) } as unknown as InvoicesDeps;
  void WorkspaceScope;
  const again = await renderInvoicePdf(await pdfModel({ ...deps, settings: { ...deps.settings, firmAddress: '1 Quay Street, Bristol' } }, k.db, { id: w.ws.id, name: w.ws.name }, row, await linesOf(k.db, w.ws.id, id!)));
  assert.is(createHash('sha256').update(again).digest('hex'), row.pdf_sha256);
  assert.is(Buffer.compare(Buffer.from(again), got.body), 0);
});

test.run();
