// An issued invoice as a PDF (pdf-lib, the standard fonts): the firm's name on a band of its
// branding colour, the number, the client, dates, every line, the totals by tax rate, what was
// paid and what is due, how to pay with the payment reference, notes and terms. The same input
// gives the same bytes: the dates in the metadata are the issue time, nothing else varies, so a
// PDF can be rendered again and compared with the stored one's SHA-256.
import type { PDFFont, PDFPage } from 'pdf-lib';

let lib: typeof import('pdf-lib') | undefined;
const pdfLib = async () => (lib ??= await import('pdf-lib'));

export interface InvoicePdf {
  firm: { name: string; address: string; colour: string };
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

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 48;

function rgbOf(hex: string): [number, number, number] {
  const n = (i: number) => Number.parseInt(hex.slice(i, i + 2), 16) / 255;
  return /^#[0-9a-fA-F]{6}$/.test(hex) ? [n(1), n(3), n(5)] : [0.12, 0.31, 0.47];
}

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

/** `text` broken into lines no wider than `width`. */
function wrap(font: PDFFont, size: number, text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of encodable(font, para).split(' ')) {
      const next = line ? `${line} ${word}` : word;
      if (font.widthOfTextAtSize(next, size) <= width || !line) line = next;
      else {
        out.push(line);
        line = word;
      }
      while (font.widthOfTextAtSize(line, size) > width && line.length > 1) {
        let cut = line.length - 1;
        while (cut > 1 && font.widthOfTextAtSize(line.slice(0, cut), size) > width) cut--;
        out.push(line.slice(0, cut));
        line = line.slice(cut);
      }
    }
    out.push(line);
  }
  return out;
}

export async function renderInvoicePdf(inv: InvoicePdf): Promise<Uint8Array> {
  const { PDFDocument, StandardFonts, rgb } = await pdfLib();
  const doc = await PDFDocument.create({ updateMetadata: false });
  const when = new Date(inv.issuedAt);
  const title = inv.title ?? `Invoice ${inv.number}`;
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

  let page: PDFPage = doc.addPage([A4.width, A4.height]);
  let y = A4.height;
  const text = (s: string, x: number, size = 10, f: PDFFont = font, colour = ink) => page.drawText(encodable(f, s), { x, y, size, font: f, color: colour });
  const right = (s: string, xRight: number, size = 10, f: PDFFont = font) => {
    const t = encodable(f, s);
    page.drawText(t, { x: xRight - f.widthOfTextAtSize(t, size), y, size, font: f, color: ink });
  };
  const need = (h: number) => {
    if (y - h >= MARGIN) return;
    page = doc.addPage([A4.width, A4.height]);
    y = A4.height - MARGIN;
  };

  // The band: firm name and address on the branding colour.
  page.drawRectangle({ x: 0, y: A4.height - 90, width: A4.width, height: 90, color: brand });
  y = A4.height - 42;
  text(inv.firm.name, MARGIN, 18, bold, rgb(1, 1, 1));
  y -= 18;
  for (const l of wrap(font, 9, inv.firm.address.replace(/\n+/g, ', '), A4.width - 2 * MARGIN).slice(0, 2)) {
    text(l, MARGIN, 9, font, rgb(1, 1, 1));
    y -= 11;
  }

  y = A4.height - 130;
  text(title, MARGIN, 20, bold, brand);
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
  if (inv.howToPay !== false) block('How to pay', `${inv.paymentDetails.trim() ? `${inv.paymentDetails.trim()}\n` : ''}Payment reference: ${inv.number}`);
  block('Notes', inv.notes);
  block('Terms', inv.terms);
  return doc.save({ useObjectStreams: false });
}
