// The branding logo is an untrusted image shown on every page: it goes through the kernel's
// decoder (core/images.ts) when it is uploaded, and a damaged, truncated or oversized file is
// refused there with the form error beside the field (issue 13). Before, only the magic bytes
// were sniffed, so any bytes after a PNG signature were stored and served.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync } from 'node:zlib';
import { setupOwner, startApp, type TestApp } from './helpers/app.ts';
import type { HttpClient } from './helpers/http.ts';
import { corruptPng, JPEG_64x32, pngWithIdat, realPng, WEBP_64x32 } from './helpers/images.ts';

const test = suite('branding: the logo is decoded when uploaded');
let app: TestApp;
let owner: HttpClient;

test.before(async () => {
  app = await startApp();
  owner = (await setupOwner(app)).client;
  await owner.get('/admin/branding');
});
test.after(async () => {
  await app.close();
});

const upload = (data: Buffer, name = 'logo.png') => {
  const form = new FormData();
  form.append('logo', new Blob([data]), name);
  return owner.request('POST', '/admin/branding/logo', { body: form, headers: { 'x-csrf-token': owner.csrf!, 'hx-request': 'true' } });
};
const stored = async () => {
  const res = await fetch(`${app.url}/brand/logo`);
  return res.status === 200 ? { type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) } : null;
};

test('a real PNG, JPEG and WebP are saved with the type read from their bytes', async () => {
  for (const [bytes, type] of [
    [JPEG_64x32, 'image/jpeg'],
    [WEBP_64x32, 'image/webp'],
    [realPng(400, 120), 'image/png'],
  ] as const) {
    const res = await upload(bytes, 'logo.bin');
    assert.is(res.status, 204, res.text.slice(0, 300));
    const logo = await stored();
    assert.is(logo?.type, type);
    assert.ok(logo?.bytes.equals(bytes));
  }
});

test('a PNG with a valid header and a corrupt IDAT is refused with the form error; the logo stays as it was', async () => {
  const before = await stored();
  const res = await upload(corruptPng('range'));
  assert.is(res.status, 400);
  assert.match(res.text, 'id="logo-error"');
  assert.match(res.text, 'The logo is damaged or incomplete');
  const after = await stored();
  assert.ok(before && after && after.bytes.equals(before.bytes), 'nothing saved');
});

test('a truncated JPEG, an image too big to show and a file that is no image are refused with a reason', async () => {
  const cut = await upload(JPEG_64x32.subarray(0, 400), 'logo.jpg');
  assert.is(cut.status, 400);
  assert.match(cut.text, 'damaged or incomplete');
  const huge = await upload(pngWithIdat(20000, 20000, deflateSync(Buffer.alloc(100))));
  assert.is(huge.status, 400);
  assert.match(huge.text, '20000 x 20000 pixels');
  const svg = await upload(Buffer.from('<svg onload=alert(1)>'), 'logo.png');
  assert.is(svg.status, 415);
  assert.match(svg.text, 'not a PNG, JPEG or WebP image');
});

test.run();
