// Text on the invoices plugin's PDFs (pdf.ts, report-pdf.ts): the branding colour as pdf-lib's
// numbers, what the standard fonts can encode, and wrapping to a width. One copy, so an invoice,
// a receipt and a statement print the same text the same way.
import type { PDFFont } from 'pdf-lib';

/** `#rrggbb` as pdf-lib's 0–1 channels (the default blue when it is not one). */
export function rgbOf(hex: string): [number, number, number] {
  const n = (i: number) => Number.parseInt(hex.slice(i, i + 2), 16) / 255;
  return /^#[0-9a-fA-F]{6}$/.test(hex) ? [n(1), n(3), n(5)] : [0.12, 0.31, 0.47];
}

/** Text the standard fonts can encode (WinAnsi); anything else becomes '?'. */
export function encodable(font: PDFFont, s: string): string {
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

/** `text` broken into lines no wider than `width` (long words are cut). */
export function wrap(font: PDFFont, size: number, text: string, width: number): string[] {
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
