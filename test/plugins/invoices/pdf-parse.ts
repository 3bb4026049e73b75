// A PDF read back with pdfjs for the invoices tests: its text (every page, joined), the fill colours
// it uses, and how many images it draws.
export async function parsePdf(bytes: Uint8Array) {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: 0 }).promise;
  const text: string[] = [];
  const colours = new Set<string>();
  let images = 0;
  for (let i = 1; i <= doc.numPages; i++) {
    const page = await doc.getPage(i);
    const content = await page.getTextContent();
    text.push(content.items.map((it) => ('str' in it ? it.str : '')).join(' '));
    const ops = await page.getOperatorList();
    ops.fnArray.forEach((f, j) => {
      if (f === pdfjs.OPS.setFillRGBColor) colours.add(String(ops.argsArray[j]?.[0] ?? ops.argsArray[j]).toLowerCase());
      if (f === pdfjs.OPS.paintImageXObject || f === pdfjs.OPS.paintInlineImageXObject) images++;
    });
  }
  const pages = doc.numPages;
  const info = (await doc.getMetadata()).info as Record<string, unknown>;
  await doc.destroy();
  return { pages, text: text.join(' '), colours, images, title: String(info.Title ?? '') };
}
