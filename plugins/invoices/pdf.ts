// An issued invoice as a PDF (pdf-lib, the standard fonts): the firm's name, address and logo on a
// band of its branding colour, the number, the client, dates, every line, the totals by tax rate,
// what was paid and what is due, how to pay with the payment reference, notes and terms. The same
// input gives the same bytes: the dates in the metadata are the issue time, nothing else varies
// (no generated metadata, no object streams), so a PDF can be rendered again and compared with the
// stored one's SHA-256. A draft's preview says "DRAFT — not issued" in its title, under the band
// and across every page, and has no number.
import type { PDFFont, PDFPage } from 'pdf-lib';
import { encodable, rgbOf, wrap } from './pdf-text.ts';

let lib: typeof import('pdf-lib') | undefined;
const pdfLib = async () => (lib ??= await import('pdf-lib'));

export interface InvoicePdf {
  /** `accent`: the thin rule under the band. `logo`: already checked bytes (logo.ts), or null. */
  firm: { name: string; address: string; colour: string; accent?: string; logo?: PdfLogo | null };
  /** A preview of a draft: marked as not issued on every page; `number` is not printed. */
  draft?: boolean;
  client: string;
  number: string;
  issuedAt: number;
  issueDay: string;
  dueDay: string;
  currency: string;
  taxLabel: string;
  lines: Array<{ description: string; quantity: string; unitPrice: string; taxRate: string; discount: string; amount: string }>;
  totals: Array<{ label: string; value: string; strong?: boolean }>;
  paymentDetails: string;
  notes: string;
  terms: string;
  /** A credit note (credit-notes.ts) prints its own title, its second date and no "How to pay". */
  title?: string;
  secondDate?: { label: string; value: string };
  howToPay?: boolean;
}

export interface PdfLogo {
  type: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
}

export const DRAFT_MARK = 'DRAFT \u2014 not issued';

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 48;

export async function renderInvoicePdf(inv: InvoicePdf): Promise<Uint8Array> {
  const { PDFDocument, StandardFonts, rgb, degrees } = await pdfLib();
  const doc = await PDFDocument.create({ updateMetadata: false });
  const when = new Date(inv.issuedAt);
  const title = inv.title ?? (inv.draft ? `Draft invoice (${DRAFT_MARK})` : `Invoice ${inv.number}`);
  doc.setTitle(title);
  doc.setAuthor(inv.firm.name);
  doc.setCreator(inv.firm.name);
  doc.setProducer(inv.firm.name);
  doc.setCreationDate(when);
  doc.setModificationDate(when);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const [r, g, b] = rgbOf(inv.firm.colour);
  const brand = rgb(r, g, b);
  const ink = rgb(0.1, 0.1, 0.12);
  const grey = rgb(0.4, 0.4, 0.45);

  // The draft's mark, across each page under everything else drawn on it.
  const newPage = () => {
    const p = doc.addPage([A4.width, A4.height]);
    if (inv.draft) p.drawText(DRAFT_MARK, { x: 90, y: 230, size: 54, font: bold, color: rgb(0.9, 0.3, 0.3), opacity: 0.18, rotate: degrees(40) });
    return p;
  };
  let page: PDFPage = newPage();
  let y = A4.height;
  const text = (s: string, x: number, size = 10, f: PDFFont = font, colour = ink) => page.drawText(encodable(f, s), { x, y, size, font: f, color: colour });
  const right = (s: string, xRight: number, size = 10, f: PDFFont = font) => {
    const t = encodable(f, s);
    page.drawText(t, { x: xRight - f.widthOfTextAtSize(t, size), y, size, font: f, color: ink });
  };
  const need = (h: number) => {
    if (y - h >= MARGIN) return;
    page = newPage();
    y = A4.height - MARGIN;
  };

  // The band: firm name and address on the branding colour.
  page.drawRectangle({ x: 0, y: A4.height - 90, width: A4.width, height: 90, color: brand });
  if (inv.firm.accent && /^#[0-9a-fA-F]{6}$/.test(inv.firm.accent)) {
    const [ar, ag, ab] = rgbOf(inv.firm.accent);
    page.drawRectangle({ x: 0, y: A4.height - 94, width: A4.width, height: 4, color: rgb(ar, ag, ab) });
  }
  // The logo at the band's right, on a white tile so any logo reads on any colour (at most 150 x 54).
  let textWidth = A4.width - 2 * MARGIN;
  if (inv.firm.logo) {
    const img = inv.firm.logo.type === 'image/png' ? await doc.embedPng(inv.firm.logo.bytes) : await doc.embedJpg(inv.firm.logo.bytes);
    const scale = Math.min(150 / img.width, 54 / img.height, 1);
    const w = img.width * scale;
    const h = img.height * scale;
    const x = A4.width - MARGIN - w;
    page.drawRectangle({ x: x - 6, y: A4.height - 45 - h / 2 - 6, width: w + 12, height: h + 12, color: rgb(1, 1, 1) });
    page.drawImage(img, { x, y: A4.height - 45 - h / 2, width: w, height: h });
    textWidth = x - 18 - MARGIN;
  }
  y = A4.height - 42;
  for (const l of wrap(bold, 18, inv.firm.name, textWidth).slice(0, 1)) text(l, MARGIN, 18, bold, rgb(1, 1, 1));
  y -= 18;
  for (const l of wrap(font, 9, inv.firm.address.replace(/\n+/g, ', '), textWidth).slice(0, 2)) {
    text(l, MARGIN, 9, font, rgb(1, 1, 1));
    y -= 11;
  }

  y = A4.height - 130;
  text(inv.draft ? 'Draft invoice' : (inv.title ?? `Invoice ${inv.number}`), MARGIN, 20, bold, brand);
  if (inv.draft) {
    const t = encodable(bold, DRAFT_MARK);
    page.drawText(t, { x: A4.width - MARGIN - bold.widthOfTextAtSize(t, 12), y: y + 4, size: 12, font: bold, color: rgb(0.75, 0.1, 0.1) });
  }
  y -= 28;
  text('Billed to', MARGIN, 9, font, grey);
  text('Issue date', 330, 9, font, grey);
  text(inv.secondDate?.label ?? 'Due date', 450, 9, font, grey);
  y -= 14;
  text(inv.client, MARGIN, 11, bold);
  text(inv.issueDay, 330, 11);
  text(inv.secondDate?.value ?? inv.dueDay, 450, 11, bold);
  y -= 34;

  // The lines.
  const cols = { desc: MARGIN, qty: 330, unit: 410, tax: 460, amount: A4.width - MARGIN };
  page.drawRectangle({ x: MARGIN - 4, y: y - 6, width: A4.width - 2 * MARGIN + 8, height: 20, color: brand });
  text('Description', cols.desc, 9, bold, rgb(1, 1, 1));
  const head = (s: string, x: number) => {
    const t = encodable(bold, s);
    page.drawText(t, { x: x - bold.widthOfTextAtSize(t, 9), y, size: 9, font: bold, color: rgb(1, 1, 1) });
  };
  head('Qty', cols.qty);
  head('Unit price', cols.unit);
  head(inv.taxLabel, cols.tax);
  head(`Amount (${inv.currency})`, cols.amount);
  y -= 24;
  for (const l of inv.lines) {
    const desc = wrap(font, 10, l.discount ? `${l.description} (${l.discount} off)` : l.description, cols.qty - cols.desc - 50);
    need(desc.length * 12 + 8);
    right(l.quantity, cols.qty);
    right(l.unitPrice, cols.unit);
    right(l.taxRate, cols.tax);
    right(l.amount, cols.amount);
    for (const d of desc) {
      text(d, cols.desc);
      y -= 12;
    }
    y -= 6;
    page.drawLine({ start: { x: MARGIN, y: y + 10 }, end: { x: A4.width - MARGIN, y: y + 10 }, thickness: 0.5, color: rgb(0.85, 0.85, 0.88) });
  }

  // The totals.
  y -= 8;
  need(inv.totals.length * 16 + 10);
  for (const t of inv.totals) {
    const f = t.strong ? bold : font;
    right(t.label, 440, t.strong ? 11 : 10, f);
    right(t.value, cols.amount, t.strong ? 11 : 10, f);
    y -= t.strong ? 18 : 15;
  }

  // How to pay, notes, terms.
  const block = (title: string, body: string) => {
    if (!body.trim()) return;
    const lines = wrap(font, 10, body, A4.width - 2 * MARGIN);
    need(24 + lines.length * 13);
    y -= 14;
    text(title, MARGIN, 11, bold, brand);
    y -= 15;
    for (const l of lines) {
      need(13);
      text(l, MARGIN);
      y -= 13;
    }
  };
  if (inv.draft) block('How to pay', `${inv.paymentDetails.trim() ? `${inv.paymentDetails.trim()}\n` : ''}The payment reference is the invoice's number, given when it is issued.`);
  else if (inv.howToPay !== false) block('How to pay', `${inv.paymentDetails.trim() ? `${inv.paymentDetails.trim()}\n` : ''}Payment reference: ${inv.number}`);
  block('Notes', inv.notes);
  block('Terms', inv.terms);
  return doc.save({ useObjectStreams: false });
}
