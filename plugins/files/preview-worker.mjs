// The worker thread that renders page 1 of a PDF to a PNG for plugins/files/preview.ts. It is the
// only place pdfjs is loaded: a PDF is untrusted input, so the parser runs here, in a thread the
// main thread started with a heap limit, an empty environment and a hard timeout, and that is
// thrown away after one document (a hostile file cannot leave state behind for the next one).
//
// Plain JavaScript on purpose: a worker starts without the TypeScript loader (execArgv: []), as
// core/storage/crypto-worker.js does, which keeps its start-up to pdfjs's own import.
//
// In:  workerData = { data: ArrayBuffer (the decrypted PDF, transferred), width, maxHeight }
// Out: one message, { ok: true, png: Uint8Array, width, height } or { ok: false, reason }.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setPriority } from 'node:os';

// A preview is background work: on Linux a thread's nice value is its own, so this lowers this
// thread only (the server's threads keep theirs) and requests win the CPU over a render.
try {
  setPriority(19);
} catch {
  // Not permitted or not supported here: render at normal priority.
}

const require = createRequire(import.meta.url);
/** pdfjs's own data files, read from disk by path: nothing is ever fetched over a network. */
const PDFJS_DIR = dirname(require.resolve('pdfjs-dist/package.json'));
const local = (dir) => join(PDFJS_DIR, dir) + '/';

/** A short reason for the row, from pdfjs's exception names (never a stack or a path). */
function reasonOf(err) {
  const name = err && typeof err === 'object' ? String(err.name ?? '') : '';
  if (name === 'PasswordException') return 'the PDF is password protected';
  if (name === 'InvalidPDFException') return 'not a readable PDF';
  const message = err instanceof Error ? err.message : String(err);
  return `could not render: ${message.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 150)}`;
}

async function render() {
  const { data, width: targetWidth, maxHeight } = workerData;
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const { createCanvas } = require('@napi-rs/canvas');
  const task = pdfjs.getDocument({
    data: new Uint8Array(data),
    // No eval: PostScript functions are interpreted, never compiled with new Function().
    isEvalSupported: false,
    // Glyphs are drawn as paths from the embedded font programs (or pdfjs's bundled standard
    // fonts, read from a local folder): no @font-face, no system fonts, no font fetching.
    disableFontFace: true,
    useSystemFonts: false,
    standardFontDataUrl: local('standard_fonts'),
    cMapUrl: local('cmaps'),
    cMapPacked: true,
    wasmUrl: local('wasm'),
    iccUrl: local('iccs'),
    enableXfa: false,
    // Images above 4096 x 4096 pixels are left out rather than decoded (their pixels live outside
    // the heap limit the main thread set).
    maxImageSize: 4096 * 4096,
    isOffscreenCanvasSupported: false,
    isImageDecoderSupported: false,
    verbosity: 0,
  });
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
