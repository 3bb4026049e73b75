// Documents read in place on the approval side (issue 14): the request page and the emailed
// decision link show the version being decided as page images ("Page 1 of 2"), served with the
// download headers only to who may read the request (404 otherwise, and through a used link);
// a PDF that cannot be shown, or a file that is not a PDF, says so and offers the download instead
// of failing.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { download, upload } from '../files/helpers.ts';
import { approvalsWorld, linkIn, requestApproval, uploadFile, type World } from './helpers.ts';

const test = suite('approvals: documents in place');
let w: World;
let id: string;
let versionId: string;

test.before(async () => {
  w = await approvalsWorld();
});
test.after(async () => {
  await w.app.close();
});

async function makePdf(pages: number): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 1; i <= pages; i++) doc.addPage([595, 842]).drawText(`Brand guidelines, page ${i}`, { x: 60, y: 760, size: 18, font });
  return Buffer.from(await doc.save());
}

async function uploadBytes(name: string, data: Buffer): Promise<string> {
  await w.as.staff.get(`/w/${w.ws.slug}/files/`);
  const res = await upload(w.as.staff, `/w/${w.ws.slug}/files/upload`, [{ name, data }]);
  assert.is(res.status, 200, res.text.slice(0, 300));
  return String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name }).first('id')).id);
}

/** Wait for the files plugin's background preview of every PDF uploaded so far, so it does not write during a "GET writes nothing" check. */
async function previewsSettled(db: () => import('knex').Knex): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const pending = await db()('files_versions as v').leftJoin('files_previews as p', 'p.version_id', 'v.id').where('v.content_type', 'application/pdf').whereNull('p.id').first('v.id');
    if (!pending) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('previews did not settle');
}

const JPEG = (b: Buffer) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const footprint = async () => JSON.stringify(await Promise.all(['audit_events', 'approvals_decisions', 'links', 'approvals_requests'].map((t) => w.app.kernel.db(t).select('*').orderBy('id'))));

function assertDownloadHeaders(h: Headers) {
  assert.is(h.get('content-type'), 'image/jpeg');
  assert.match(h.get('content-disposition')!, /^attachment; filename="Brand guidelines \(page 1\)\.jpg"; filename\*=UTF-8''/);
  assert.is(h.get('x-content-type-options'), 'nosniff');
  assert.match(h.get('content-security-policy')!, /^sandbox/);
  assert.is(h.get('cross-origin-resource-policy'), 'same-origin');
  assert.is(h.get('cache-control'), 'no-store');
}

test('the request page shows the version being decided as page images, to who may read the request', async () => {
  const fileId = await uploadBytes('Brand guidelines.pdf', await makePdf(2));
  const made = await requestApproval(w, fileId, { title: 'Brand guidelines', approvers: [w.users.member] });
  assert.ok(made.id, made.res.text.slice(0, 500));
  id = made.id!;
  versionId = String((await w.app.kernel.db('approvals_requests').where({ id }).first('version_id')).version_id);
  const base = `/w/${w.ws.slug}/approvals/r/${id}`;
  for (const who of ['member', 'admin', 'staff'] as const) {
    const page = await w.as[who].get(base);
    assert.is(page.status, 200, who);
    assert.match(page.text, `<img src="${base}/pages/1" alt="Page 1 of 2"`, who);
    assert.match(page.text, `alt="Page 2 of 2"`, who);
  }
  await previewsSettled(() => w.app.kernel.db);
  const before = await footprint();
  const img = await download(w.as.member, `${base}/pages/1`);
  assert.is(img.status, 200);
  assert.ok(JPEG(img.body), 'a JPEG');
  assertDownloadHeaders(img.headers);
  assert.is(await footprint(), before, 'reading a page is not a receipt and writes nothing');
  assert.is((await download(w.as.member, `${base}/pages/3`)).status, 404, 'a page it does not have');
  assert.is((await download(w.as.member, `${base}/pages/x`)).status, 404);
  // The viewer and the second member were not asked: the request, and its pages, do not exist for them.
  assert.is((await w.as.viewer.get(base)).status, 404);
  assert.is((await download(w.as.viewer, `${base}/pages/1`)).status, 404);
  assert.is((await download(w.as.member2, `${base}/pages/1`)).status, 404);
  assert.is((await download(w.app.client(), `${base}/pages/1`)).status, 302, 'signed out: to the login page');
});

test('the emailed link shows the pages in place; its images come only through that link, and a used link shows nothing', async () => {
  const path = await linkIn(w, w.emails.member, /Brand guidelines/);
  const anon = w.app.client();
  const page = await anon.get(path);
  assert.is(page.status, 200);
  assert.match(page.text, `<img src="${path}/pages/1" alt="Page 1 of 2"`);
  assert.match(page.text, `<a class="button" href="${path}/download" download>Download version 1</a>`);
  const before = await footprint();
  const img = await download(anon, `${path}/pages/1`);
  assert.is(img.status, 200);
  assert.ok(JPEG(img.body));
  assertDownloadHeaders(img.headers);
  assert.is(img.headers.get('referrer-policy'), 'no-referrer');
  assert.is(await footprint(), before, 'a GET by link writes nothing (mail scanners follow links)');
  assert.is((await download(anon, `${path}/pages/3`)).status, 404);
  assert.is((await download(anon, `/l/approvals/${'B'.repeat(43)}/pages/1`)).status, 404, 'an unknown token');
  const decided = await anon.postForm(path, { decision: 'approve', version: versionId });
  assert.is(decided.status, 200, decided.text.slice(0, 500));
  assert.is((await download(anon, `${path}/pages/1`)).status, 404, 'the link is used up');
});

test('a broken PDF says "can’t be shown here" with the way to download it, never a 500; a file that is not a PDF keeps its download', async () => {
  const broken = await uploadBytes('Broken.pdf', Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(4000, 0x41), Buffer.from('\n%%EOF\n')]));
  const made = await requestApproval(w, broken, { title: 'Broken', approvers: [w.users.member] });
  assert.ok(made.id, made.res.text.slice(0, 500));
  const base = `/w/${w.ws.slug}/approvals/r/${made.id}`;
  const page = await w.as.member.get(base);
  assert.is(page.status, 200);
  assert.match(page.text, `This document can’t be shown here; <a href="/w/${w.ws.slug}/files/f/${broken}">open it</a> to download it.`);
  assert.not.match(page.text, 'alt="Page 1');
  assert.is((await download(w.as.member, `${base}/pages/1`)).status, 404);
  const path = await linkIn(w, w.emails.member, /Broken/);
  const viaLink = await w.app.client().get(path);
  assert.is(viaLink.status, 200);
  assert.match(viaLink.text, `This document can’t be shown here; <a href="${path}/download" download>download it</a> to read it.`);

  const text = await uploadFile(w, 'Notes.txt', 'plain words');
  const notes = await requestApproval(w, text, { title: 'Notes', approvers: [w.users.member] });
  const notesPage = await w.as.member.get(`/w/${w.ws.slug}/approvals/r/${notes.id}`);
  assert.is(notesPage.status, 200);
  assert.not.match(notesPage.text, 'ui-doc', 'no pages to show, and nothing to apologise for');
  assert.is((await download(w.as.member, `/w/${w.ws.slug}/approvals/r/${notes.id}/pages/1`)).status, 404);
  const notesLink = await w.app.client().get(await linkIn(w, w.emails.member, /Notes/));
  assert.match(notesLink.text, /<a class="button" href="[^"]+\/download" download>(?:<svg[^>]*>[\s\S]*?<\/svg>)?Download version 1<\/a>/);
});

test.run();
