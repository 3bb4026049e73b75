// The files plugin end to end: upload, versions, download headers and ranges, zips, limits,
// the allow list, the trash, and what a client may never learn about internal files.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { filesWorld, upload, download, PNG, pdf, fileIdByName, type FilesWorld } from './helpers.ts';

const test = suite('files plugin');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld({ overrides: { plugins: { settings: { files: { maxFileBytes: 300_000, quotaBytes: 2_000_000 } } } } });
});
test.after(async () => {
  await w.app.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const blobDir = () => join(w.app.db.dataDir, 'blobs');
const tmpFiles = () => (existsSync(join(blobDir(), 'tmp')) ? readdirSync(join(blobDir(), 'tmp')) : []);

test('staff upload several files; the client downloads one with safe headers and the same bytes', async () => {
  const report = pdf('report body '.repeat(2000));
  const res = await upload(w.as.staff, `${w.base}/upload`, [
    { name: 'Q3 report.pdf', data: report },
    { name: 'notes.txt', data: 'plain notes' },
  ]);
  assert.is(res.status, 200, res.text);
  assert.match(res.text, 'Uploaded');
  const id = await fileIdByName(w, 'Q3 report.pdf');
  const d = await download(w.as.client_viewer, `${w.base}/f/${id}/download`);
  assert.is(d.status, 200);
  assert.is(sha(d.body), sha(report));
  assert.match(d.headers.get('content-disposition')!, /^attachment; filename="Q3 report.pdf"; filename\*=UTF-8''Q3%20report.pdf$/);
  assert.is(d.headers.get('x-content-type-options'), 'nosniff');
  assert.match(d.headers.get('content-security-policy')!, /^sandbox/);
  assert.is(d.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.is(d.headers.get('cache-control'), 'no-store');
  const row = await w.app.kernel.db('files_versions').where({ file_id: id }).first('sha256', 'size');
  assert.is(row.sha256, sha(report));
  assert.is(Number(row.size), report.length);
});

test('a download is a receipt: audit event and "downloaded by whom and when" for staff', async () => {
  const id = await fileIdByName(w, 'Q3 report.pdf');
  const n = await w.app.kernel.db('audit_events').where({ action: 'files.file.download', subject_id: id }).count({ n: '*' }).first();
  assert.ok(Number(n!.n) >= 1);
  const page = await w.as.staff.get(`${w.base}/f/${id}`);
  assert.match(page.text, 'client_viewer person');
  const csv = await download(w.as.staff, `${w.base}/report.csv`);
  assert.is(csv.status, 200);
  assert.match(csv.body.toString(), 'client.viewer@acme.example');
  assert.is((await download(w.as.client_admin, `${w.base}/report.csv`)).status, 404);
});

test('Range: a partial download returns 206 with the exact bytes; a bad range is 416', async () => {
  const data = pdf(randomBytes(150_000).toString('base64').slice(0, 200_000));
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'big.pdf', data }])).status, 200);
  const id = await fileIdByName(w, 'big.pdf');
  const r = await download(w.as.client_member, `${w.base}/f/${id}/download`, { range: 'bytes=65530-131080' });
  assert.is(r.status, 206);
  assert.is(r.headers.get('content-range'), `bytes 65530-131080/${data.length}`);
  assert.ok(r.body.equals(data.subarray(65530, 131081)));
  const tail = await download(w.as.client_member, `${w.base}/f/${id}/download`, { range: 'bytes=-10' });
  assert.ok(tail.body.equals(data.subarray(data.length - 10)));
  assert.is((await download(w.as.client_member, `${w.base}/f/${id}/download`, { range: `bytes=${data.length + 5}-` })).status, 416);
});

test('same name in the same folder is a new version; clients get the current one; staff see history and restore', async () => {
  const v1 = Buffer.from('version one');
  const v2 = Buffer.from('version two, longer');
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'plan.txt', data: v1 }])).status, 200);
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'Plan.txt', data: v2 }])).status, 200);
  const id = await fileIdByName(w, 'plan.txt');
  const versions = await w.app.kernel.db('files_versions').where({ file_id: id }).orderBy('number').select('id', 'number');
  assert.equal(versions.map((v: { number: number }) => Number(v.number)), [1, 2]);
  assert.ok((await download(w.as.client_viewer, `${w.base}/f/${id}/download`)).body.equals(v2));
  const staffPage = await w.as.staff.get(`${w.base}/f/${id}`);
  assert.match(staffPage.text, 'Versions');
  const clientPage = await w.as.client_admin.get(`${w.base}/f/${id}`);
  assert.not.match(clientPage.text, 'Versions');
  assert.is((await download(w.as.client_admin, `${w.base}/f/${id}/v/${versions[0].id}/download`)).status, 404);
  assert.ok((await download(w.as.staff, `${w.base}/f/${id}/v/${versions[0].id}/download`)).body.equals(v1));
  const restore = await w.as.staff.postForm(`${w.base}/f/${id}/v/${versions[0].id}/restore`, {});
  assert.is(restore.status, 303);
  assert.ok((await download(w.as.client_viewer, `${w.base}/f/${id}/download`)).body.equals(v1));
  assert.is((await w.as.client_admin.postForm(`${w.base}/f/${id}/v/${versions[1].id}/restore`, {})).status, 404);
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'files.version.restore', subject_id: id }).first());
});

test('a client uploads a new version through its own form; a viewer cannot upload', async () => {
  const id = await fileIdByName(w, 'notes.txt');
  const r = await upload(w.as.client_member, `${w.base}/f/${id}/versions`, [{ name: 'anything.txt', data: 'notes v2', field: 'file' }]);
  assert.is(r.status, 200, r.text);
  assert.ok((await download(w.as.staff, `${w.base}/f/${id}/download`)).body.equals(Buffer.from('notes v2')));
  assert.is((await upload(w.as.client_viewer, `${w.base}/upload`, [{ name: 'x.txt', data: 'x' }])).status, 404);
});

test('a file over the size limit is refused mid-stream with 413 and nothing is kept', async () => {
  const rowsBefore = await w.app.kernel.db('storage_blobs').count({ n: '*' }).first();
  const r = await upload(w.as.staff, `${w.base}/upload`, [{ name: 'huge.pdf', data: pdf('x'.repeat(300_001)) }]);
  assert.is(r.status, 413);
  assert.match(r.text, 'larger than');
  assert.equal(tmpFiles(), []);
  assert.is(Number((await w.app.kernel.db('storage_blobs').count({ n: '*' }).first())!.n), Number(rowsBefore!.n));
  assert.not.ok(await w.app.kernel.db('files_files').where({ name: 'huge.pdf' }).first());
  const keys = new Set((await w.app.kernel.db('storage_blobs').pluck('key')) as string[]);
  const onDisk = readdirSync(blobDir()).filter((d) => d.length === 2).flatMap((d) => readdirSync(join(blobDir(), d)));
  assert.ok(onDisk.every((k) => keys.has(k)), 'no blob without a row');
  assert.is((await w.as.staff.get('/healthz')).status, 200);
});

test('the workspace quota is enforced while streaming (413, nothing kept)', async () => {
  const used = Number(((await w.app.kernel.db('files_versions').where({ workspace_id: w.ws.id }).sum({ n: 'size' }).first()) as { n: number }).n);
  const chunk = 280_000;
  const names: string[] = [];
  let last = 200;
  for (let i = 0; used + (i + 1) * chunk <= 2_000_000 + chunk && i < 10; i++) {
    names.push(`fill-${i}.pdf`);
    last = (await upload(w.as.staff, `${w.base}/upload`, [{ name: `fill-${i}.pdf`, data: pdf('y'.repeat(chunk - 30)) }])).status;
    if (last === 413) break;
  }
  assert.is(last, 413);
  assert.equal(tmpFiles(), []);
  const total = Number(((await w.app.kernel.db('files_versions').where({ workspace_id: w.ws.id }).sum({ n: 'size' }).first()) as { n: number }).n);
  assert.ok(total <= 2_000_000, `stored ${total}`);
  // Free the space for the tests below.
  for (const n of names) {
    const f = await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: n }).first('id');
    if (f) {
      await w.app.kernel.db('files_downloads').where({ file_id: f.id }).delete();
      const keys = await w.app.kernel.db('files_versions').where({ file_id: f.id }).pluck('blob_key');
      await w.app.kernel.db('files_versions').where({ file_id: f.id }).delete();
      await w.app.kernel.db('storage_blobs').whereIn('key', keys).delete();
      await w.app.kernel.db('files_files').where({ id: f.id }).delete();
    }
  }
});

test('magic bytes: SVG renamed .png, HTML as .txt and unknown types are refused (415)', async () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>';
  for (const [name, data] of [
    ['logo.png', svg],
    ['logo.svg', svg],
    ['page.txt', '<!doctype html><script>alert(1)</script>'],
    ['page.html', '<html></html>'],
    ['tool.exe', 'MZ\u0090\u0000'],
    ['photo.pdf', PNG],
  ] as Array<[string, string | Buffer]>) {
    const r = await upload(w.as.staff, `${w.base}/upload`, [{ name, data }]);
    assert.is(r.status, 415, `${name}: ${r.status}`);
  }
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'pixel.png', data: PNG }])).status, 200);
  assert.equal(tmpFiles(), []);
});

test('malformed multipart is a 400, and the server keeps serving', async () => {
  for (const body of ['--x\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\nabc', 'garbage', '--x--']) {
    const r = await w.as.staff.request('POST', `${w.base}/upload`, { body, headers: { 'content-type': 'multipart/form-data; boundary=x', 'x-csrf-token': w.as.staff.csrf!, 'hx-request': 'true' } });
    assert.is(r.status, 400, `${JSON.stringify(body)} -> ${r.status}`);
  }
  const r = await w.as.staff.request('POST', `${w.base}/upload`, { body: 'a=b', headers: { 'content-type': 'text/plain', 'x-csrf-token': w.as.staff.csrf!, 'hx-request': 'true' } });
  assert.is(r.status, 400);
  assert.is((await w.as.staff.get('/healthz')).status, 200);
});

test('an upload without the CSRF header is refused (a JS-off form cannot upload)', async () => {
  const r = await upload(w.as.staff, `${w.base}/upload`, [{ name: 'x.txt', data: 'x' }], {}, { csrf: false });
  assert.is(r.status, 403);
});

test('a name with CR/LF and quotes never breaks the Content-Disposition header', async () => {
  const r = await upload(w.as.staff, `${w.base}/upload`, [{ name: 'evil"\r\nSet-Cookie: x=1.txt', data: 'x' }]);
  assert.is(r.status, 200, r.text);
  const f = await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id }).andWhere('name', 'like', 'evil%').first('id');
  const d = await download(w.as.staff, `${w.base}/f/${f.id}/download`);
  assert.is(d.headers.get('set-cookie'), null);
  assert.not.match(d.headers.get('content-disposition')!, /[\r\n]/);
});

async function unzip(buf: Buffer): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (err, z) => (err ? reject(err) : resolve(z!))));
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      zip.openReadStream(e, (err, s) => {
        if (err) return reject(err);
        const parts: Buffer[] = [];
        s!.on('data', (c: Buffer) => parts.push(c));
        s!.on('end', () => {
          out.set(e.fileName, Buffer.concat(parts));
          zip.readEntry();
        });
      });
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return out;
}

test('a folder zip opens and matches the originals; names are sanitised; internal files stay out for clients', async () => {
  const create = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Deliverables', parent: '', area: 'shared', client_access: 'upload' });
  assert.is(create.status, 303);
  const folderId = create.location!.split('/').pop()!;
  const sub = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Drafts', parent: folderId, area: 'shared', client_access: 'view' });
  const subId = sub.location!.split('/').pop()!;
  const a = pdf('alpha '.repeat(5000));
  const b = Buffer.from('beta text');
  const c = PNG;
  assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [{ name: 'alpha.pdf', data: a }, { name: 'beta.txt', data: b }])).status, 200);
  assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${subId}`, [{ name: '..%2f..%2fgamma.png', data: c }])).status, 200);
  assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [{ name: 'secret-internal.txt', data: 'internal only' }], { area: 'internal' })).status, 200);
  const staffZip = await download(w.as.staff, `${w.base}/folders/${folderId}/zip`);
  assert.is(staffZip.status, 200);
  assert.is(staffZip.headers.get('content-type'), 'application/zip');
  const entries = await unzip(staffZip.body);
  assert.equal([...entries.keys()].sort(), ['Drafts/%2f..%2fgamma.png', 'alpha.pdf', 'beta.txt', 'secret-internal.txt'], [...entries.keys()].join(' | '));
  assert.ok(entries.get('alpha.pdf')!.equals(a));
  assert.ok(entries.get('beta.txt')!.equals(b));
  assert.ok(entries.get('Drafts/%2f..%2fgamma.png')!.equals(c));
  assert.ok(entries.has('secret-internal.txt'));
  for (const name of entries.keys()) assert.not.ok(name.split('/').includes('..'), name);
  const clientZip = await unzip((await download(w.as.client_viewer, `${w.base}/folders/${folderId}/zip`)).body);
  assert.not.ok([...clientZip.keys()].some((n) => n.includes('secret-internal')));
  assert.is(clientZip.size, 3);
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'files.zip.download' }).first());
});

test('a client never learns the name, count or size of an internal file (listing, search, zip, file page, widget)', async () => {
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'zz-internal-memo.txt', data: 'x'.repeat(777) }], { area: 'internal', deliverable: 'yes' })).status, 200);
  const id = await fileIdByName(w, 'zz-internal-memo.txt');
  for (const who of ['client_admin', 'client_member', 'client_viewer'] as const) {
    const c = w.as[who];
    for (const url of [`${w.base}/`, `${w.base}/?q=zz-internal`, `${w.base}/?q=memo&sort=size&dir=desc`, `/w/${w.ws.slug}/`]) {
      const page = await c.get(url);
      assert.not.match(page.text, 'zz-internal-memo.txt', `${who} ${url}`);
      assert.not.match(page.text, '777 B', `${who} ${url}`);
    }
    const frag = await c.get(`${w.base}/?q=zz`, { 'HX-Request': 'true', 'HX-Target': 'file-list' });
    assert.not.match(frag.text, 'zz-internal-memo.txt');
    assert.match(frag.text, 'No file names contain');
    assert.is((await c.get(`${w.base}/f/${id}`)).status, 404);
    assert.is((await download(c, `${w.base}/f/${id}/download`)).status, 404);
    const zipRes = await c.request('POST', `${w.base}/zip`, { body: new URLSearchParams({ _csrf: c.csrf!, ids: id }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.is(zipRes.status, 404);
  }
  // The file is internal, so it was not delivered: no notification went out for it.
  assert.not.ok(await w.app.kernel.db('notifications').where('subject', 'like', '%zz-internal%').first());
  assert.match((await w.as.staff.get(`${w.base}/?q=zz-internal`)).text, 'zz-internal-memo.txt');
});

test('delete to trash, restore; clients in a view-only folder cannot organise', async () => {
  const id = await fileIdByName(w, 'beta.txt');
  assert.is((await w.as.client_admin.postForm(`${w.base}/f/${id}/delete`, {})).status, 404, 'Deliverables folder is upload-only for clients');
  assert.is((await w.as.staff.postForm(`${w.base}/f/${id}/delete`, {})).status, 303);
  assert.not.match((await w.as.client_viewer.get(`${w.base}/?q=beta`)).text, 'beta.txt');
  assert.match((await w.as.staff.get(`${w.base}/trash`)).text, 'beta.txt');
  assert.is((await w.as.staff.postForm(`${w.base}/f/${id}/restore`, {})).status, 303);
  assert.match((await w.as.client_viewer.get(`${w.base}/?q=beta`)).text, 'beta.txt');
});

test('rename: errors beside the field, nothing saved; a valid rename is audited', async () => {
  const id = await fileIdByName(w, 'alpha.pdf');
  const bad = await w.as.staff.postForm(`${w.base}/f/${id}/rename`, { name: '../x' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'file-name-error');
  const taken = await w.as.staff.postForm(`${w.base}/f/${id}/rename`, { name: 'beta.txt' });
  assert.is(taken.status, 400);
  assert.is((await w.as.staff.postForm(`${w.base}/f/${id}/rename`, { name: 'alpha-final.pdf', area: 'shared' })).status, 303);
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'files.file.rename', subject_id: id }).first());
});

test('sort, paginate and search by name answer with the list fragment for htmx', async () => {
  const frag = await w.as.client_viewer.get(`${w.base}/?sort=size&dir=desc`, { 'HX-Request': 'true', 'HX-Target': 'file-list' });
  assert.is(frag.status, 200);
  assert.not.match(frag.text, '<html');
  assert.match(frag.text, 'aria-sort="descending"');
});

test.run();
