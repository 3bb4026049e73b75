// First-page previews of PDFs (plugins/files/preview.ts): rendered after commit in a worker thread,
// stored encrypted with a row and an audit event, served by /f/:fileId/preview to whoever may read
// the file, and purged with the version. A broken PDF, a timeout or a renderer out of memory is
// recorded as failed and the server keeps serving.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { LocalBlobStore } from '../../../core/storage/local.ts';
import { Previewer, RenderFailure, removePreviews, renderFirstPage } from '../../../plugins/files/preview.ts';
import { settingsSchema } from '../../../plugins/files/settings.ts';

const SETTINGS_DEFAULTS = settingsSchema.parse({});
import { purgeTrash, type FilesDeps } from '../../../plugins/files/service.ts';
import { filesWorld, upload, download, pdf, PNG, fileIdByName, type FilesWorld } from './helpers.ts';

const test = suite('files previews');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld();
});
test.after(async () => {
  await w.app.close();
});

const DAY = 86_400_000;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const db = () => w.app.kernel.db;
const blobPath = (key: string) => (w.app.kernel.storage.store as LocalBlobStore).pathOf(key);

/** A one-page PDF with a big black rectangle (so the rendering is not blank) and a line of text. */
async function makePdf(size: [number, number] = [595, 842], text = 'Engagement letter'): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const page = doc.addPage(size);
  page.drawRectangle({ x: size[0] * 0.1, y: size[1] * 0.35, width: size[0] * 0.8, height: size[1] * 0.5, color: rgb(0, 0, 0) });
  page.drawText(text, { x: size[0] * 0.1, y: size[1] * 0.2, size: 24, font: await doc.embedFont(StandardFonts.Helvetica) });
  return Buffer.from(await doc.save());
}

async function currentVersionOf(fileId: string): Promise<string> {
  return String((await db()('files_files').where({ id: fileId }).first('current_version_id')).current_version_id);
}

type PreviewRow = { id: string; workspace_id: string; status: string; reason: string | null; blob_key: string | null; width: number | null; height: number | null };

/** Wait (polling the table) until the renderer has recorded an outcome for `versionId`. */
async function outcomeOf(versionId: string, timeoutMs = 30_000): Promise<PreviewRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = (await db()('files_previews').where({ version_id: versionId }).first('id', 'workspace_id', 'status', 'reason', 'blob_key', 'width', 'height')) as PreviewRow | undefined;
    if (row) return { ...row, width: row.width == null ? null : Number(row.width), height: row.height == null ? null : Number(row.height) };
    if (Date.now() > deadline) throw new Error(`no preview recorded for version ${versionId} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function uploadAndWait(name: string, data: Buffer, fields: Record<string, string> = {}): Promise<{ fileId: string; versionId: string; row: PreviewRow }> {
  const res = await upload(w.as.staff, `${w.base}/upload`, [{ name, data }], fields);
  assert.is(res.status, 200, res.text);
  const fileId = await fileIdByName(w, name);
  const versionId = await currentVersionOf(fileId);
  return { fileId, versionId, row: await outcomeOf(versionId) };
}

/** How many pixels of a PNG are dark (the rectangle), and its size. */
async function ink(png: Buffer): Promise<{ width: number; height: number; dark: number }> {
  const img = await loadImage(png);
  const canvas = createCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const { data } = ctx.getImageData(0, 0, img.width, img.height);
  let dark = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i]! < 64 && data[i + 1]! < 64 && data[i + 2]! < 64) dark++;
  return { width: img.width, height: img.height, dark };
}

test('a PDF upload gets a ready preview: page 1 as a PNG 480 px wide, with the page on it, served to the client inline', async () => {
  const { fileId, versionId, row } = await uploadAndWait('engagement letter.pdf', await makePdf());
  assert.is(row.status, 'ready');
  assert.is(row.reason, null);
  assert.is(row.width, 480);
  assert.is(row.height, Math.round((842 * 480) / 595)); // aspect ratio kept
  assert.ok(row.blob_key);
  // Recorded like any blob of the plugin, bound to the preview's own context, with an audit event by the system.
  const blob = await db()('storage_blobs').where({ key: row.blob_key }).first('owner', 'workspace_id', 'bind');
  assert.equal({ ...blob }, { owner: 'files', workspace_id: w.ws.id, bind: `files-preview:${fileId}:${versionId}` });
  const event = await db()('audit_events').where({ action: 'files.preview.ready', subject_id: fileId }).first('actor_id', 'workspace_id', 'detail');
  assert.ok(event, 'audited');
  assert.is(event.actor_id, null);
  assert.is(event.workspace_id, w.ws.id);
  assert.match(String(event.detail), versionId);

  const res = await download(w.as.client_viewer, `${w.base}/f/${fileId}/preview`);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'image/png');
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  assert.match(res.headers.get('content-security-policy')!, /^sandbox\b/);
  assert.match(res.headers.get('content-disposition')!, /^inline;/);
  assert.is(res.headers.get('cache-control'), 'private, max-age=300');
  assert.ok(res.body.subarray(0, 8).equals(PNG_SIGNATURE), 'a PNG');
  const img = await ink(res.body);
  assert.is(img.width, 480);
  assert.is(img.height, row.height);
  // The rectangle covers 80% x 50% of the page: about 40% of the pixels are black.
  assert.ok(img.dark > img.width * img.height * 0.3, `${img.dark} dark pixels of ${img.width * img.height}`);
  assert.ok(img.dark < img.width * img.height * 0.6, 'and the rest of the page is white');

  // The list and the file page show it, with its alt text, lazily, at a known size.
  // (Handlebars escapes the `=` of the query string; a browser reads it back as `=`.)
  const src = `${w.base}/f/${fileId}/preview?v&#x3D;${versionId}`;
  const list = await w.as.client_viewer.get(`${w.base}/`);
  assert.match(list.text, `<img src="${src}" alt="First page of engagement letter.pdf" class="files-thumb" loading="lazy" width="23" height="32">`);
  const page = await w.as.client_viewer.get(`${w.base}/f/${fileId}`);
  assert.match(page.text, `<img src="${src}" alt="First page of engagement letter.pdf" class="files-preview" loading="lazy" width="480" height="${row.height}">`);
});

test('the preview is stored encrypted: the bytes on disk are not a PNG and do not contain the image', async () => {
  const fileId = await fileIdByName(w, 'engagement letter.pdf');
  const row = await outcomeOf(await currentVersionOf(fileId));
  const served = (await download(w.as.staff, `${w.base}/f/${fileId}/preview`)).body;
  const onDisk = readFileSync(blobPath(row.blob_key!));
  assert.not.ok(onDisk.subarray(0, 8).equals(PNG_SIGNATURE), 'no PNG signature at the start');
  assert.is(onDisk.indexOf(PNG_SIGNATURE), -1, 'no PNG signature anywhere');
  assert.is(onDisk.indexOf(Buffer.from('IHDR')), -1, 'no PNG chunk names');
  // No run of the image's bytes either (its compressed pixel data).
  assert.is(onDisk.indexOf(served.subarray(40, 72)), -1);
});

test('files that are not PDFs get no preview and no row; their preview route is 404', async () => {
  for (const [name, data] of [['notes.txt', Buffer.from('plain notes')], ['logo.png', PNG]] as const) {
    assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name, data }])).status, 200);
  }
  // Renders run one at a time in upload order: once a later PDF has its outcome, the earlier
  // uploads have been considered too.
  await uploadAndWait('later.pdf', await makePdf());
  for (const name of ['notes.txt', 'logo.png']) {
    const id = await fileIdByName(w, name);
    assert.not.ok(await db()('files_previews').where({ version_id: await currentVersionOf(id) }).first('id'), `${name}: no row`);
    assert.is((await download(w.as.staff, `${w.base}/f/${id}/preview`)).status, 404, name);
  }
  assert.is((await download(w.as.staff, `${w.base}/f/00000000-0000-7000-8000-000000000000/preview`)).status, 404);
});

test('a corrupt PDF (a valid header, a garbage body) is recorded as failed; the server keeps serving and rendering', async () => {
  const { fileId, row } = await uploadAndWait('broken.pdf', pdf('this is not a PDF body '.repeat(500)));
  assert.is(row.status, 'failed');
  assert.ok(row.reason && row.reason.length <= 200, String(row.reason));
  assert.is(row.blob_key, null);
  assert.ok(await db()('audit_events').where({ action: 'files.preview.failed', subject_id: fileId }).first('id'), 'audited');
  assert.is((await download(w.as.staff, `${w.base}/f/${fileId}/preview`)).status, 404);
  // The file itself is untouched: listed, downloadable, and no preview image in the list.
  const list = await w.as.staff.get(`${w.base}/`);
  assert.is(list.status, 200);
  assert.not.match(list.text, `/f/${fileId}/preview`);
  assert.is((await download(w.as.staff, `${w.base}/f/${fileId}/download`)).status, 200);
  assert.is((await w.as.staff.get('/healthz')).status, 200);
  // And the next PDF still renders.
  assert.is((await uploadAndWait('after broken.pdf', await makePdf())).row.status, 'ready');
});

test('a render that times out, or runs out of memory, is terminated and reported as a failure', async () => {
  const bytes = await makePdf();
  try {
    await renderFirstPage(new Uint8Array(bytes), { timeoutMs: 1 });
    assert.unreachable('should have timed out');
  } catch (err) {
    assert.instance(err, RenderFailure);
    assert.match((err as RenderFailure).reason, /^timed out after 1 ms$/);
  }
  try {
    await renderFirstPage(new Uint8Array(bytes), { heapMb: 2 });
    assert.unreachable('should have run out of memory');
  } catch (err) {
    assert.instance(err, RenderFailure);
    assert.match((err as RenderFailure).reason, /^ran out of memory/);
  }
  // Nothing leaked into this process: the same bytes render normally afterwards.
  const ok = await renderFirstPage(new Uint8Array(bytes));
  assert.is(ok.width, 480);
  assert.ok(ok.png.subarray(0, 8).equals(PNG_SIGNATURE));
});

test('a PDF larger than previewMaxBytes is skipped, with its reason, and nothing is rendered', async () => {
  const bytes = await makePdf();
  const small = await filesWorld({ slug: 'capped', overrides: { plugins: { settings: { files: { previewMaxBytes: bytes.length - 1 } } } } });
  try {
    assert.is((await upload(small.as.staff, `${small.base}/upload`, [{ name: 'too big.pdf', data: bytes }])).status, 200);
    const fileId = await fileIdByName(small, 'too big.pdf');
    const versionId = String((await small.app.kernel.db('files_files').where({ id: fileId }).first('current_version_id')).current_version_id);
    let row: { status: string; reason: string | null; blob_key: string | null } | undefined;
    for (const deadline = Date.now() + 30_000; !row && Date.now() < deadline; ) {
      row = await small.app.kernel.db('files_previews').where({ version_id: versionId }).first('status', 'reason', 'blob_key');
      if (!row) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(row, 'an outcome was recorded');
    assert.is(row.status, 'skipped');
    assert.is(row.reason, `larger than ${Math.floor((bytes.length - 1) / 1024 / 1024)} MiB`);
    assert.is(row.blob_key, null);
    assert.ok(await small.app.kernel.db('audit_events').where({ action: 'files.preview.skipped', subject_id: fileId }).first('id'), 'audited');
    assert.is((await download(small.as.staff, `${small.base}/f/${fileId}/preview`)).status, 404);
  } finally {
    await small.app.close();
  }
});

test('an internal PDF is never previewable by a client; a client of another workspace gets 404', async () => {
  const { fileId, row } = await uploadAndWait('internal memo.pdf', await makePdf(), { area: 'internal' });
  assert.is(row.status, 'ready');
  assert.is((await download(w.as.staff, `${w.base}/f/${fileId}/preview`)).status, 200);
  for (const role of ['client_admin', 'client_member', 'client_viewer'] as const) {
    assert.is((await download(w.as[role], `${w.base}/f/${fileId}/preview`)).status, 404, role);
    assert.is((await download(w.as[role], `${w.base}/f/${fileId}/preview`, { 'HX-Request': 'true' })).status, 404, `${role} (htmx)`);
    assert.not.match((await w.as[role].get(`${w.base}/`)).text, fileId, `${role}: not in the list`);
  }

  // A client admin of another workspace: neither through their own workspace nor through Acme's.
  const k = w.app.kernel;
  const password = 'other-workspace-password-123';
  await transaction(k.db, async (trx) => {
    const other = await createWorkspace(k, trx, { name: 'Other Co', slug: 'other' }, { actorId: null, via: 'cli' });
    const u = await createUser(k, trx, { email: 'client@other.example', name: 'Other client', passwordHash: await k.passwords.hash(password), firmRole: null }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: other.id, userId: u.id, role: 'client_admin' }, { actorId: null, via: 'cli' });
  });
  const stranger = w.app.client();
  assert.is((await stranger.login('client@other.example', password)).status, 303);
  const shared = await fileIdByName(w, 'engagement letter.pdf');
  for (const id of [shared, fileId]) {
    assert.is((await download(stranger, `/w/other/files/f/${id}/preview`)).status, 404);
    assert.is((await download(stranger, `${w.base}/f/${id}/preview`)).status, 404);
  }
  // Signed out: no preview either (a redirect to sign in, never the image).
  const anon = await download(w.app.client(), `${w.base}/f/${shared}/preview`);
  assert.ok(anon.status === 303 || anon.status === 302 || anon.status === 404, String(anon.status));
  assert.not.ok(anon.body.subarray(0, 8).equals(PNG_SIGNATURE));
});

test('a new version gets its own preview; restoring a version without one renders it', async () => {
  const fileId = await fileIdByName(w, 'engagement letter.pdf');
  const v1 = await currentVersionOf(fileId);
  // Version 2 is landscape: its preview is 480 wide and shorter.
  const v2 = await uploadAndWait('engagement letter.pdf', await makePdf([842, 595], 'Second draft'));
  assert.is(v2.fileId, fileId);
  assert.is.not(v2.versionId, v1);
  assert.is(v2.row.status, 'ready');
  assert.is(v2.row.height, Math.round((595 * 480) / 842));
  const served = await ink((await download(w.as.client_viewer, `${w.base}/f/${fileId}/preview`)).body);
  assert.is(served.height, v2.row.height, 'the route serves the current version');

  // Version 1 as it would be had it been uploaded before previews existed: no row, no blob.
  const v1Key = (await outcomeOf(v1)).blob_key!;
  await transaction(db(), (trx) => removePreviews(trx, w.app.kernel.storage, w.ws.id, [v1]));
  assert.not.ok(existsSync(blobPath(v1Key)));
  const restore = await w.as.staff.postForm(`${w.base}/f/${fileId}/v/${v1}/restore`, {});
  assert.is(restore.status, 303);
  const row = await outcomeOf(v1);
  assert.is(row.status, 'ready');
  assert.is((await ink((await download(w.as.client_viewer, `${w.base}/f/${fileId}/preview`)).body)).height, Math.round((842 * 480) / 595));
  // Restoring a version that has its preview renders nothing again.
  assert.is((await w.as.staff.postForm(`${w.base}/f/${fileId}/v/${v2.versionId}/restore`, {})).status, 303);
  await uploadAndWait('marker.pdf', await makePdf());
  assert.is(Number((await db()('files_previews').where({ version_id: v2.versionId }).count({ n: '*' }).first())!.n), 1);
  assert.is(Number((await db()('audit_events').where({ action: 'files.preview.ready', subject_id: fileId }).count({ n: '*' }).first())!.n), 3);
});

test('purging a file from the trash removes its previews: rows, storage rows and bytes', async () => {
  const fileId = await fileIdByName(w, 'engagement letter.pdf');
  const versions = (await db()('files_versions').where({ file_id: fileId }).pluck('id')) as string[];
  const rows = (await db()('files_previews').whereIn('version_id', versions).select('blob_key')) as Array<{ blob_key: string }>;
  assert.is(rows.length, 2);
  const keys = rows.map((r) => r.blob_key);
  for (const key of keys) assert.ok(existsSync(blobPath(key)));

  assert.is((await w.as.staff.postForm(`${w.base}/f/${fileId}/delete`, {})).status, 303);
  const k = w.app.kernel;
  const deps: FilesDeps = { db: k.db, storage: k.storage, audit: k.audit, events: k.events, notifications: k.notifications, logger: k.logger };
  assert.is(await purgeTrash(deps, 30, Date.now() + 31 * DAY), 1);
  assert.is((await db()('files_previews').whereIn('version_id', versions)).length, 0);
  assert.is((await db()('storage_blobs').whereIn('key', keys)).length, 0);
  for (const key of keys) assert.not.ok(existsSync(blobPath(key)), `preview blob ${key} deleted`);
  const purge = await db()('audit_events').where({ action: 'files.file.purge', subject_id: fileId }).first('detail');
  assert.match(String(purge.detail), '"previews":2');
  // Other files' previews are untouched.
  const other = await fileIdByName(w, 'later.pdf');
  assert.is((await download(w.as.staff, `${w.base}/f/${other}/preview`)).status, 200);
});

test('a PDF committed while nothing rendered it (a restart mid-queue) gets its preview from the hourly catch-up', async () => {
  const { fileId, versionId } = await uploadAndWait('catch up.pdf', await makePdf());
  // As if the process had stopped before rendering: the outcome is gone, the version is not.
  await transaction(db(), (trx) => removePreviews(trx, w.app.kernel.storage, w.ws.id, [versionId]));
  assert.is((await download(w.as.staff, `${w.base}/f/${fileId}/preview`)).status, 404);
  const k = w.app.kernel;
  const previewer = new Previewer({ db: k.db, storage: k.storage, audit: k.audit, logger: k.logger, settings: { ...SETTINGS_DEFAULTS }, now: () => Date.now() });
  try {
    // Only versions without an outcome are queued: the others here all have one.
    assert.is(await previewer.catchUp(), 1);
    assert.is((await outcomeOf(versionId)).status, 'ready');
    assert.is((await download(w.as.staff, `${w.base}/f/${fileId}/preview`)).status, 200);
    assert.is(await previewer.catchUp(), 0, 'nothing left to catch up');
  } finally {
    await previewer.stop();
  }
});

test.run();
