// PDF work for signatures, with pdf-lib: read a document's pages (to place signatures), check a
// drawn signature (a PNG data URL, decoded in full when it is received), stamp every signature
// where the sender placed it, and append the certificate page listing every event. Nothing here
// touches the database or storage.
import { createHash } from 'node:crypto';
import type { PDFDocument, PDFFont, PDFPage } from 'pdf-lib';
import { decodeUntrustedImage, type ImageLimits } from '../../core/index.ts';

// pdf-lib takes ~0.4 s to import: loaded on first use, never at start-up.
let lib: typeof import('pdf-lib') | undefined;
const pdfLib = async () => (lib ??= await import('pdf-lib'));

export interface PageSize {
  width: number;
  height: number;
}

export class PdfProblem extends Error {}

/** Page sizes of a PDF, or a PdfProblem with a sentence a person can act on. */
export async function inspectPdf(bytes: Buffer): Promise<PageSize[]> {
  const { PDFDocument } = await pdfLib();
  let pages: PageSize[];
  try {
    const doc = await PDFDocument.load(bytes, { updateMetadata: false });
    pages = doc.getPages().map((p) => {
      const { width, height } = p.getSize();
      return { width, height };
    });
  } catch (err) {
    if (/encrypt/i.test((err as Error).message)) throw new PdfProblem('This PDF is password-protected or encrypted, so it cannot be signed. Upload an unprotected copy.');
    throw new PdfProblem('This file could not be read as a PDF.');
  }
  if (!pages.length) throw new PdfProblem('This PDF has no pages.');
  return pages;
}

export const POSITIONS = {
  'bottom-left': 'Bottom left',
  'bottom-center': 'Bottom centre',
  'bottom-right': 'Bottom right',
  'top-left': 'Top left',
  'top-right': 'Top right',
} as const;
export type Position = keyof typeof POSITIONS;

export const SIGNATURE_BOX = { width: 180, height: 60, margin: 48 };

/** The rectangle (PDF points from the lower-left corner) of a named position on a page. */
export function rectFor(position: Position, page: PageSize): { x: number; y: number; width: number; height: number } {
  const { width: w, height: h, margin: m } = SIGNATURE_BOX;
  const left = m;
  const right = Math.max(m, page.width - m - w);
  const centre = Math.max(0, (page.width - w) / 2);
  const bottom = m;
  const top = Math.max(m, page.height - m - h);
  const x = position.endsWith('left') ? left : position.endsWith('right') ? right : centre;
  const y = position.startsWith('top') ? top : bottom;
  return { x, y, width: w, height: h };
}

export const PNG_MAX_BYTES = 200 * 1024;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** What a drawn signature may be: the bounds parseSignaturePng checks, and the full decode's. */
export const SIGNATURE_PNG: ImageLimits = { types: ['image/png'], maxBytes: PNG_MAX_BYTES, minWidth: 50, minHeight: 20, maxWidth: 2000, maxHeight: 1000, pdf: true };
const SIGNATURE_WORDING = { label: 'The drawn signature', again: 'Clear it and draw it again, or type your name instead.' };

/**
 * The quick checks of a drawn signature from the browser: `data:image/png;base64,...`, a PNG
 * (magic bytes and an IHDR chunk first), at most 200 KB, between 50x20 and 2000x1000 pixels.
 * Returns the bytes or a sentence saying what is wrong. Not enough on its own to accept a
 * signature: use decodeSignaturePng, which decodes the whole image.
 */
export function parseSignaturePng(dataUrl: string): { png: Buffer } | { problem: string } {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/]+={0,2})$/.exec(dataUrl.trim());
  if (!m) return { problem: 'The drawn signature was not received as a PNG image. Draw it again or type your name instead.' };
  const png = Buffer.from(m[1]!, 'base64');
  if (png.length > PNG_MAX_BYTES) return { problem: 'The drawn signature is too large (over 200 KB). Clear it and draw it again.' };
  if (png.length < 33 || !png.subarray(0, 8).equals(PNG_MAGIC) || png.readUInt32BE(8) !== 13 || png.subarray(12, 16).toString('latin1') !== 'IHDR') {
    return { problem: 'The drawn signature is not a valid PNG image.' };
  }
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  if (width < 50 || height < 20 || width > 2000 || height > 1000) return { problem: 'The drawn signature has unexpected dimensions. Clear it and draw it again.' };
  return { png };
}

/**
 * A drawn signature, checked as it is received: the quick checks, then the whole PNG decoded by
 * the kernel (every chunk and CRC, the zlib stream inflated within bounds) and embedded with
 * pdf-lib into a throwaway PDF, the same decoder the stamp uses when the last signer signs. An
 * image that passes here cannot make completion fail later; one that does not is refused beside
 * the field, before anything is saved or the link is used.
 */
export async function decodeSignaturePng(dataUrl: string): Promise<{ png: Buffer } | { problem: string }> {
  const quick = parseSignaturePng(dataUrl);
  if ('problem' in quick) return quick;
  const decoded = await decodeUntrustedImage(quick.png, SIGNATURE_PNG, SIGNATURE_WORDING);
  return decoded.ok ? quick : { problem: decoded.problem };
}

export interface StampSignature {
  /** Who signed (the signer row's id), handed back when their image could not be used. */
  signerId?: string;
  page: number; // 1-based
  x: number;
  y: number;
  width: number;
  height: number;
  name: string;
  kind: 'typed' | 'drawn';
  text: string | null;
  png: Buffer | null;
  signedAt: number;
}

export interface CertificateEvent {
  at: number;
  kind: string;
  who: string;
  ip: string;
  userAgent: string;
  note?: string;
}

export interface CertificateInput {
  envelopeId: string;
  title: string;
  documentName: string;
  sentBy: string;
  sha256Sent: string;
  signers: Array<{ position: number; name: string; email: string; signedAt: number; kind: string; consentVersion: string; consentSha256: string; sha256AtSigning: string }>;
  events: CertificateEvent[];
}

export const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Text the standard fonts can encode (WinAnsi); anything else becomes '?'. */
function encodable(font: PDFFont, s: string): string {
  let out = '';
  for (const ch of s.replace(/[\r\n\t]+/g, ' ')) {
    try {
      font.encodeText(ch);
      out += ch;
    } catch {
      out += '?';
    }
  }
  return out;
}

/** Split text into lines no wider than `width`, breaking long words (hashes, user agents) too. */
function wrap(font: PDFFont, size: number, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const fits = (s: string) => font.widthOfTextAtSize(s, size) <= width;
  for (const word of text.split(' ')) {
    let w = word;
    const candidate = line ? `${line} ${w}` : w;
    if (fits(candidate)) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = '';
    while (!fits(w)) {
      let n = w.length - 1;
      while (n > 1 && !fits(w.slice(0, n))) n--;
      lines.push(w.slice(0, n));
      w = w.slice(n);
    }
    line = w;
  }
  if (line) lines.push(line);
  return lines;
}

/** A drawn signature whose stored image could not be decoded when the document was generated. */
export interface UnreadableSignature {
  signerId?: string;
  name: string;
  page: number;
  /** SHA-256 of the image bytes as received and stored (kept as evidence, named on the certificate). */
  sha256: string;
}

/**
 * Can this stored drawn signature be embedded? Checked with the kernel's decoder before pdf-lib
 * sees it: pdf-lib's PNG decoder throws RangeError/TypeError on some corrupt data and loops
 * forever on other corrupt data, and no try/catch stops a loop.
 */
async function usablePng(png: Buffer): Promise<boolean> {
  return (await decodeUntrustedImage(png, { ...SIGNATURE_PNG, pdf: false })).ok;
}

/**
 * Stamp every signature at its placement. A drawn signature whose image cannot be decoded (only
 * a row saved before images were decoded at receipt can hold one) is stamped as the signer's name,
 * marked as such, and returned so the certificate says so. Why not refuse, or ask that signer
 * again: the signature is the signer's act, recorded with their consent, time, IP address and the
 * document hash they verified; the image is only its mark. Refusing would leave every other
 * signer unable to finish, on every attempt; reopening would ask someone who has signed to sign
 * again, after those who signed after them, and let one signer hold the envelope. A firm gets a
 * completed document whose certificate states plainly what happened and keeps the hash of the
 * bytes received.
 */
async function stamp(doc: PDFDocument, sigs: StampSignature[]): Promise<UnreadableSignature[]> {
  const { StandardFonts, rgb } = await pdfLib();
  const script = await doc.embedFont(StandardFonts.TimesRomanItalic);
  const small = await doc.embedFont(StandardFonts.Helvetica);
  const pages = doc.getPages();
  const unreadable: UnreadableSignature[] = [];
  for (const s of sigs) {
    const page: PDFPage | undefined = pages[s.page - 1];
    if (!page) throw new PdfProblem(`The document no longer has a page ${s.page}.`);
    const caption = encodable(small, `Signed electronically by ${s.name}, ${utc(s.signedAt)}`);
    const captionSize = Math.min(7, (s.width / Math.max(1, small.widthOfTextAtSize(caption, 7))) * 7);
    const inner = { x: s.x, y: s.y + 10, width: s.width, height: Math.max(10, s.height - 10) };
    let img: Awaited<ReturnType<PDFDocument['embedPng']>> | undefined;
    if (s.kind === 'drawn') {
      try {
        // embedPng decodes before it adds anything to the document: a throw leaves it unchanged.
        if (s.png && (await usablePng(s.png))) img = await doc.embedPng(s.png);
      } catch {
        img = undefined;
      }
      if (!img) unreadable.push({ signerId: s.signerId, name: s.name, page: s.page, sha256: sha256(s.png ?? Buffer.alloc(0)) });
    }
    if (img) {
      const scale = Math.min(inner.width / img.width, inner.height / img.height);
      const w = img.width * scale;
      const h = img.height * scale;
      page.drawImage(img, { x: inner.x + (inner.width - w) / 2, y: inner.y + (inner.height - h) / 2, width: w, height: h });
    } else {
      const text = encodable(script, (s.kind === 'drawn' ? null : s.text) ?? s.name);
      let size = Math.min(28, inner.height * 0.7);
      while (size > 6 && script.widthOfTextAtSize(text, size) > inner.width) size -= 1;
      page.drawText(text, { x: inner.x, y: inner.y + (inner.height - size) / 2, size, font: script, color: rgb(0.05, 0.1, 0.35) });
      if (s.kind === 'drawn') {
        const note = 'Drawn image unreadable: name shown (see certificate)';
        const noteSize = Math.min(6, (s.width / Math.max(1, small.widthOfTextAtSize(note, 6))) * 6);
        page.drawText(note, { x: s.x, y: s.y + s.height - noteSize, size: noteSize, font: small, color: rgb(0.45, 0.1, 0.1) });
      }
    }
    page.drawLine({ start: { x: s.x, y: s.y + 9 }, end: { x: s.x + s.width, y: s.y + 9 }, thickness: 0.5, color: rgb(0.4, 0.4, 0.4) });
    page.drawText(caption, { x: s.x, y: s.y + 1, size: captionSize, font: small, color: rgb(0.3, 0.3, 0.3) });
  }
  return unreadable;
}

async function certificate(doc: PDFDocument, c: CertificateInput, stampedSha: string, unreadable: UnreadableSignature[]): Promise<void> {
  const { StandardFonts, rgb } = await pdfLib();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const mono = await doc.embedFont(StandardFonts.Courier);
  const W = 612;
  const H = 792;
  const M = 50;
  let page = doc.addPage([W, H]);
  let y = H - M;
  const line = (text: string, opts: { f?: PDFFont; size?: number; indent?: number; gap?: number } = {}) => {
    const f = opts.f ?? font;
    const size = opts.size ?? 9;
    const indent = opts.indent ?? 0;
    for (const l of wrap(f, size, encodable(f, text), W - 2 * M - indent)) {
      if (y < M + size) {
        page = doc.addPage([W, H]);
        y = H - M;
        page.drawText(encodable(font, `Certificate of completion (continued) - envelope ${c.envelopeId}`), { x: M, y, size: 8, font, color: rgb(0.4, 0.4, 0.4) });
        y -= 20;
      }
      page.drawText(l, { x: M + indent, y, size, font: f });
      y -= size + 3;
    }
    y -= opts.gap ?? 0;
  };
  line('Certificate of completion', { f: bold, size: 16, gap: 6 });
  line(`Document: ${c.documentName}`);
  line(`Envelope: ${c.title} (${c.envelopeId})`);
  line(`Sent by: ${c.sentBy}`, { gap: 6 });
  line('SHA-256 of the document when it was sent (before):', { f: bold });
  line(c.sha256Sent, { f: mono, size: 8.5, indent: 10, gap: 3 });
  line('SHA-256 of the signed document before this certificate was appended (after):', { f: bold });
  line(stampedSha, { f: mono, size: 8.5, indent: 10, gap: 3 });
  line('The SHA-256 of the complete file, this certificate included, cannot be printed inside the file it describes: it is recorded in the completion event of the portal\'s audit log and shown on the envelope\'s page.', { size: 8, gap: 8 });
  line('Signers', { f: bold, size: 12, gap: 2 });
  for (const s of c.signers) {
    line(`${s.position}. ${s.name} <${s.email}>`, { f: bold });
    line(`Signed ${utc(s.signedAt)} with a ${s.kind} signature. Consent to sign electronically: version ${s.consentVersion} (text SHA-256 ${s.consentSha256}).`, { indent: 10 });
    line(`Document SHA-256 verified at signing: ${s.sha256AtSigning}`, { indent: 10, gap: 4 });
  }
  if (unreadable.length) {
    y -= 4;
    line('Signature images that could not be used', { f: bold, size: 12, gap: 2 });
    for (const u of unreadable) {
      line(`${u.name} (page ${u.page}): the drawn signature image stored at signing could not be decoded when this document was generated, so the signer's name is shown in its place. The signing itself (consent, time, IP address, document hash) is recorded in this certificate. SHA-256 of the image as received:`, { indent: 10 });
      line(u.sha256, { f: mono, size: 8.5, indent: 20, gap: 4 });
    }
  }
  y -= 4;
  line('Events (times in UTC)', { f: bold, size: 12, gap: 2 });
  for (const e of c.events) {
    line(`${utc(e.at)}  ${e.kind.toUpperCase()}  ${e.who}`, { f: bold, size: 8.5 });
    line(`IP ${e.ip || 'unknown'}   User agent: ${e.userAgent || 'unknown'}${e.note ? `   ${e.note}` : ''}`, { size: 8, indent: 10, gap: 2 });
  }
}

/**
 * Stamp every signature at its placement, then append the certificate. Returns the final bytes,
 * the SHA-256 of the stamped document before the certificate was added, and the drawn signatures
 * whose image could not be used (stamped as the signer's name; the certificate says so).
 */
export async function signedDocument(original: Buffer, sigs: StampSignature[], cert: CertificateInput): Promise<{ bytes: Buffer; sha256Stamped: string; pages: number; unreadable: UnreadableSignature[] }> {
  const { PDFDocument } = await pdfLib();
  const doc = await PDFDocument.load(original, { updateMetadata: false });
  const unreadable = await stamp(doc, sigs);
  const stampedBytes = await doc.save({ useObjectStreams: false });
  const sha256Stamped = sha256(stampedBytes);
  const stamped = await PDFDocument.load(stampedBytes, { updateMetadata: false });
  await certificate(stamped, cert, sha256Stamped, unreadable);
  stamped.setModificationDate(new Date(Math.max(...sigs.map((s) => s.signedAt), 0) || Date.now()));
  const bytes = Buffer.from(await stamped.save({ useObjectStreams: false }));
  return { bytes, sha256Stamped, pages: stamped.getPageCount(), unreadable };
}
