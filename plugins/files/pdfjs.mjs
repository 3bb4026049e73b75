// pdfjs as the files plugin's worker threads load it (preview-worker.mjs: a version's first page
// after upload; pages-worker.mjs: a document's pages, read in place on approval and signing pages).
// One place for the options that make an untrusted PDF safe to open here: no eval, no fonts or
// data fetched from anywhere but pdfjs's own folder on local disk, no XFA, oversized images left
// out. Only ever imported inside a worker thread that the main thread started with a heap limit,
// an empty environment and a hard timeout, and throws away after one document.
//
// Plain JavaScript on purpose: a worker starts without the TypeScript loader (execArgv: []).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
/** pdfjs's own data files, read from disk by path: nothing is ever fetched over a network. */
const PDFJS_DIR = dirname(require.resolve('pdfjs-dist/package.json'));
const local = (dir) => join(PDFJS_DIR, dir) + '/';

/** The canvas pdfjs draws on (a native module, loaded in the worker only). */
export const { createCanvas } = require('@napi-rs/canvas');

/** A short reason for a row or a page, from pdfjs's exception names (never a stack or a path). */
export function reasonOf(err) {
  const name = err && typeof err === 'object' ? String(err.name ?? '') : '';
  if (name === 'PasswordException') return 'the PDF is password protected';
  if (name === 'InvalidPDFException') return 'not a readable PDF';
  const message = err instanceof Error ? err.message : String(err);
  return `could not render: ${message.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 150)}`;
}

/** pdfjs's loading task for `data` (a Uint8Array); destroy it when done. */
export async function openPdf(data) {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  return pdfjs.getDocument({
    data,
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
}
