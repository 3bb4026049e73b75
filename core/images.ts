// Untrusted images, checked at the moment they are received. A drawn signature, a logo, an avatar:
// anything a person sends that a later step (a PDF stamp, a browser, a thumbnail) will decode is
// decoded here first, within bounds, and refused with a sentence the sender can act on. A decoder
// error later, when someone else's action depends on it, is what this module exists to prevent
// (issue 13: a corrupt IDAT accepted at signing made every later completion fail).
//
// What "decoded" means per type:
// - PNG: every chunk's length and CRC, the IHDR values, the chunk order, then the whole zlib stream
//   inflated (streaming, never more than the pixel bound allows), its Adler-32 checked, its length
//   exactly what IHDR promises and every scanline's filter byte valid. Unfiltering is arithmetic
//   that cannot fail, so a PNG that passes decodes in any correct decoder. With `pdf: true` it is
//   also embedded with pdf-lib into a throwaway PDF: the very decoder a later PDF step uses.
// - JPEG and WebP: the container is walked to the end (every JPEG segment and scan up to EOI; every
//   RIFF chunk, the VP8/VP8L frame header) and the dimensions read from it, but the pixels are not
//   decoded: no pure-JavaScript decoder is installed, and @napi-rs/canvas (Skia) crashes the whole
//   process with a segmentation fault on some truncated JPEG and WebP files (seen on 0.1.100), so it
//   must never see an untrusted image in the server process. Accept PNG only where a later
//   server-side step decodes the pixels.
//
// Order of work: size bound, type sniffed from the magic bytes, dimensions read from the header and
// bounded (width, height, pixel count: the decompression-bomb guard) before anything is inflated.
import { crc32, createInflate } from 'node:zlib';

export type ImageType = 'image/png' | 'image/jpeg' | 'image/webp';

export interface ImageLimits {
  /** The types accepted, sniffed from the bytes (never the file name or a declared type). */
  types: readonly ImageType[];
  maxBytes: number;
  maxWidth: number;
  maxHeight: number;
  minWidth?: number;
  minHeight?: number;
  /** Pixel count bound (width x height); defaults to maxWidth x maxHeight. */
  maxPixels?: number;
  /** Also embed the image with pdf-lib into a throwaway PDF (PNG and JPEG only). */
  pdf?: boolean;
}

export interface DecodedImage {
  type: ImageType;
  width: number;
  height: number;
}

/** Stable codes for the log; the sentence is for the person. */
export type ImageProblemCode = 'empty' | 'too-large' | 'type' | 'damaged' | 'too-small-dimensions' | 'too-big-dimensions' | 'animated' | 'unsupported';

export type ImageCheck = ({ ok: true } & DecodedImage) | { ok: false; code: ImageProblemCode; problem: string };

export interface ImageWording {
  /** The thing's name at the start of a sentence: 'The logo', 'The drawn signature'. */
  label?: string;
  /** What the person should do next: 'Choose another file.', 'Clear it and draw it again.' */
  again?: string;
}

const TYPE_NAMES: Record<ImageType, string> = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/webp': 'WebP' };

function kb(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / (1024 * 1024)) * 10) / 10} MB` : `${Math.round(n / 1024)} KB`;
}

function listOf(types: readonly ImageType[]): string {
  const names = types.map((t) => TYPE_NAMES[t]);
  return names.length <= 1 ? (names[0] ?? 'image') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** The types accepted: pdf-lib cannot embed WebP, so `pdf: true` leaves it out. */
const accepted = (limits: ImageLimits) => (limits.pdf ? limits.types.filter((t) => t !== 'image/webp') : limits.types);

/** The one message table of this module. */
function sentence(code: ImageProblemCode, limits: ImageLimits, w: ImageWording, facts: { width?: number; height?: number } = {}): string {
  const label = w.label ?? 'The image';
  const again = w.again ?? 'Choose another file.';
  const size = facts.width !== undefined ? ` (${facts.width} x ${facts.height} pixels)` : '';
  switch (code) {
    case 'empty':
      return `${label} is empty. ${again}`;
    case 'too-large':
      return `${label} is too large (over ${kb(limits.maxBytes)}). ${again}`;
    case 'type':
      return `${label} is not a ${listOf(accepted(limits))} image. ${again}`;
    case 'damaged':
      return `${label} is damaged or incomplete: its image data could not be decoded. ${again}`;
    case 'too-small-dimensions':
      return `${label} is too small${size}; it must be at least ${limits.minWidth ?? 1} x ${limits.minHeight ?? 1} pixels. ${again}`;
    case 'too-big-dimensions':
      return `${label} is too big${size}; it can be at most ${limits.maxWidth} x ${limits.maxHeight} pixels. ${again}`;
    case 'animated':
      return `${label} is animated. Use a still image. ${again}`;
    case 'unsupported':
      return `${label} uses an encoding that is not supported. Save it again as a standard ${listOf(limits.types)} image.`;
  }
}

/** The image type, from the magic bytes only. */
export function sniffImageType(b: Buffer): ImageType | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_MAGIC)) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

class Refused extends Error {
  constructor(
    readonly code: ImageProblemCode,
    readonly facts: { width?: number; height?: number } = {},
  ) {
    super(code);
  }
}
const damaged = () => new Refused('damaged');

/**
 * Fully check an untrusted image at receipt. Never throws: every decoder error, expected or not,
 * becomes `{ ok: false, code, problem }` with a sentence for the person who sent it.
 */
export async function decodeUntrustedImage(bytes: Buffer, limits: ImageLimits, wording: ImageWording = {}): Promise<ImageCheck> {
  const refuse = (code: ImageProblemCode, facts: { width?: number; height?: number } = {}): ImageCheck => ({ ok: false, code, problem: sentence(code, limits, wording, facts) });
  if (bytes.length === 0) return refuse('empty');
  if (bytes.length > limits.maxBytes) return refuse('too-large');
  const type = sniffImageType(bytes);
  if (!type || !accepted(limits).includes(type)) return refuse('type');
  try {
    const png = type === 'image/png' ? pngHeader(bytes) : undefined;
    const { width, height } = png ?? (type === 'image/jpeg' ? jpegFacts(bytes) : webpFacts(bytes));
    const facts = { width, height };
    if (width < (limits.minWidth ?? 1) || height < (limits.minHeight ?? 1)) return refuse('too-small-dimensions', facts);
    if (width > limits.maxWidth || height > limits.maxHeight || width * height > (limits.maxPixels ?? limits.maxWidth * limits.maxHeight)) return refuse('too-big-dimensions', facts);
    // Only now, with the output bounded by the checked dimensions, is anything inflated.
    if (png) await inflatePng(png);
    if (limits.pdf) await embedInPdf(bytes, type);
    return { ok: true, type, width, height };
  } catch (err) {
    // Anything a parser or decoder throws (RangeError, TypeError, pdf-lib's own errors) is a
    // damaged image, never an exception for the caller to turn into a 500.
    if (err instanceof Refused) return refuse(err.code, err.facts);
    return refuse('damaged');
  }
}

// ---- PNG ----------------------------------------------------------------------------------

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Allowed bit depths per colour type (PNG spec, table 11.1). */
const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

interface PngHeader {
  width: number;
  height: number;
  idat: Buffer;
  /** Scanlines of the inflated stream, in order: bytes per row (filter byte included) and count. */
  rows: Array<{ bytes: number; count: number }>;
}

/** Walk every chunk (lengths, CRCs, order) and return IHDR's facts and the joined IDAT data. */
function pngHeader(b: Buffer): PngHeader {
  let p = 8;
  let ihdr: { width: number; height: number; depth: number; colour: number; interlace: number } | undefined;
  let palette = false;
  const idat: Buffer[] = [];
  let idatEnded = false;
  let ended = false;
  while (!ended) {
    if (p + 12 > b.length) throw damaged();
    const len = b.readUInt32BE(p);
    if (len > 0x7fffffff || p + 12 + len > b.length) throw damaged();
    const type = b.subarray(p + 4, p + 8).toString('latin1');
    if (!/^[A-Za-z]{4}$/.test(type)) throw damaged();
    const data = b.subarray(p + 8, p + 8 + len);
    if ((crc32(b.subarray(p + 4, p + 8 + len)) >>> 0) !== b.readUInt32BE(p + 8 + len)) throw damaged();
    if (!ihdr && type !== 'IHDR') throw damaged();
    if (idat.length && type !== 'IDAT') idatEnded = true;
    switch (type) {
      case 'IHDR': {
        if (ihdr || len !== 13) throw damaged();
        const [depth, colour, compression, filter, interlace] = [data[8]!, data[9]!, data[10]!, data[11]!, data[12]!];
        const width = data.readUInt32BE(0);
        const height = data.readUInt32BE(4);
        if (!width || !height || width > 0x7fffffff || height > 0x7fffffff) throw damaged();
        if (!PNG_DEPTHS[colour]?.includes(depth) || compression !== 0 || filter !== 0 || interlace > 1) throw damaged();
        ihdr = { width, height, depth, colour, interlace };
        break;
      }
      case 'PLTE':
        if (palette || idat.length || len === 0 || len % 3 || len > 768 || ihdr!.colour === 0 || ihdr!.colour === 4) throw damaged();
        palette = true;
        break;
      case 'IDAT':
        if (idatEnded) throw damaged();
        idat.push(data);
        break;
      case 'IEND':
        if (len !== 0) throw damaged();
        ended = true;
        break;
      case 'acTL':
      case 'fcTL':
      case 'fdAT':
        // APNG: pdf-lib's decoder sizes each frame from fcTL alone, unbounded; and a signature
        // or a logo has no business moving.
        throw new Refused('animated');
      default:
        // An unknown critical chunk (upper-case first letter) must stop a decoder (PNG spec 5.4).
        if (type.charCodeAt(0) < 0x61) throw damaged();
    }
    p += 12 + len;
  }
  if (!ihdr || !idat.length || p !== b.length) throw damaged();
  if (ihdr.colour === 3 && !palette) throw damaged();
  const bitsPerPixel = PNG_CHANNELS[ihdr.colour]! * ihdr.depth;
  const row = (w: number) => 1 + Math.ceil((w * bitsPerPixel) / 8);
  const rows =
    ihdr.interlace === 0
      ? [{ bytes: row(ihdr.width), count: ihdr.height }]
      : ADAM7.map(([x0, y0, dx, dy]) => ({ w: Math.ceil(Math.max(0, ihdr!.width - x0) / dx), h: Math.ceil(Math.max(0, ihdr!.height - y0) / dy) }))
          .filter((pass) => pass.w > 0 && pass.h > 0)
          .map((pass) => ({ bytes: row(pass.w), count: pass.h }));
  return { width: ihdr.width, height: ihdr.height, idat: Buffer.concat(idat), rows };
}

/**
 * Inflate the IDAT stream without keeping it: count the bytes, check each scanline's filter type
 * (0-4), stop as soon as it runs past what IHDR promises. zlib checks the Adler-32 at the end.
 */
function inflatePng(h: PngHeader): Promise<void> {
  const expected = h.rows.reduce((n, r) => n + r.bytes * r.count, 0);
  return new Promise((resolve, reject) => {
    const z = createInflate({ chunkSize: 64 * 1024 });
    let seen = 0;
    let pass = 0;
    let rowInPass = 0;
    let nextRow = 0; // offset of the next scanline's filter byte in the whole stream
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      z.removeAllListeners('data');
      z.destroy();
      if (err) reject(err);
      else resolve();
    };
    z.on('data', (chunk: Buffer) => {
      if (seen + chunk.length > expected) return settle(damaged());
      while (pass < h.rows.length && nextRow < seen + chunk.length) {
        if (chunk[nextRow - seen]! > 4) return settle(damaged());
        nextRow += h.rows[pass]!.bytes;
        if (++rowInPass === h.rows[pass]!.count) {
          pass++;
          rowInPass = 0;
        }
      }
      seen += chunk.length;
    });
    z.on('error', () => settle(damaged()));
    z.on('end', () => settle(seen === expected ? undefined : damaged()));
    z.end(h.idat);
  });
}

// ---- JPEG ---------------------------------------------------------------------------------

/** Walk every segment and scan from SOI to EOI; the frame header gives the dimensions. */
function jpegFacts(b: Buffer): { width: number; height: number } {
  let p = 2;
  let frame: { width: number; height: number } | undefined;
  let scans = 0;
  for (;;) {
    if (p >= b.length || b[p] !== 0xff) throw damaged();
    while (b[p] === 0xff) p++; // fill bytes
    if (p >= b.length) throw damaged();
    const marker = b[p++]!;
    if (marker === 0xd9) break; // EOI
    if (marker === 0x00 || marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) throw damaged();
    if (p + 2 > b.length) throw damaged();
    const len = b.readUInt16BE(p);
    if (len < 2 || p + len > b.length) throw damaged();
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // Baseline, extended and progressive Huffman frames are what browsers show; lossless,
      // hierarchical and arithmetic-coded ones are not.
      if (marker > 0xc2) throw new Refused('unsupported');
      if (frame || len < 8) throw damaged();
      const height = b.readUInt16BE(p + 3);
      const width = b.readUInt16BE(p + 5);
      const components = b[p + 7]!;
      if (!width || !height || ![1, 3, 4].includes(components) || len !== 8 + 3 * components) throw damaged();
      frame = { width, height };
    } else if (marker === 0xda) {
      const components = b[p + 2]!;
      if (!frame || components < 1 || components > 4 || len !== 6 + 2 * components) throw damaged();
      p += len;
      // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart.
      while (p < b.length) {
        if (b[p] !== 0xff) {
          p++;
          continue;
        }
        const next = b[p + 1];
        if (next === 0x00 || (next !== undefined && next >= 0xd0 && next <= 0xd7)) p += 2;
        else if (next === 0xff) p++;
        else break;
      }
      scans++;
      continue;
    }
    p += len;
  }
  if (!frame || !scans) throw damaged();
  return frame;
}

// ---- WebP ---------------------------------------------------------------------------------

/** Walk the RIFF chunks to the end and read the frame header of the still image. */
function webpFacts(b: Buffer): { width: number; height: number } {
  if (b.length < 20 || b.readUInt32LE(4) + 8 !== b.length) throw damaged();
  let p = 12;
  let canvas: { width: number; height: number } | undefined;
  let image: { width: number; height: number } | undefined;
  let first = true;
  while (p < b.length) {
    if (p + 8 > b.length) throw damaged();
    const fourcc = b.subarray(p, p + 4).toString('latin1');
    const size = b.readUInt32LE(p + 4);
    if (p + 8 + size > b.length) throw damaged();
    const d = b.subarray(p + 8, p + 8 + size);
    if (first && !['VP8 ', 'VP8L', 'VP8X'].includes(fourcc)) throw damaged();
    if (!first && fourcc === 'VP8X') throw damaged();
    first = false;
    if (fourcc === 'ANIM' || fourcc === 'ANMF') throw new Refused('animated');
    if (fourcc === 'VP8X') {
      if (size < 10) throw damaged();
      if (d[0]! & 0x02) throw new Refused('animated');
      canvas = { width: d.readUIntLE(4, 3) + 1, height: d.readUIntLE(7, 3) + 1 };
    } else if (fourcc === 'VP8 ') {
      if (image || size < 10) throw damaged();
      const tag = d.readUIntLE(0, 3);
      const firstPartition = tag >>> 5;
      if (tag & 1 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a || 10 + firstPartition > size) throw damaged();
      image = { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff };
    } else if (fourcc === 'VP8L') {
      if (image || size < 5 || d[0] !== 0x2f) throw damaged();
      const bits = d.readUInt32LE(1);
      if (bits >>> 29 !== 0) throw damaged();
      image = { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    p += 8 + size + (size & 1);
  }
  if (p !== b.length || !image || !image.width || !image.height) throw damaged();
  if (canvas && (canvas.width !== image.width || canvas.height !== image.height)) throw damaged();
  return image;
}

// ---- PDF ----------------------------------------------------------------------------------

// pdf-lib takes ~0.4 s to import: loaded on the first image that asks for it, never at start-up.
let pdfLib: typeof import('pdf-lib') | undefined;

/**
 * Embed the image into a throwaway PDF with pdf-lib, exactly as a later stamp will. Only after
 * the checks above: pdf-lib's PNG decoder loops forever on some corrupt zlib streams (seen with
 * pdf-lib 1.17.1), which no try/catch can stop.
 */
async function embedInPdf(bytes: Buffer, type: ImageType): Promise<void> {
  pdfLib ??= await import('pdf-lib');
  const doc = await pdfLib.PDFDocument.create();
  // The whole decode happens in embedPng/embedJpg; writing the image into the file afterwards
  // only compresses pixels already decoded (and costs a second for a 2000 x 1000 signature).
  // A copy: pdf-lib's JPEG reader ignores a Buffer's offset into Node's shared pool.
  const own = Uint8Array.from(bytes);
  if (type === 'image/png') await doc.embedPng(own);
  else await doc.embedJpg(own);
}
