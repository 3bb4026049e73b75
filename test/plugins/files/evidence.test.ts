// Proof of service from files (plugins/files/evidence.ts): for a workspace and a period, the
// versions the firm shared, the deliveries and the client's download receipts, in time order;
// nothing from another workspace, nothing internal (internal files, the trash, the firm's own
// downloads, the client's own uploads), nothing outside the period.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newId } from '../../../core/ids.ts';
import { allEvidence, CANARY, evidenceWorld, fakeBlob, providerItems, queryFor, type EvidenceWorld } from '../../helpers/evidence.ts';

const test = suite('files evidence');
let w: EvidenceWorld;
const t = (iso: string) => Date.parse(iso);

async function file(ws: string, name: string, opts: { area?: string; deliveredAt?: string; deliveredBy?: string; deletedAt?: string } = {}) {
  const id = newId();
  await w.app.kernel.db('files_files').insert({ id, workspace_id: ws, folder_id: null, name, name_key: name.toLowerCase(), area: opts.area ?? 'shared', current_version_id: null, size: 1, content_type: 'application/pdf', delivered_at: opts.deliveredAt ? t(opts.deliveredAt) : null, delivered_by: opts.deliveredBy ?? null, created_at: 1, updated_at: 1, deleted_at: opts.deletedAt ? t(opts.deletedAt) : null });
  return id;
}
async function version(ws: string, fileId: string, number: number, by: string, at: string) {
  const id = newId();
  await w.app.kernel.db('files_versions').insert({ id, workspace_id: ws, file_id: fileId, number, blob_key: await fakeBlob(w, ws), size: 1, sha256: 'a'.repeat(64), content_type: 'application/pdf', uploaded_by: by, created_at: t(at) });
  return id;
}
async function downloaded(ws: string, fileId: string, versionId: string, by: string, at: string, via = 'file') {
  await w.app.kernel.db('files_downloads').insert({ id: newId(), workspace_id: ws, file_id: fileId, version_id: versionId, user_id: by, via, created_at: t(at) });
}

test.before(async () => {
  w = await evidenceWorld(['files']);
  const { A, B } = w;
  const report = await file(A.id, 'Report A.pdf', { deliveredAt: '2026-11-03T10:00:00Z', deliveredBy: A.staff });
  const v1 = await version(A.id, report, 1, A.staff, '2026-11-02T09:00:00Z');
  const v2 = await version(A.id, report, 2, A.staff, '2026-11-10T09:00:00Z');
  await downloaded(A.id, report, v1, A.client, '2026-11-04T08:00:00Z');
  await downloaded(A.id, report, v1, A.staff, '2026-11-05T08:00:00Z'); // the firm's own download
  await downloaded(A.id, report, v2, A.client, '2026-11-12T08:00:00Z', 'zip');
  await downloaded(A.id, report, v2, A.client, '2026-12-01T00:00:00Z'); // after the period
  // Internal to the firm: never in the evidence, even delivered and downloaded.
  const internal = await file(A.id, 'Internal pricing.pdf', { area: 'internal', deliveredAt: '2026-11-03T11:00:00Z', deliveredBy: A.staff });
  const iv = await version(A.id, internal, 1, A.staff, '2026-11-03T10:30:00Z');
  await downloaded(A.id, internal, iv, A.client, '2026-11-04T09:00:00Z');
  // The client's own upload to a shared file is not a delivery.
  const theirs = await file(A.id, 'Client brief.pdf');
  await version(A.id, theirs, 1, A.client, '2026-11-06T09:00:00Z');
  // In the trash: gone from the client's view, gone from the evidence.
  const trashed = await file(A.id, 'Withdrawn.pdf', { deliveredAt: '2026-11-07T09:00:00Z', deliveredBy: A.staff, deletedAt: '2026-11-08T09:00:00Z' });
  await version(A.id, trashed, 1, A.staff, '2026-11-07T08:00:00Z');
  // Before the period.
  await file(A.id, 'October.pdf', { deliveredAt: '2026-10-30T09:00:00Z', deliveredBy: A.staff });
  // B's, with the canary.
  const bFile = await file(B.id, `Bravo ${CANARY}.pdf`, { deliveredAt: '2026-11-03T10:00:00Z', deliveredBy: B.staff });
  const bv = await version(B.id, bFile, 1, B.staff, '2026-11-02T09:00:00Z');
  await downloaded(B.id, bFile, bv, B.client, '2026-11-04T08:00:00Z');
});
test.after(async () => {
  await w.app.close();
});

test('A’s November: shared versions, the delivery and the client’s downloads, in time order', async () => {
  const items = await providerItems(w, 'files.deliveries', queryFor(w, w.A.id, w.A.client, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  assert.equal(
    items.map((i) => [new Date(i.at).toISOString().slice(0, 10), i.kind, i.title, i.detail, i.who]),
    [
      ['2026-11-02', 'Shared', 'Report A.pdf', 'Version 1', 'Sam Staff alpha'],
      ['2026-11-03', 'Delivered', 'Report A.pdf', 'Version 1', 'Sam Staff alpha'],
      ['2026-11-04', 'Downloaded', 'Report A.pdf', 'Version 1', 'Cleo Client alpha'],
      ['2026-11-10', 'New version shared', 'Report A.pdf', 'Version 2', 'Sam Staff alpha'],
      ['2026-11-12', 'Downloaded', 'Report A.pdf', 'Version 2 (in a zip)', 'Cleo Client alpha'],
    ],
  );
  assert.ok(items.every((i) => i.workspaceId === w.A.id));
});

test('nothing from another workspace, and nothing internal, through the registry', async () => {
  const a = JSON.stringify(await allEvidence(w, queryFor(w, w.A.id, w.A.staff, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')));
  assert.not.ok(a.includes(CANARY));
  for (const hidden of ['Internal pricing', 'Client brief', 'Withdrawn']) assert.not.ok(a.includes(hidden), hidden);
  const b = await allEvidence(w, queryFor(w, w.B.id, w.B.client, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  assert.equal(b.map((e) => e.kind), ['Shared', 'Delivered', 'Downloaded']);
  assert.ok(b.every((e) => e.title.includes(CANARY) && e.source === 'Files'));
});

test('the period’s edges: from included, to excluded', async () => {
  const items = await providerItems(w, 'files.deliveries', queryFor(w, w.A.id, w.A.client, '2026-11-03T10:00:00Z', '2026-11-04T08:00:00Z'));
  assert.equal(items.map((i) => i.kind), ['Delivered']);
});

test.run();
