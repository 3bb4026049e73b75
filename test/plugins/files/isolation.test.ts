// The isolation kit over every route of the files plugin: A's people acting on B's workspace and
// B's ids get 404 and change nothing; B's canary (file and folder names) never reaches A.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { newId } from '../../../core/ids.ts';
import { transaction } from '../../../core/db/index.ts';

const test = suite('files isolation');

async function seed({ kernel, workspace, canary, users }: SeedContext) {
  const now = Date.now();
  const folderId = newId();
  const fileId = newId();
  const versionId = newId();
  const trashedId = newId();
  const trashedVersion = newId();
  const storage = kernel.storage;
  const blob = await storage.put(Readable.from([Buffer.from(`content ${canary}`)]), { bind: `files:${fileId}:${versionId}` });
  const blob2 = await storage.put(Readable.from([Buffer.from(`old ${canary}`)]), { bind: `files:${trashedId}:${trashedVersion}` });
  await transaction(kernel.db, async (trx) => {
    await storage.record(trx, blob, { plugin: 'files', workspaceId: workspace.id });
    await storage.record(trx, blob2, { plugin: 'files', workspaceId: workspace.id });
    await trx('files_folders').insert({ id: folderId, workspace_id: workspace.id, parent_id: null, name: `Folder ${canary}`, area: 'shared', client_access: 'manage', created_by: users.staff, created_at: now, deleted_at: null });
    for (const [id, vid, name, b, deleted] of [
      [fileId, versionId, `report ${canary}.txt`, blob, null],
      [trashedId, trashedVersion, `trashed ${canary}.txt`, blob2, now],
    ] as const) {
      await trx('files_files').insert({ id, workspace_id: workspace.id, folder_id: folderId, name, name_key: name.toLowerCase(), area: 'shared', current_version_id: vid, size: b.size, content_type: 'text/plain', delivered_at: now, delivered_by: users.staff, created_by: users.staff, created_at: now, updated_at: now, deleted_at: deleted, deleted_by: null });
      await trx('files_versions').insert({ id: vid, workspace_id: workspace.id, file_id: id, number: 1, blob_key: b.key, size: b.size, sha256: b.sha256, content_type: 'text/plain', uploaded_by: users.staff, created_at: now });
    }
    await trx('files_downloads').insert({ id: newId(), workspace_id: workspace.id, file_id: fileId, version_id: versionId, user_id: users.client_admin, via: 'file', created_at: now });
  });
  // A's own deliverable must not be addressed by B's trashed id: restore takes the trashed file.
  return { folderId, fileId, versionId, 'fileId@/w/:workspace/files/f/:fileId/restore': trashedId };
}

test('every files route x method x role: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['files'],
    seed,
    // "New since your last visit" is a read marker, not business data.
    volatileTables: ['files_visits'],
    getWrites: {
      'GET /w/:workspace/files/f/:fileId/download': 'every download is an audit event (the receipt)',
      'GET /w/:workspace/files/f/:fileId/v/:versionId/download': 'every download is an audit event (the receipt)',
      'GET /w/:workspace/files/folders/:folderId/zip': 'every zip download is an audit event (the receipt)',
      'GET /w/:workspace/files/report.csv': 'the delivery report export is recorded in the audit log',
    },
  });
  const mine = report.routes.filter((r) => r.path.startsWith('/w/:workspace/files'));
  assert.ok(mine.length >= 20, `${mine.length} files routes enumerated`);
  assert.equal(report.violations, []);
});

test.run();
