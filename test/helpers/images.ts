// Images made on the spot for the tests of untrusted images (core/images.ts): real PNGs, PNGs
// whose header is valid but whose pixel data is not (the issue 13 finding), and a small JPEG and
// WebP as a browser or an image editor writes them.
import { crc32, deflateSync } from 'node:zlib';

export const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk with its length and a correct CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

export function ihdr(width: number, height: number, opts: { depth?: number; colour?: number; interlace?: number } = {}): Buffer {
  const h = Buffer.alloc(13);
  h.writeUInt32BE(width, 0);
  h.writeUInt32BE(height, 4);
  h[8] = opts.depth ?? 8;
  h[9] = opts.colour ?? 6;
  h[12] = opts.interlace ?? 0;
  return pngChunk('IHDR', h);
}

/** Magic, IHDR (RGBA, 8 bits), the given IDAT data (CRC correct), IEND: valid in every field but the data. */
export function pngWithIdat(width: number, height: number, idat: Buffer, extra: Buffer[] = []): Buffer {
  return Buffer.concat([PNG_MAGIC, ihdr(width, height), ...extra, pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A real RGBA PNG with a dark diagonal stroke (what the signature pad sends). */
export function realPng(width = 300, height = 100, opts: { interlace?: boolean } = {}): Buffer {
  const pixel = (x: number, y: number) => (Math.abs(y - (x * height) / width) < 3 ? [16, 32, 79, 255] : [16, 32, 79, 0]);
  const rows: Buffer[] = [];
  const passes = opts.interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
    : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes as Array<[number, number, number, number]>) {
    if (x0 >= width || y0 >= height) continue;
    for (let y = y0; y < height; y += dy) {
      const row = [0];
      for (let x = x0; x < width; x += dx) row.push(...pixel(x, y));
      rows.push(Buffer.from(row));
    }
  }
  return Buffer.concat([PNG_MAGIC, ihdr(width, height, { interlace: opts.interlace ? 1 : 0 }), pngChunk('IDAT', deflateSync(Buffer.concat(rows))), pngChunk('IEND', Buffer.alloc(0))]);
}

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) & 255));

/**
 * PNGs with a valid signature, IHDR and CRCs and an IDAT whose zlib data is garbage, each failing
 * differently in pdf-lib 1.17's decoder (the one the signature stamp uses):
 * - `range`: a zlib header and three bytes: RangeError (the finding as reported);
 * - `type`: a zlib header and noise: TypeError;
 * - `loop`: noise without a zlib header: pdf-lib never returns (an endless loop). Never hand this
 *   one to pdf-lib in the test process.
 */
export function corruptPng(kind: 'range' | 'type' | 'loop', width = 300, height = 100): Buffer {
  const idat = kind === 'range' ? Buffer.from([0x78, 0x9c, 1, 2, 3]) : kind === 'type' ? Buffer.concat([Buffer.from([0x78, 0x9c]), pattern(2000)]) : pattern(2000);
  return pngWithIdat(width, height, idat);
}

/** A 64 x 32 baseline JPEG written by Skia (with its ICC profile). */
export const JPEG_64x32 = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAgAEADASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAABwD/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFgEBAQEAAAAAAAAAAAAAAAAAAAID/8QAGBEAAgMAAAAAAAAAAAAAAAAAAAISE2H/2gAMAwEAAhEDEQA/AEBIQrRJEO8ReQhTSnSLcF5CFFOi3BeQhLzN0iWjyIQl5CPEOkghReTS7CKtCFF5F2CrQhLyTN3kWiRP/9k=',
  'base64',
);

/** A 64 x 32 WebP (VP8X with an ICC profile, then a lossy VP8 frame) written by Skia. */
export const WEBP_64x32 = Buffer.from(
  'UklGRkICAABXRUJQVlA4WAoAAAAgAAAAPwAAHwAASUNDUMgBAAAAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADZWUDggVAAAADAFAJ0BKkAAIAA+wUifS6ekIqG3+qgA8BgJYgDPJQAKD7G+5zqjUnT6WaIvJjjHWswAAP7vcj/97a//dgX/+9u3CzV0IB5faY57NZkSbj104WAAAA==',
  'base64',
);
