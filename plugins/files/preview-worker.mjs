// The worker thread that renders page 1 of a PDF to a PNG for plugins/files/preview.ts. pdfjs is
// loaded only in worker threads like this one (and pages-worker.mjs), through pdfjs.mjs: a PDF is
// untrusted input, so the parser runs here, in a thread the main thread started with a heap limit,
// an empty environment and a hard timeout, and that is thrown away after one document (a hostile
// file cannot leave state behind for the next one).
//
// Plain JavaScript on purpose: a worker starts without the TypeScript loader (execArgv: []), as
// core/storage/crypto-worker.js does, which keeps its start-up to pdfjs's own import.
//
// In:  workerData = { data: ArrayBuffer (the decrypted PDF, transferred), width, maxHeight }
// Out: one message, { ok: true, png: Uint8Array, width, height } or { ok: false, reason }.
import { parentPort, workerData } from 'node:worker_threads';
import { setPriority } from 'node:os';
import { createCanvas, openPdf, reasonOf } from './pdfjs.mjs';

// A preview is background work: on Linux a thread's nice value is its own, so this lowers this
// thread only (the server's threads keep theirs) and requests win the CPU over a render.
try {
  setPriority(19);
} catch {
  // Not permitted or not supported here: render at normal priority.
}

async function render() {
  const { data, width: targetWidth, maxHeight } = workerData;
  // The options that make an untrusted PDF safe to open are in pdfjs.mjs, shared with pages-worker.mjs.
  const task = await openPdf(new Uint8Array(data));
  try {
    const doc = await task.promise;
    if (doc.numPages < 1) throw new Error('the PDF has no pages');
    const page = await doc.getPage(1);
    const natural = page.getViewport({ scale: 1 });
    if (!(natural.width > 0 && natural.height > 0)) throw new Error('page 1 has no size');
    // About `width` wide, aspect ratio kept; a tall page is scaled down to `maxHeight` instead.
    const scale = Math.min(targetWidth / natural.width, maxHeight / natural.height);
    const viewport = page.getViewport({ scale });
    const w = Math.max(1, Math.min(targetWidth, Math.round(viewport.width)));
    const h = Math.max(1, Math.min(maxHeight, Math.round(viewport.height)));
    const canvas = createCanvas(w, h);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    await page.render({ canvas, canvasContext: ctx, viewport }).promise;
    // A copy into memory this thread owns, so it can be transferred rather than cloned.
    const png = new Uint8Array(await canvas.encode('png'));
    parentPort.postMessage({ ok: true, png, width: w, height: h }, [png.buffer]);
  } finally {
    await task.destroy().catch(() => undefined);
  }
}

render().catch((err) => parentPort.postMessage({ ok: false, reason: reasonOf(err) }));
