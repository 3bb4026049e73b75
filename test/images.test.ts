// Untrusted images (core/images.ts): decoded in full when received, bounded before anything is
// inflated, and every failure a sentence for the person, never an exception. Issue 13: a PNG
// with a valid header and a corrupt IDAT passed the old header checks and broke completion later.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeUntrustedImage, sniffImageType, type ImageLimits } from '../core/images.ts';
import { corruptPng, ihdr, JPEG_64x32, PNG_MAGIC, pngChunk, pngWithIdat, realPng, WEBP_64x32 } from './helpers/images.ts';

const test = suite('untrusted images');
const PNG_ONLY: ImageLimits = { types: ['image/png'], maxBytes: 200 * 1024, minWidth: 50, minHeight: 20, maxWidth: 2000, maxHeight: 1000, pdf: true };
const LOGO: ImageLimits = { types: ['image/png', 'image/jpeg', 'image/webp'], maxBytes: 512 * 1024, maxWidth: 4096, maxHeight: 4096 };

async function refused(bytes: Buffer, limits: ImageLimits, code: string, label = '') {
  const r = await decodeUntrustedImage(bytes, limits, { label: 'The picture', again: 'Try another.' });
  assert.is(r.ok, false, `${label}: should be refused`);
  if (r.ok) return;
  assert.is(r.code, code, `${label}: ${r.problem}`);
  assert.match(r.problem, /^The picture .+ Try another\.$|^The picture uses/, 'a sentence naming the thing and what to do');
}

test('a real PNG (plain and interlaced), JPEG and WebP decode to their type and size', async () => {
  assert.equal(await decodeUntrustedImage(realPng(300, 100), PNG_ONLY), { ok: true, type: 'image/png', width: 300, height: 100 });
  assert.equal(await decodeUntrustedImage(realPng(123, 45, { interlace: true }), PNG_ONLY), { ok: true, type: 'image/png', width: 123, height: 45 });
  assert.equal(await decodeUntrustedImage(JPEG_64x32, LOGO), { ok: true, type: 'image/jpeg', width: 64, height: 32 });
  assert.equal(await decodeUntrustedImage(JPEG_64x32, { ...LOGO, pdf: true }), { ok: true, type: 'image/jpeg', width: 64, height: 32 });
  assert.equal(await decodeUntrustedImage(WEBP_64x32, LOGO), { ok: true, type: 'image/webp', width: 64, height: 32 });
});

test('a PNG with a valid signature, IHDR and CRCs but a corrupt IDAT is refused (issue 13), whichever way pdf-lib would fail on it', async () => {
  // range: pdf-lib throws RangeError; type: TypeError. Both refused before or by pdf-lib's decoder.
  await refused(corruptPng('range'), PNG_ONLY, 'damaged', 'RangeError data');
  await refused(corruptPng('type'), PNG_ONLY, 'damaged', 'TypeError data');
  // pdf-lib never returns on this one: the kernel's own inflate refuses it first (pdf: false here
  // so that a regression in that order cannot hang the suite).
  await refused(corruptPng('loop'), { ...PNG_ONLY, pdf: false }, 'damaged', 'data pdf-lib loops on');
});

test('the pixel stream must be exactly what IHDR promises: short, long, a bad filter byte, a bad checksum', async () => {
  const row = 300 * 4 + 1;
  await refused(pngWithIdat(300, 100, deflateSync(Buffer.alloc(row * 100 - 1))), PNG_ONLY, 'damaged', 'one byte short');
  await refused(pngWithIdat(300, 100, deflateSync(Buffer.alloc(row * 100 + 1))), PNG_ONLY, 'damaged', 'one byte long');
  const badFilter = Buffer.alloc(row * 100);
  badFilter[row * 50] = 5;
  await refused(pngWithIdat(300, 100, deflateSync(badFilter)), PNG_ONLY, 'damaged', 'filter type 5');
  const z = deflateSync(Buffer.alloc(row * 100));
  z[z.length - 1]! ^= 1; // Adler-32
  await refused(pngWithIdat(300, 100, z), PNG_ONLY, 'damaged', 'zlib checksum');
  const crc = realPng();
  crc[40]! ^= 1; // inside IDAT: its CRC no longer matches
  await refused(crc, PNG_ONLY, 'damaged', 'chunk CRC');
});

test('the PNG structure: IHDR first, IEND last and nothing after, a palette when indexed, no animation, no unknown critical chunk', async () => {
  const ok = realPng();
  await refused(ok.subarray(0, ok.length - 12), PNG_ONLY, 'damaged', 'no IEND');
  await refused(Buffer.concat([ok, Buffer.from('<script>')]), PNG_ONLY, 'damaged', 'trailing bytes');
  await refused(Buffer.concat([PNG_MAGIC, pngChunk('IDAT', deflateSync(Buffer.alloc(10))), ihdr(300, 100)]), PNG_ONLY, 'damaged', 'IDAT before IHDR');
  const indexed = Buffer.concat([PNG_MAGIC, ihdr(300, 100, { colour: 3 }), pngChunk('IDAT', deflateSync(Buffer.alloc(301 * 100))), pngChunk('IEND', Buffer.alloc(0))]);
  await refused(indexed, PNG_ONLY, 'damaged', 'indexed without PLTE');
  await refused(Buffer.concat([PNG_MAGIC, ihdr(300, 100, { depth: 3 }), pngChunk('IEND', Buffer.alloc(0))]), PNG_ONLY, 'damaged', 'bit depth 3');
  const acTL = pngChunk('acTL', Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]));
  await refused(pngWithIdat(300, 100, deflateSync(Buffer.alloc(1201 * 100)), [acTL]), PNG_ONLY, 'animated', 'APNG');
  await refused(pngWithIdat(300, 100, deflateSync(Buffer.alloc(1201 * 100)), [pngChunk('XXXX', Buffer.alloc(4))]), PNG_ONLY, 'damaged', 'unknown critical chunk');
  const ancillary = pngWithIdat(300, 100, deflateSync(Buffer.alloc(1201 * 100)), [pngChunk('tEXt', Buffer.from('Software\0pad'))]);
  assert.ok((await decodeUntrustedImage(ancillary, PNG_ONLY)).ok, 'an ancillary chunk is fine');
});

test('bounds come before decoding: bytes, width, height and pixel count (a decompression bomb is refused unread)', async () => {
  // IHDR claims 30000 x 30000 (3.6 GB of pixels); the IDAT is never inflated.
  await refused(pngWithIdat(30000, 30000, deflateSync(Buffer.alloc(10))), PNG_ONLY, 'too-big-dimensions', '30000 x 30000');
  await refused(pngWithIdat(4096, 4096, deflateSync(Buffer.alloc(10))), { ...LOGO, maxPixels: 1_000_000 }, 'too-big-dimensions', 'pixel count');
  await refused(realPng(40, 100), PNG_ONLY, 'too-small-dimensions', 'narrower than 50');
  await refused(Buffer.concat([realPng(), Buffer.alloc(200 * 1024)]), PNG_ONLY, 'too-large', 'over 200 KB');
  await refused(Buffer.alloc(0), PNG_ONLY, 'empty', 'empty');
  const big = await decodeUntrustedImage(pngWithIdat(30000, 30000, Buffer.alloc(1)), PNG_ONLY);
  assert.ok(!big.ok && big.problem.includes('30000 x 30000'), 'the sentence gives the size found');
});

test('the type is sniffed from the bytes, and limited to what the caller accepts (no WebP where a PDF embeds it)', async () => {
  assert.is(sniffImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), null);
  await refused(Buffer.from('<svg onload="alert(1)"/>'), LOGO, 'type', 'SVG');
  await refused(JPEG_64x32, PNG_ONLY, 'type', 'JPEG where only PNG is accepted');
  await refused(WEBP_64x32, { ...LOGO, pdf: true }, 'type', 'WebP for a PDF');
  const r = await decodeUntrustedImage(WEBP_64x32, { ...LOGO, pdf: true });
  assert.ok(!r.ok && r.problem.includes('not a PNG or JPEG image'), !r.ok ? r.problem : '');
});

test('a truncated JPEG or WebP is refused at every length (Skia would crash the process on some of these)', async () => {
  for (let n = 3; n < JPEG_64x32.length - 1; n += 37) await refused(JPEG_64x32.subarray(0, n), LOGO, 'damaged', `JPEG cut at ${n}`);
  for (let n = 12; n < WEBP_64x32.length; n += 29) await refused(WEBP_64x32.subarray(0, n), LOGO, 'damaged', `WebP cut at ${n}`);
  // Arithmetic-coded JPEG (SOF9): not something a browser shows.
  const arithmetic = Buffer.from(JPEG_64x32);
  const sof = arithmetic.indexOf(Buffer.from([0xff, 0xc0]));
  arithmetic[sof + 1] = 0xc9;
  await refused(arithmetic, LOGO, 'unsupported', 'SOF9');
  // An animated WebP (VP8X with the animation flag).
  const animated = Buffer.from(WEBP_64x32);
  animated[20]! |= 0x02;
  await refused(animated, LOGO, 'animated', 'animated WebP');
});

test('never throws: 600 random corruptions of a PNG, a JPEG and a WebP each resolve to a result', async () => {
  for (const [name, good, limits] of [
    ['PNG', realPng(), PNG_ONLY],
    ['JPEG', JPEG_64x32, LOGO],
    ['WebP', WEBP_64x32, LOGO],
  ] as const) {
    for (let i = 0; i < 200; i++) {
      const b = Buffer.from(good);
      const hits = 1 + (i % 4);
      for (let k = 0; k < hits; k++) b[8 + Math.floor(Math.random() * (b.length - 8))] = randomBytes(1)[0]!;
      const cut = i % 5 === 0 ? b.subarray(0, 8 + Math.floor(Math.random() * (b.length - 8))) : b;
      const r = await decodeUntrustedImage(cut, { ...limits, pdf: false });
      assert.type(r.ok, 'boolean', `${name} #${i}`);
      if (!r.ok) assert.type(r.problem, 'string');
    }
  }
});

test.run();
