// The issued PDF: parsed back with pdfjs it shows the number, the client, every line, the totals,
// the payment reference and the firm's branding colours and logo; it is the stored blob (SHA-256 on
// the page), and rendering the issued invoice again gives the same bytes. A stored logo that does
// not pass the image check is left out (never handed to pdf-lib), and the invoice is still issued.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { WorkspaceScope } from '../../../core/tenancy.ts';
import { linesOf, findInvoiceRow, pdfModel, type InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { renderInvoicePdf } from '../../../plugins/invoices/pdf.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { transaction } from '../../../core/db/index.ts';
import { setSetting } from '../../../core/settings.ts';
import { download } from '../files/helpers.ts';
import { corruptPng, JPEG_64x32, realPng } from '../../helpers/images.ts';
import { parsePdf } from './pdf-parse.ts';
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

/** Render the issued invoice again from its stored rows, as the test above does. */
async function rerender(id: string) {
  const k = w.app.kernel;
  const row = (await findInvoiceRow(k.db, w.ws.id, id))!;
  const deps = { db: k.db, branding: k.branding, settings: settingsSchema.parse({ firmAddress: '1 Quay Street, Bristol' }), logger: pino({ level: 'silent' }) } as unknown as InvoicesDeps;
  return { row, bytes: await renderInvoicePdf(await pdfModel(deps, k.db, { id: w.ws.id, name: w.ws.name }, row, await linesOf(k.db, w.ws.id, id))) };
}

test('the firm’s logo and accent colour are on the PDF; it renders again to the same bytes', async () => {
  const k = w.app.kernel;
  await transaction(k.db, (trx) => k.branding.save(trx, { firmName: 'Harbor & Vale LLP', primary: '#1f4e79', accent: '#7a3e9d' }, { mime: 'image/png', data: realPng(240, 80) }));
  k.branding.invalidate();
  const { id } = await newDraft(w, [['Logo work', '1', '10.000', '0']], { currency: 'KWD' });
  assert.is((await issue(w, id!)).status, 303);
  const got = await download(w.as.admin, `/w/${w.ws.slug}/invoices/i/${id}/pdf`);
  const pdf = await parsePdf(got.body);
  assert.is(pdf.images, 1, 'the logo is drawn');
  assert.ok([...pdf.colours].some((c) => c.includes('7a3e9d')), [...pdf.colours].join(','));
  assert.ok(pdf.text.includes('Harbor & Vale LLP'));
  assert.ok(pdf.text.includes('1 Quay Street, Bristol'), 'the firm’s address');
  const { row, bytes } = await rerender(id!);
  assert.is(createHash('sha256').update(bytes).digest('hex'), row.pdf_sha256);
  // A JPEG logo too.
  await transaction(k.db, (trx) => k.branding.save(trx, { firmName: 'Harbor & Vale LLP', primary: '#1f4e79', accent: '#7a3e9d' }, { mime: 'image/jpeg', data: JPEG_64x32 }));
  k.branding.invalidate();
  const { id: jpg } = await newDraft(w, [['JPEG logo work', '1', '10.000', '0']], { currency: 'KWD' });
  assert.is((await issue(w, jpg!)).status, 303);
  assert.is((await parsePdf((await download(w.as.admin, `/w/${w.ws.slug}/invoices/i/${jpg}/pdf`)).body)).images, 1);
});

test('a stored logo that fails the image check is never embedded; the invoice is still issued', async () => {
  const k = w.app.kernel;
  // Written around the branding page (which checks uploads), as an old version might have: a PNG
  // whose image data would send pdf-lib into an endless loop (this test would hang if it got there).
  await transaction(k.db, (trx) => setSetting(trx, 'branding.logo', { mime: 'image/png', data: corruptPng('loop').toString('base64') }, Date.now()));
  k.branding.invalidate();
  const { id } = await newDraft(w, [['After the bad logo', '1', '5.000', '0']], { currency: 'KWD' });
  assert.is((await issue(w, id!)).status, 303);
  const pdf = await parsePdf((await download(w.as.admin, `/w/${w.ws.slug}/invoices/i/${id}/pdf`)).body);
  assert.is(pdf.images, 0);
  assert.ok(pdf.text.includes('After the bad logo'));
  assert.ok(pdf.text.includes('Harbor & Vale LLP'), 'the firm’s name alone');
});

test.run();
