// The PDF side on its own: the drawn-signature check (PNG magic bytes, 200 KB cap, dimensions),
// signature positions inside the page, and a certificate that survives names the standard fonts
// cannot encode and more events than fit on one page.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { inspectPdf, parseSignaturePng, PdfProblem, POSITIONS, rectFor, signedDocument, type Position } from '../../../plugins/signatures/pdf.ts';
import { makePdf, makePng, pdfText, sha } from './helpers.ts';

const test = suite('signatures: pdf');
const url = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;

test('a drawn signature must be a real PNG of sensible size: magic bytes, IHDR, at most 200 KB, 50x20 to 2000x1000', () => {
  assert.ok('png' in parseSignaturePng(url(makePng(300, 100))));
  assert.ok('problem' in parseSignaturePng(url(Buffer.from('GIF89a not a png at all, padded to be long enough'))));
  assert.ok('problem' in parseSignaturePng(`data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}`));
  assert.ok('problem' in parseSignaturePng('javascript:alert(1)'));
  assert.ok('problem' in parseSignaturePng(url(Buffer.concat([makePng(), Buffer.alloc(205 * 1024)]))), 'over 200 KB');
  assert.ok('problem' in parseSignaturePng(url(makePng(10, 10))), 'too small');
  assert.ok('problem' in parseSignaturePng(url(makePng(2500, 100))), 'too wide');
  const fake = makePng();
  fake.write('IHDX', 12, 'latin1');
  assert.ok('problem' in parseSignaturePng(url(fake)), 'no IHDR first');
});

test('every position preset puts the whole signature box inside the page, for Letter, A4 and a small card', () => {
  for (const page of [{ width: 612, height: 792 }, { width: 595.28, height: 841.89 }, { width: 300, height: 200 }]) {
    for (const p of Object.keys(POSITIONS) as Position[]) {
      const r = rectFor(p, page);
      assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= page.width + 0.01 && r.y + r.height <= page.height + 0.01, `${p} on ${page.width}x${page.height}`);
    }
  }
});

test('a file that is not a readable PDF is a sentence for the person, not a crash', async () => {
  await inspectPdf(Buffer.from('%PDF-1.4 nothing else')).then(
    () => assert.unreachable('should refuse'),
    (err) => {
      assert.instance(err, PdfProblem);
      assert.match((err as Error).message, /could not be read as a PDF|no pages/);
    },
  );
  assert.is((await inspectPdf(await makePdf(3))).length, 3);
});

test('a certificate with names outside WinAnsi and 80 events spills onto more pages and still parses', async () => {
  const original = await makePdf(1);
  const now = Date.UTC(2026, 10, 28, 3, 0, 0);
  const out = await signedDocument(
    original,
    [{ page: 1, x: 48, y: 48, width: 180, height: 60, name: 'Zoë Łukasz 王', kind: 'typed', text: 'Zoë Łukasz 王', png: null, signedAt: now }],
    {
      envelopeId: 'env-1',
      title: 'Title with “quotes” and émojis 🎉',
      documentName: 'doc.pdf',
      sentBy: 'Sam Staff <sam@firm.example>',
      sha256Sent: sha(original),
      signers: [{ position: 1, name: 'Zoë Łukasz 王', email: 'z@x.example', signedAt: now, kind: 'typed', consentVersion: '2026-11-1', consentSha256: 'a'.repeat(64), sha256AtSigning: sha(original) }],
      events: Array.from({ length: 80 }, (_, i) => ({ at: now + i * 1000, kind: i % 2 ? 'opened' : 'sent', who: 'Zoë Łukasz 王', ip: '2001:db8::1', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'.repeat(2) })),
    },
  );
  const pdf = await pdfText(out.bytes);
  assert.ok(pdf.pages >= 3, `${pdf.pages} pages`);
  assert.is(out.pages, pdf.pages);
  assert.match(pdf.text[0]!, 'Zoë ?ukasz ?', 'unencodable characters become ?');
  assert.match(pdf.text[1]!, 'Certificate of completion');
  assert.match(pdf.text[pdf.pages - 1]!, 'continued');
  assert.match(pdf.text.join(' '), '2026-11-28 03:01:19 UTC');
});

test.run();
