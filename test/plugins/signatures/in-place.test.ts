// Documents read in place on the signing side (issue 14): the signing page shows the exact version
// sent as page images, served only through the signer's own live link (or their portal page),
// with the download headers; the send form shows the pages to those who may send, and a signature
// placed by clicking on a page is accepted inside the page, refused outside it, and stamped there.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../../../core/db/index.ts';
import { createWorkspace } from '../../../core/identity/users.ts';
import { download, upload } from '../files/helpers.ts';
import { makePdf, pdfText, prepare, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite('signatures: documents in place');
let w: SigWorld;
let fileId: string;

test.before(async () => {
  w = await sigWorld();
  fileId = await uploadPdf(w, 'Engagement letter.pdf', await makePdf(2));
});
test.after(async () => {
  await w.app.close();
});

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

/** The download headers of SECURITY.md control 37 on a page image. */
function assertDownloadHeaders(h: Headers, name: RegExp) {
  assert.is(h.get('content-type'), 'image/jpeg');
  assert.match(h.get('content-disposition')!, /^attachment; filename="[^"]*"; filename\*=UTF-8''/);
  assert.match(decodeURIComponent(h.get('content-disposition')!.split("UTF-8''")[1]!), name);
  assert.is(h.get('x-content-type-options'), 'nosniff');
  assert.match(h.get('content-security-policy')!, /^sandbox/);
  assert.is(h.get('cross-origin-resource-policy'), 'same-origin');
  assert.is(h.get('cache-control'), 'no-store');
}

/** Send the file to one signer with the given placement fields; returns the response and envelope id. */
async function sendPlaced(fields: Record<string, string>, signer = w.users.client_admin) {
  const { version } = await prepare(w, fileId);
  const res = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Engagement letter', message: '', version, s1_who: `user:${signer}`, ...fields });
  return { res, envelopeId: res.location ? (res.location.split('/e/')[1] ?? '') : '' };
}

/** Rows of every table that matters here, to show that a GET wrote nothing. */
const footprint = async () => JSON.stringify(await Promise.all(['audit_events', 'signatures_events', 'signatures_signers', 'links'].map((t) => w.app.kernel.db(t).count({ n: '*' }).first())));

test('the send form shows the document as page images with "Page n of N"; the images go only to those who may send', async () => {
  const { res } = await prepare(w, fileId);
  assert.is(res.status, 200);
  for (const n of [1, 2]) {
    assert.match(res.text, `alt="Page ${n} of 2"`);
    assert.match(res.text, `src="${w.base}/new/${fileId}/pages/${n}"`);
  }
  assert.match(res.text, /data-points="612 792"/);
  assert.match(res.text, /<script src="[^"]+\/signatures\/assets\/placement\.js" nonce="[^"]+" defer><\/script>/);
  const img = await download(w.as.staff, `${w.base}/new/${fileId}/pages/1`);
  assert.is(img.status, 200);
  assert.ok(JPEG(img.body), 'a JPEG');
  assertDownloadHeaders(img.headers, /^Engagement letter \(page 1\)\.jpg$/);
  assert.is((await download(w.as.staff, `${w.base}/new/${fileId}/pages/3`)).status, 404, 'a page the document does not have');
  assert.is((await download(w.as.staff, `${w.base}/new/${fileId}/pages/0`)).status, 404);
  assert.is((await download(w.as.staff, `${w.base}/new/${fileId}/pages/1.5`)).status, 404);
  for (const who of ['client_admin', 'client_member', 'client_viewer'] as const) assert.is((await download(w.as[who], `${w.base}/new/${fileId}/pages/1`)).status, 404, `${who} may not send`);
  assert.is((await download(w.app.client(), `${w.base}/new/${fileId}/pages/1`)).status, 302, 'signed out: to the login page');
});

test('a file of another workspace: its pages are 404 from this workspace, even for the firm', async () => {
  const owner = w.owner;
  const k = w.app.kernel;
  const ws = await transaction(k.db, (trx) => createWorkspace(k, trx, { name: 'Other Co', slug: 'other' }, { actorId: null, via: 'cli' }));
  await owner.get('/w/other/files/');
  const up = await upload(owner, '/w/other/files/upload', [{ name: 'Other.pdf', data: await makePdf(1, 'Other') }]);
  assert.is(up.status, 200, up.text.slice(0, 300));
  const other = String((await w.app.kernel.db('files_files').where({ workspace_id: ws.id, name: 'Other.pdf' }).first('id')).id);
  assert.is((await download(owner, `/w/other/signatures/new/${other}/pages/1`)).status, 200, 'in its own workspace');
  assert.is((await download(owner, `${w.base}/new/${other}/pages/1`)).status, 404, 'addressed through this workspace');
  assert.is((await download(w.as.staff, `/w/other/signatures/new/${other}/pages/1`)).status, 404, 'staff not in that workspace');
});

test('placement by coordinates: inside the page accepted and stored in points; outside it, or garbage, refused beside the field', async () => {
  for (const [x, y, why] of [
    ['500', '100', 'the box runs off the right edge (500 + 180 > 612)'],
    ['100', '760', 'the box runs off the top (760 + 60 > 792)'],
    ['-1', '100', 'left of the page'],
    ['abc', '100', 'not a number'],
    ['', '', 'nothing marked'],
  ]) {
    const { res } = await sendPlaced({ s1_page: '2', s1_position: 'custom', s1_x: x!, s1_y: y! });
    assert.is(res.status, 400, why);
    assert.match(res.text, x === '' || x === 'abc' ? 'Mark the place on the page again' : 'That place is outside page 2', why);
    // The form comes back with the marked place kept, so the sender can move it.
    assert.match(res.text, '<option value="custom" selected>Where I marked it on the page</option>', why);
  }
  assert.is(Number(((await w.app.kernel.db('signatures_envelopes').count({ n: '*' }).first()) as { n: number | string }).n), 0, 'nothing was sent');
  const { res, envelopeId } = await sendPlaced({ s1_page: '2', s1_position: 'custom', s1_x: '300.5', s1_y: '420.25' });
  assert.is(res.status, 303, res.text.slice(0, 1000));
  const p = await w.app.kernel.db('signatures_placements').where({ envelope_id: envelopeId }).first();
  assert.equal([Number(p.page), Number(p.x), Number(p.y), Number(p.width), Number(p.height)], [2, 300.5, 420.25, 180, 60]);
  // The edge itself is inside: the box's far corner exactly on the page's.
  const edge = await sendPlaced({ s1_page: '1', s1_position: 'custom', s1_x: '432', s1_y: '732' }, w.users.client_member);
  assert.is(edge.res.status, 303, edge.res.text.slice(0, 1000));
  // A preset still works without any coordinates (the way without a pointer or JavaScript).
  const preset = await sendPlaced({ s1_page: '1', s1_position: 'top-right', s1_x: '', s1_y: '' }, w.users.client_viewer);
  assert.is(preset.res.status, 303, preset.res.text.slice(0, 1000));
  const q = await w.app.kernel.db('signatures_placements').where({ envelope_id: preset.envelopeId }).first();
  assert.equal([Number(q.x), Number(q.y)], [612 - 48 - 180, 792 - 48 - 60]);
});

test('the signing page shows the sent version in place; its images come only through the live link, and a GET records nothing', async () => {
  const link = await signingLink(w, w.emails.client_admin);
  const signer = w.app.client();
  const page = await signer.get(link.path);
  assert.is(page.status, 200);
  assert.match(page.text, `<img src="${link.path}/pages/1" alt="Page 1 of 2"`);
  assert.match(page.text, `alt="Page 2 of 2"`);
  assert.not.match(page.text, 'Download the document to review it');
  assert.match(page.text, `href="${link.path}/document" download`);
  await previewsSettled(() => w.app.kernel.db);
  const before = await footprint();
  const img = await download(signer, `${link.path}/pages/2`);
  assert.is(img.status, 200);
  assert.ok(JPEG(img.body));
  assertDownloadHeaders(img.headers, /^Engagement letter \(page 2\)\.jpg$/);
  assert.is(await footprint(), before, 'reading a page wrote nothing');
  assert.is((await download(signer, `${link.path}/pages/3`)).status, 404);
  assert.is((await download(signer, `/l/signatures/${'A'.repeat(43)}/pages/1`)).status, 404, 'an unknown token');
  // The signer's portal page (signed in, no mail) serves the same images.
  const mine = await w.as.client_admin.get(`${w.base}/mine`);
  const signerId = /\/signatures\/sign\/([0-9a-f-]{36})\//.exec(mine.text)?.[1];
  assert.ok(signerId, 'the request is listed');
  assert.is((await download(w.as.client_admin, `${w.base}/sign/${signerId}/pages/1`)).status, 200);
  assert.is((await download(w.as.client_member, `${w.base}/sign/${signerId}/pages/1`)).status, 404, 'another client of the workspace');
  assert.is((await download(w.as.staff, `${w.base}/sign/${signerId}/pages/1`)).status, 404, 'staff are not this signer');
  // Signed: the link is used up, and so are its pages.
  assert.is((await signer.postForm(`${link.path}/consent`, { agree: 'yes' })).status, 303);
  const done = await signer.postForm(`${link.path}/sign`, { kind: 'typed', typed_name: 'Ada Admin' });
  assert.is(done.status, 200, done.text.slice(0, 500));
  assert.is((await download(signer, `${link.path}/pages/1`)).status, 404, 'a used link');
  assert.is((await download(w.as.client_admin, `${w.base}/sign/${signerId}/pages/1`)).status, 404, 'signed: closed in the portal too');
});

test('the signed PDF carries the signature where it was clicked (page 2, box at 300.5, 420.25)', async () => {
  const env = await w.app.kernel.db('signatures_envelopes').whereNotNull('signed_version_id').first('id', 'signed_version_id');
  assert.ok(env, 'the envelope completed');
  const p = await w.app.kernel.db('signatures_placements').where({ envelope_id: env.id }).first();
  assert.equal([Number(p.page), Number(p.x), Number(p.y)], [2, 300.5, 420.25]);
  const signed = await download(w.as.staff, `/w/${w.ws.slug}/files/f/${fileId}/v/${env.signed_version_id}/download`);
  assert.is(signed.status, 200);
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(signed.body), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise;
  const found: Array<{ page: number; x: number; y: number }> = [];
  for (let i = 1; i <= 2; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    for (const it of content.items) if ('str' in it && it.str.includes('Ada Admin')) found.push({ page: i, x: it.transform[4], y: it.transform[5] });
  }
  await doc.destroy();
  assert.ok(found.length >= 1, `the typed name is stamped: ${JSON.stringify(found)}`);
  for (const f of found) {
    assert.is(f.page, 2);
    assert.ok(f.x >= 300.5 && f.x <= 300.5 + 180 && f.y >= 420.25 && f.y <= 420.25 + 60, `inside the box: ${JSON.stringify(f)}`);
  }
  assert.ok((await pdfText(signed.body)).pages >= 3, 'with the certificate page');
});

test.run();
