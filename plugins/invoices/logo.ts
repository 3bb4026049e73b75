// The firm's logo for the invoice PDF. The kernel's branding page decoded it in full when it was
// uploaded (decodeUntrustedImage); it is checked again here, within the same bounds, before pdf-lib
// sees it, because pdf-lib loops forever on some corrupt PNGs and a logo stored by an older version
// (or written to the settings table by hand) was never checked. Only PNG and JPEG can be embedded:
// a WebP logo, or one that fails the check, leaves the PDF with the firm's name alone (logged), never
// a failed issue. The check is cached by the bytes' SHA-256, so a page of previews decodes it once.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeUntrustedImage, type Db, type ImageLimits, type Trx } from '../../core/index.ts';
import type { PdfLogo } from './pdf.ts';

const LOGO: ImageLimits = { types: ['image/png', 'image/jpeg'], maxBytes: 512 * 1024, maxWidth: 4096, maxHeight: 4096 };
const checked = new Map<string, boolean>();

interface LogoSource {
  logo(via?: Db | Trx): Promise<{ mime: string; data: Buffer } | null>;
}

export async function pdfLogo(branding: LogoSource, via: Db | Trx, logger?: Logger): Promise<PdfLogo | null> {
  const stored = await branding.logo(via);
  if (!stored || stored.data.length === 0) return null;
  const sha = createHash('sha256').update(stored.data).digest('hex');
  let ok = checked.get(sha);
  let type: PdfLogo['type'] | null = null;
  if (ok === undefined) {
    const image = await decodeUntrustedImage(stored.data, LOGO, { label: 'The logo' });
    ok = image.ok;
    if (!image.ok) logger?.warn({ code: image.code }, 'the stored logo cannot go on an invoice PDF; printing the firm name alone');
    if (checked.size > 20) checked.clear();
    checked.set(sha, ok);
  }
  if (!ok) return null;
  // The type from the bytes themselves (the check above sniffed the same magic), not the stored mime.
  if (stored.data[0] === 0x89 && stored.data[1] === 0x50) type = 'image/png';
  else if (stored.data[0] === 0xff && stored.data[1] === 0xd8) type = 'image/jpeg';
  return type ? { type, bytes: new Uint8Array(stored.data) } : null;
}
