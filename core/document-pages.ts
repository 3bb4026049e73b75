// Documents read in place (issue 14): the contract between a plugin that can show a document's
// pages as images (files renders PDF versions: plugins/files/pages.ts) and the pages where a
// document is decided (an approval request, an approval link, a signing page) that show them.
// Here: the shape of the rendered pages, the headers a page image is served with (SECURITY.md
// control 37, like any download), and the view model of the `core/document-pages` partial.
//
// Page images are served by the plugin whose page shows them, from a route that checks exactly
// what that page checks (the request, the link, the signer), so who may read the document is
// decided in one place; this module never reads a row.
import type { Response } from 'express';
import { contentDisposition } from './names.ts';

/** One page of a document, as displayed (rotation applied). */
export interface DocumentPage {
  /** 1-based. */
  n: number;
  /** The page's size in PDF points, as displayed. */
  width: number;
  height: number;
  /** The displayed area in PDF user space, `[x0, y0, x1, y1]` in points (the page's crop box). */
  view: [number, number, number, number];
  /** Degrees the page is turned for display: 0, 90, 180 or 270. */
  rotate: number;
  /** The image's size in pixels (what `<img width height>` reserve before it arrives). */
  image: { width: number; height: number };
}

/**
 * A document's pages, or why they cannot be shown. `pages` are the first pages shown in place
 * (at most the renderer's limit); `total` is how many the document has.
 */
export type DocumentPages = { ok: true; total: number; pages: DocumentPage[] } | { ok: false; reason: string };

/** One rendered page. */
export interface PageImage {
  bytes: Buffer;
  contentType: 'image/jpeg';
}

/**
 * A page number from a route parameter (`/pages/:page`): a plain positive integer, else undefined
 * (the route answers 404, like a page the document does not have).
 */
export function pageNumber(param: unknown): number | undefined {
  const s = String(param ?? '');
  if (!/^[1-9][0-9]{0,4}$/.test(s)) return undefined;
  return Number(s);
}

/**
 * Send a page image with the download headers of SECURITY.md control 37: an attachment with a safe
 * `filename*` (an `<img>` shows it all the same; opened on its own it is saved, never rendered as
 * a page), `nosniff`, a sandbox CSP, same-origin only, never stored by a cache.
 */
export function sendPageImage(res: Response, name: string, image: PageImage): void {
  res.setHeader('Content-Type', image.contentType);
  res.setHeader('Content-Disposition', contentDisposition(name));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', String(image.bytes.length));
  res.status(200).end(image.bytes);
}

/** The file name a page image is served under: "Contract.pdf" page 2 -> "Contract (page 2).jpg". */
export const pageImageName = (documentName: string, n: number) => `${documentName.replace(/\.pdf$/i, '')} (page ${n}).jpg`;

/** What the `core/document-pages` partial shows. */
export interface DocumentView {
  name: string;
  /** The pages, when they can be shown. */
  pages: Array<{ n: number; src: string; alt: string; width: number; height: number; points: string; view: string; rotate: number }>;
  total: number;
  /** "Pages 1–30 of 48 are shown here": set when the document has more pages than are shown. */
  more: { shown: number; total: number } | null;
  /** True when the pages cannot be shown: the partial says so and offers the download. */
  fallback: boolean;
  download: string | null;
  /** The download button's words ("Download", "Download version 2"). */
  downloadLabel: string;
  /** Where the document can be opened instead (its own page), when there is no download here. */
  open: string | null;
}

/**
 * The partial's model. `pages` undefined or not ok gives the fallback ("This document can't be
 * shown here; download it"); `src(n)` is the URL of page n's image on the caller's own route.
 */
export function documentView(pages: DocumentPages | undefined, opts: { name: string; src: (n: number) => string; download?: string | null; downloadLabel?: string; open?: string | null }): DocumentView {
  const download = opts.download ?? null;
  const downloadLabel = opts.downloadLabel ?? 'Download';
  const open = opts.open ?? null;
  if (!pages || !pages.ok || !pages.pages.length) return { name: opts.name, pages: [], total: 0, more: null, fallback: true, download, downloadLabel, open };
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    name: opts.name,
    pages: pages.pages.map((p) => ({
      n: p.n,
      src: opts.src(p.n),
      alt: `Page ${p.n} of ${pages.total}`,
      width: p.image.width,
      height: p.image.height,
      points: `${round(p.width)} ${round(p.height)}`,
      view: p.view.map(round).join(' '),
      rotate: p.rotate,
    })),
    total: pages.total,
    more: pages.total > pages.pages.length ? { shown: pages.pages.length, total: pages.total } : null,
    fallback: false,
    download,
    downloadLabel,
    open,
  };
}
