// Page images of PDF versions (plugins/files/pages.ts), the renderer behind documents read in place:
// real pages drawn in a worker at most 1000 x 1600 px, only the first `pagesShown`, PDFs over
// `previewMaxBytes` never opened, a broken PDF or a timeout a "can't be shown" (remembered, not
// parsed again per view), a full queue a "not now" (not remembered), and a bounded memory cache.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadImage } from '@napi-rs/canvas';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { documentView } from '../../../core/document-pages.ts';
import { PAGE_MAX_HEIGHT, PAGE_WIDTH, PageImages, runPagesWorker, type PageImagesDeps, type PageSource } from '../../../plugins/files/pages.ts';

const test = suite('files: page images');

const quiet = { warn: () => undefined };
const SETTINGS = { previewMaxBytes: 25 * 1024 * 1024, pagesShown: 30, pagesCacheMiB: 64 };

async function makePdf(sizes: Array<[number, number]>): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  sizes.forEach(([w, h], i) => doc.addPage([w, h]).drawText(`Page ${i + 1}`, { x: 20, y: h - 40, size: 18, font }));
  return Buffer.from(await doc.save());
}

let n = 0;
function source(bytes: Buffer, reads = { n: 0 }): PageSource {
  const versionId = `v${++n}`;
  return { workspaceId: 'ws', versionId, size: bytes.length, sha256: `sha-${versionId}`, read: async () => (reads.n++, new Uint8Array(bytes)) };
}

/** The real worker, counted. */
function counted(): { calls: number; run: NonNullable<PageImagesDeps['run']> } {
  const c: { calls: number; run: NonNullable<PageImagesDeps['run']> } = {
    calls: 0,
    run: (pdf, job, on) => {
      c.calls++;
      return runPagesWorker(pdf, job, on);
    },
  };
  return c;
}

test('a PDF\'s pages: sizes in points, images 1000 px wide (a tall page 1600 px high), JPEGs of that size', async () => {
  const images = new PageImages({ settings: SETTINGS, logger: quiet });
  const src = source(await makePdf([[612, 792], [200, 2000], [842, 595]]));
  const pages = await images.describe(src);
  assert.ok(pages.ok, JSON.stringify(pages));
  if (!pages.ok) return;
  assert.is(pages.total, 3);
  assert.equal(pages.pages.map((p) => [p.n, p.width, p.height, p.rotate]), [[1, 612, 792, 0], [2, 200, 2000, 0], [3, 842, 595, 0]]);
  assert.equal(pages.pages[0]!.view, [0, 0, 612, 792]);
  assert.equal(pages.pages.map((p) => p.image), [{ width: PAGE_WIDTH, height: 1294 }, { width: 160, height: PAGE_MAX_HEIGHT }, { width: PAGE_WIDTH, height: 707 }]);
  for (const page of pages.pages) {
    const img = await images.image(src, page.n);
    assert.ok(img, `page ${page.n}`);
    assert.is(img!.contentType, 'image/jpeg');
    const decoded = await loadImage(img!.bytes);
    assert.equal([decoded.width, decoded.height], [page.image.width, page.image.height], `page ${page.n} is drawn at the size announced`);
  }
  assert.is(await images.image(src, 4), undefined, 'no page 4');
  assert.is(await images.image(src, 0), undefined);
});

test('only the first `pagesShown` pages are shown; the view says how many more there are', async () => {
  const images = new PageImages({ settings: { ...SETTINGS, pagesShown: 2 }, logger: quiet });
  const src = source(await makePdf([[300, 300], [300, 300], [300, 300], [300, 300], [300, 300]]));
  const pages = await images.describe(src);
  assert.ok(pages.ok && pages.total === 5 && pages.pages.length === 2, JSON.stringify(pages));
  assert.ok(await images.image(src, 2));
  assert.is(await images.image(src, 3), undefined, 'page 3 is beyond the limit');
  const view = documentView(pages, { name: 'Five.pdf', src: (p) => `/x/${p}` });
  assert.equal(view.more, { shown: 2, total: 5 });
  assert.equal(view.pages.map((p) => p.alt), ['Page 1 of 5', 'Page 2 of 5']);
  const off = new PageImages({ settings: { ...SETTINGS, pagesShown: 0 }, logger: quiet });
  assert.is((await off.describe(src)).ok, false, 'pagesShown 0 turns it off');
});

test('a PDF over previewMaxBytes is never read; a broken one is "can\'t be shown", remembered rather than parsed per view', async () => {
  const worker = counted();
  const images = new PageImages({ settings: { ...SETTINGS, previewMaxBytes: 1000 }, logger: quiet, run: worker.run });
  const reads = { n: 0 };
  const big = source(Buffer.alloc(2000, 1), reads);
  assert.equal(await images.describe(big), { ok: false, reason: 'larger than 0 MiB' });
  assert.is(reads.n, 0, 'not even decrypted');

  const broken = source(Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(500, 0x41)]));
  const first = await images.describe(broken);
  assert.is(first.ok, false);
  assert.match((first as { reason: string }).reason, /readable|render/);
  assert.is((await images.describe(broken)).ok, false);
  assert.is(await images.image(broken, 1), undefined);
  assert.is(worker.calls, 1, 'parsed once');
  const view = documentView(first, { name: 'Broken.pdf', src: (p) => `/x/${p}`, download: '/x/download' });
  assert.equal([view.fallback, view.pages.length, view.download], [true, 0, '/x/download']);
});

test('a render that runs past the timeout is terminated: "can\'t be shown", and the server goes on', async () => {
  const images = new PageImages({ settings: SETTINGS, logger: quiet, timeoutMs: 1 });
  const pages = await images.describe(source(await makePdf([[612, 792]])));
  assert.equal(pages, { ok: false, reason: 'timed out after 0 s' });
  const fine = new PageImages({ settings: SETTINGS, logger: quiet });
  assert.ok((await fine.describe(source(await makePdf([[612, 792]])))).ok, 'the next document renders');
});

test('a full queue answers "not now" at once and is not remembered; one worker at a time', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let running = 0;
  let most = 0;
  const run: NonNullable<PageImagesDeps['run']> = async (pdf, job, on) => {
    running++;
    most = Math.max(most, running);
    await gate;
    running--;
    return runPagesWorker(pdf, job, on);
  };
  const images = new PageImages({ settings: SETTINGS, logger: quiet, run });
  const pdf = await makePdf([[300, 300]]);
  const waiting = Array.from({ length: 17 }, () => source(pdf));
  const described = waiting.map((s) => images.describe(s));
  const busy = await images.describe(source(pdf));
  assert.equal(busy, { ok: false, reason: 'busy' });
  release();
  const all = await Promise.all(described);
  assert.is(all.filter((p) => p.ok).length, 16, 'the 16 queued behind the first are rendered');
  assert.is(all.filter((p) => !p.ok).length, 1, 'the 17th was turned away');
  assert.is(most, 1, 'never two workers at once');
});

test('the memory cache keeps at most pagesCacheMiB: the least recently used document is drawn again when asked', async () => {
  let calls = 0;
  // Pages of 400 KB each (a JPEG's first bytes, then padding): two documents fit in 1 MiB, three do not.
  const run: NonNullable<PageImagesDeps['run']> = async (_pdf, job, on) => {
    calls++;
    if (job.info) on({ kind: 'info', numPages: 1, pages: [{ width: 100, height: 100, view: [0, 0, 100, 100], rotate: 0 }] });
    const jpeg = new Uint8Array(400 * 1024);
    jpeg.set([0xff, 0xd8, 0xff]);
    if (job.from === 1) on({ kind: 'page', n: 1, jpeg, width: 1000, height: 1000 });
    on({ kind: 'done' });
  };
  const images = new PageImages({ settings: { ...SETTINGS, pagesCacheMiB: 1 }, logger: quiet, run });
  const [a, b, c] = [source(Buffer.from('a')), source(Buffer.from('b')), source(Buffer.from('c'))];
  for (const s of [a, b, c]) assert.ok(await images.image(s, 1));
  const before = calls;
  assert.ok(await images.image(c, 1));
  assert.ok(await images.image(b, 1));
  assert.is(calls, before, 'b and c are still cached');
  assert.ok(await images.image(a, 1));
  assert.is(calls, before + 1, 'a was dropped and is drawn again');
});

test.run();
