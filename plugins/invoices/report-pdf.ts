// The period pack's own documents as PDFs (pdf-lib, the standard fonts, like the invoice in
// pdf.ts): the statement of account, the proof-of-service report and each receipt. One small
// writer: the firm's band in its branding colour, a title, lines of facts, headed tables that
// continue on the next page with their header, notes. The dates in the metadata are given by the
// caller, so the same input gives the same bytes.
import type { PDFDocument, PDFFont, PDFPage, RGB } from 'pdf-lib';
import { encodable, rgbOf, wrap } from './pdf-text.ts';

let lib: typeof import('pdf-lib') | undefined;
const pdfLib = async () => (lib ??= await import('pdf-lib'));

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 44;
const WIDTH = A4.width - 2 * MARGIN;

export interface ReportMeta {
  firm: { name: string; address: string; colour: string };
  title: string;
  /** The document's date in its metadata (a receipt: when it was recorded): nothing else varies. */
  date: number;
}

export interface Column {
  label: string;
  /** Share of the page's width (the columns' shares are scaled to fill it). */
  width: number;
  align?: 'left' | 'right';
}

/** `text` cut to fit `width`, with an ellipsis when it had to be cut. */
function fit(font: PDFFont, size: number, text: string, width: number): string {
  const t = encodable(font, text);
  if (font.widthOfTextAtSize(t, size) <= width) return t;
  let cut = t.length;
  while (cut > 0 && font.widthOfTextAtSize(`${t.slice(0, cut)}...`, size) > width) cut--;
  return `${t.slice(0, cut)}...`;
}

export class ReportPdf {
  private page!: PDFPage;
  private y = 0;
  private columns: Array<Column & { x: number; w: number }> = [];

  private constructor(
    private readonly doc: PDFDocument,
    private readonly font: PDFFont,
    private readonly bold: PDFFont,
    private readonly brand: RGB,
    private readonly ink: RGB,
    private readonly grey: RGB,
    private readonly white: RGB,
    private readonly rule: RGB,
  ) {}

  static async create(meta: ReportMeta): Promise<ReportPdf> {
    const { PDFDocument, StandardFonts, rgb } = await pdfLib();
    const doc = await PDFDocument.create({ updateMetadata: false });
    const when = new Date(meta.date);
    doc.setTitle(meta.title);
    doc.setAuthor(meta.firm.name);
    doc.setCreator(meta.firm.name);
    doc.setProducer(meta.firm.name);
    doc.setCreationDate(when);
    doc.setModificationDate(when);
    const [r, g, b] = rgbOf(meta.firm.colour);
    const w = new ReportPdf(doc, await doc.embedFont(StandardFonts.Helvetica), await doc.embedFont(StandardFonts.HelveticaBold), rgb(r, g, b), rgb(0.1, 0.1, 0.12), rgb(0.4, 0.4, 0.45), rgb(1, 1, 1), rgb(0.85, 0.85, 0.88));
    w.page = doc.addPage([A4.width, A4.height]);
    // The band: the firm's name and address on its branding colour, then the title.
    w.page.drawRectangle({ x: 0, y: A4.height - 80, width: A4.width, height: 80, color: w.brand });
    w.y = A4.height - 38;
    w.text(meta.firm.name, MARGIN, 17, w.bold, w.white);
    w.y -= 16;
    for (const l of wrap(w.font, 9, meta.firm.address.replace(/\n+/g, ', '), WIDTH).slice(0, 2)) {
      w.text(l, MARGIN, 9, w.font, w.white);
      w.y -= 11;
    }
    w.y = A4.height - 116;
    w.text(meta.title, MARGIN, 18, w.bold, w.brand);
    w.y -= 24;
    return w;
  }

  private text(s: string, x: number, size = 9, f: PDFFont = this.font, colour: RGB = this.ink): void {
    this.page.drawText(encodable(f, s), { x, y: this.y, size, font: f, color: colour });
  }

  /** A new page when fewer than `h` points are left (a table's header is drawn again). */
  private need(h: number, table = false): void {
    if (this.y - h >= MARGIN) return;
    this.page = this.doc.addPage([A4.width, A4.height]);
    this.y = A4.height - MARGIN;
    if (table && this.columns.length) this.header();
  }

  /** A line of facts: a grey label and its value. */
  fact(label: string, value: string): void {
    this.need(14);
    this.text(label, MARGIN, 9, this.font, this.grey);
    this.text(value, MARGIN + 120, 10, this.bold);
    this.y -= 14;
  }

  /** A section heading in the branding colour. */
  heading(s: string): void {
    this.need(40);
    this.y -= 10;
    this.text(s, MARGIN, 13, this.bold, this.brand);
    this.y -= 18;
  }

  /** A wrapped paragraph. */
  para(s: string, opts: { grey?: boolean; size?: number } = {}): void {
    const size = opts.size ?? 9;
    for (const l of wrap(this.font, size, s, WIDTH)) {
      this.need(size + 4);
      this.text(l, MARGIN, size, this.font, opts.grey ? this.grey : this.ink);
      this.y -= size + 4;
    }
  }

  /** Start a table: its header now, and again at the top of each new page until the next table. */
  table(columns: Column[]): void {
    const total = columns.reduce((s, c) => s + c.width, 0);
    let x = MARGIN;
    this.columns = columns.map((c) => {
      const w = (c.width / total) * WIDTH;
      const col = { ...c, x, w };
      x += w;
      return col;
    });
    this.need(40);
    this.header();
  }

  private header(): void {
    this.page.drawRectangle({ x: MARGIN - 3, y: this.y - 5, width: WIDTH + 6, height: 17, color: this.brand });
    for (const c of this.columns) this.cell(c, c.label, this.bold, this.white);
    this.y -= 18;
  }

  private cell(c: Column & { x: number; w: number }, value: string, f: PDFFont, colour: RGB, size = 8.5): void {
    const t = fit(f, size, value, c.w - 6);
    const x = c.align === 'right' ? c.x + c.w - 3 - f.widthOfTextAtSize(t, size) : c.x + 3;
    this.page.drawText(t, { x, y: this.y, size, font: f, color: colour });
  }

  /** One row of the current table; `strong` for a balance line. */
  row(cells: string[], opts: { strong?: boolean } = {}): void {
    this.need(14, true);
    this.columns.forEach((c, i) => this.cell(c, cells[i] ?? '', opts.strong ? this.bold : this.font, this.ink));
    this.y -= 5;
    this.page.drawLine({ start: { x: MARGIN, y: this.y }, end: { x: MARGIN + WIDTH, y: this.y }, thickness: 0.4, color: this.rule });
    this.y -= 9;
  }

  /** Space between blocks. */
  gap(points = 8): void {
    this.y -= points;
  }

  async save(): Promise<Uint8Array> {
    return this.doc.save({ useObjectStreams: false });
  }
}
