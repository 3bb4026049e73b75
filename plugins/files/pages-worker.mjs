// The worker thread that renders a PDF's pages to JPEG images for plugins/files/pages.ts (documents
// read in place on approval and signing pages). Like preview-worker.mjs it runs in a thread the
// main thread started with a heap limit, an empty environment and a hard timeout, opens the PDF
// with the shared safe options (pdfjs.mjs), and is thrown away after one document.
//
// In:  workerData = { data: ArrayBuffer (the decrypted PDF, transferred), width, maxHeight,
//                     quality, info: boolean, maxPages, from, to }
// Out: messages, in this order:
//   { kind: 'info', numPages, pages: [{ width, height, view: [x0, y0, x1, y1], rotate }] }
//        (only when `info`; the first `maxPages` pages, sizes in PDF points as displayed)
//   { kind: 'page', n, jpeg: Uint8Array, width, height }   for each page n in from..to
//   { kind: 'page-error', n, reason }                     for a page that could not be drawn
//   { kind: 'done' }
// or { kind: 'error', reason } when the document cannot be opened at all.
import { parentPort, workerData } from 'node:worker_threads';
import { createCanvas, openPdf, reasonOf } from './pdfjs.mjs';

async function render() {
  const { data, width: targetWidth, maxHeight, quality, info, maxPages, from, to } = workerData;
  const task = await openPdf(new Uint8Array(data));
  try {
    const doc = await task.promise;
    if (doc.numPages < 1) throw new Error('the PDF has no pages');
    const shown = Math.min(doc.numPages, maxPages);
    if (info) {
      const pages = [];
      for (let n = 1; n <= shown; n++) {
        const page = await doc.getPage(n);
        const v = page.getViewport({ scale: 1 });
        if (!(v.width > 0 && v.height > 0)) throw new Error(`page ${n} has no size`);
        pages.push({ width: v.width, height: v.height, view: page.view.map(Number), rotate: Number(page.rotate) || 0 });
      }
      parentPort.postMessage({ kind: 'info', numPages: doc.numPages, pages });
    }
    for (let n = Math.max(1, from); n <= Math.min(to, shown); n++) {
      try {
        const page = await doc.getPage(n);
        const natural = page.getViewport({ scale: 1 });
        // `width` wide, aspect ratio kept; a tall page is scaled down to `maxHeight` instead.
        const scale = Math.min(targetWidth / natural.width, maxHeight / natural.height);
        const viewport = page.getViewport({ scale });
        const w = Math.max(1, Math.min(targetWidth, Math.round(viewport.width)));
        const h = Math.max(1, Math.min(maxHeight, Math.round(viewport.height)));
        const canvas = createCanvas(w, h);
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#ffffff';
        ctx.fillRect(0, 0, w, h);
        await page.render({ canvas, canvasContext: ctx, viewport }).promise;
        // JPEG: a page of text is a third smaller than as PNG and encodes four times faster, with
        // no difference a reader sees at this size. A copy this thread owns, so it is transferred.
        const jpeg = new Uint8Array(await canvas.encode('jpeg', quality));
        page.cleanup();
        parentPort.postMessage({ kind: 'page', n, jpeg, width: w, height: h }, [jpeg.buffer]);
      } catch (err) {
        parentPort.postMessage({ kind: 'page-error', n, reason: reasonOf(err) });
      }
    }
    parentPort.postMessage({ kind: 'done' });
  } finally {
    await task.destroy().catch(() => undefined);
  }
}

render().catch((err) => parentPort.postMessage({ kind: 'error', reason: reasonOf(err) }));
