// Deceptive names (issue 13, finding 4): a right-to-left override or a zero-width character in a
// file or folder name is removed when the name comes in (upload, new folder, rename) and again
// when it goes out (the page, Content-Disposition, zip entries), so a name stored before the rule
// is served safe too; zip entries are safe to extract on Windows (CON.txt, NUL/, trailing dots).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import yauzl from 'yauzl';
import { download, fileIdByName, filesWorld, upload, type FilesWorld } from './helpers.ts';

const test = suite('files: safe names');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld({ slug: 'names' });
});
test.after(async () => {
  await w.app.close();
});

/** Bidi controls and zero-width characters: none may reach a page, a header or a zip. */
const DECEPTIVE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/;
const db = () => w.app.kernel.db;
const names = async () => (await db()('files_files').where({ workspace_id: w.ws.id }).pluck('name')) as string[];
const folderNames = async () => (await db()('files_folders').where({ workspace_id: w.ws.id }).pluck('name')) as string[];

async function zipNames(buf: Buffer): Promise<string[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(buf, { lazyEntries: true, strictFileNames: true }, (err, z) => (err ? reject(err) : resolve(z!))));
  const out: string[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      out.push(e.fileName);
      zip.readEntry();
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return out.sort();
}

test('an upload named with a right-to-left override or zero-width characters is stored and shown as its real name', async () => {
  const res = await upload(w.as.staff, `${w.base}/upload`, [
    { name: 'rtl-invoice\u202efdp.txt', data: 'not a pdf' },
    { name: 'zero\u200bwidth\u200d\ufeff.txt', data: 'zero width' },
    { name: 'Cafe\u0301 menu.txt', data: 'NFC' },
  ]);
  assert.is(res.status, 200, res.text.slice(0, 500));
  const stored = await names();
  assert.ok(stored.includes('rtl-invoicefdp.txt'), stored.join(' | '));
  assert.ok(stored.includes('zerowidth.txt'), stored.join(' | '));
  assert.ok(stored.includes('Caf\u00e9 menu.txt'), stored.join(' | '));
  assert.not.ok(stored.some((n) => DECEPTIVE.test(n)));
  for (const c of [w.as.staff, w.as.client_viewer]) {
    const list = await c.get(`${w.base}/`);
    assert.match(list.text, 'rtl-invoicefdp.txt');
    assert.not.match(list.text, DECEPTIVE);
  }
  const d = await download(w.as.client_viewer, `${w.base}/f/${await fileIdByName(w, 'rtl-invoicefdp.txt')}/download`);
  assert.is(d.status, 200);
  assert.is(d.headers.get('content-disposition'), "attachment; filename=\"rtl-invoicefdp.txt\"; filename*=UTF-8''rtl-invoicefdp.txt");
});

test('a folder named or renamed with bidi or zero-width characters is stored without them; slashes and line breaks are refused beside the field', async () => {
  const made = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Invoices\u202e2024', parent: '', area: 'shared', client_access: 'view' });
  assert.is(made.status, 303, made.text.slice(0, 300));
  const id = made.location!.split('/').pop()!;
  assert.ok((await folderNames()).includes('Invoices2024'));
  const renamed = await w.as.staff.postForm(`${w.base}/folders/${id}`, { name: 'Invoices\u200b 2024\u2066', client_access: 'view' });
  assert.is(renamed.status, 303, renamed.text.slice(0, 300));
  assert.is((await db()('files_folders').where({ id }).first('name')).name, 'Invoices 2024');
  for (const name of ['a/b', 'two\nlines']) {
    const bad = await w.as.staff.postForm(`${w.base}/folders`, { name, parent: '', area: 'shared', client_access: 'view' });
    assert.is(bad.status, 400);
    assert.match(bad.text, 'Names cannot contain slashes or control characters');
  }
  assert.not.ok((await folderNames()).some((n) => DECEPTIVE.test(n)));
});

test('a file renamed with a right-to-left override keeps its real name', async () => {
  const id = await fileIdByName(w, 'zerowidth.txt');
  const r = await w.as.staff.postForm(`${w.base}/f/${id}/rename`, { name: 'report\u202efdp.exe.txt', area: 'shared' });
  assert.is(r.status, 303, r.text.slice(0, 300));
  assert.is((await db()('files_files').where({ id }).first('name')).name, 'reportfdp.exe.txt');
});

test('a zip never carries a Windows device name, a reserved character or a deceptive name, even from names stored before the rule', async () => {
  const outer = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Outer', parent: '', area: 'shared', client_access: 'view' });
  const outerId = outer.location!.split('/').pop()!;
  const made = await w.as.staff.postForm(`${w.base}/folders`, { name: 'NUL', parent: outerId, area: 'shared', client_access: 'view' });
  assert.is(made.status, 303, made.text.slice(0, 300));
  const folderId = made.location!.split('/').pop()!;
  const up = await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [
    { name: 'CON.txt', data: 'con' },
    { name: 'com1.log.txt', data: 'com1' },
    { name: 'legacy.txt', data: 'legacy' },
    { name: 'questions?.txt', data: 'q' },
  ]);
  assert.is(up.status, 200, up.text.slice(0, 300));
  // Names as an older version stored them: the override, zero-width characters, a trailing dot.
  const legacyId = await fileIdByName(w, 'legacy.txt');
  await db()('files_files').where({ id: legacyId }).update({ name: 'old-invoice\u202efdp.txt', name_key: 'old-invoice\u202efdp.txt' });
  await db()('files_files').where({ id: await fileIdByName(w, 'questions?.txt') }).update({ name: 'trailing\u200b dot.', name_key: 'trailing\u200b dot.' });
  const zip = await download(w.as.client_viewer, `${w.base}/folders/${outerId}/zip`);
  assert.is(zip.status, 200);
  const entries = await zipNames(zip.body);
  assert.equal(entries, ['_NUL/_CON.txt', '_NUL/_com1.log.txt', '_NUL/old-invoicefdp.txt', '_NUL/trailing dot'], entries.join(' | '));
  const own = await download(w.as.client_viewer, `${w.base}/folders/${folderId}/zip`);
  assert.equal(await zipNames(own.body), ['_CON.txt', '_com1.log.txt', 'old-invoicefdp.txt', 'trailing dot']);
  assert.is(own.headers.get('content-disposition'), "attachment; filename=\"NUL.zip\"; filename*=UTF-8''NUL.zip");
  // The same stored name on the file page and in its download header.
  const page = await w.as.client_viewer.get(`${w.base}/f/${legacyId}`);
  assert.is(page.status, 200);
  assert.match(page.text, 'old-invoicefdp.txt');
  assert.not.match(page.text, DECEPTIVE);
  const d = await download(w.as.client_viewer, `${w.base}/f/${legacyId}/download`);
  assert.is(d.headers.get('content-disposition'), "attachment; filename=\"old-invoicefdp.txt\"; filename*=UTF-8''old-invoicefdp.txt");
  // A zip of chosen files too (POST /zip).
  const c = w.as.staff;
  const picked = await fetch(c.base + `${w.base}/zip`, {
    method: 'POST',
    headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([['_csrf', c.csrf!], ['ids', legacyId], ['ids', await fileIdByName(w, 'CON.txt')]]).toString(),
  });
  assert.is(picked.status, 200);
  assert.equal(await zipNames(Buffer.from(await picked.arrayBuffer())), ['_CON.txt', 'old-invoicefdp.txt']);
});

test.run();
