// Rows of the files plugin in one workspace for isolation tests (files' own and every plugin that
// builds on files): a shared folder, a current shared file with one stored version and a ready
// first-page preview of it, a file in the trash and a download receipt. B's rows carry the canary
// in every name.
import { Readable } from 'node:stream';
import { newId } from '../../../core/ids.ts';
import { transaction } from '../../../core/db/index.ts';
import type { SeedContext } from '../../kit/isolation.ts';

/** The files plugin's GET routes that write on purpose (each download is a receipt). */
export const FILES_GET_WRITES: Record<string, string> = {
  'GET /w/:workspace/files/f/:fileId/download': 'every download is an audit event (the receipt)',
  'GET /w/:workspace/files/f/:fileId/v/:versionId/download': 'every download is an audit event (the receipt)',
  'GET /w/:workspace/files/folders/:folderId/zip': 'every zip download is an audit event (the receipt)',
  'GET /w/:workspace/files/report.csv': 'the delivery report export is recorded in the audit log',
};

/** A 1 x 1 PNG standing in for a rendered first page. */
const PREVIEW_PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

/** "New since your last visit" is a read marker, not business data. */
export const FILES_VOLATILE = ['files_visits'];

export interface SeededFiles {
  folderId: string;
  fileId: string;
  versionId: string;
  trashedId: string;
  sha256: string;
  /** The blob key of the seeded file's preview (a PNG, stored encrypted like a rendered one). */
  previewKey: string;
  /** Route parameter values for the isolation kit. */
  values: Record<string, string>;
}

export async function seedFiles(
  { kernel, workspace, canary, users }: SeedContext,
  doc: { name: string; bytes: Buffer; contentType: string } = { name: `report ${canary}.txt`, bytes: Buffer.from(`content ${canary}`), contentType: 'text/plain' },
): Promise<SeededFiles> {
  const now = Date.now();
  const [folderId, fileId, versionId, trashedId, trashedVersion] = [newId(), newId(), newId(), newId(), newId()];
  const storage = kernel.storage;
  const blob = await storage.put(Readable.from([doc.bytes]), { bind: `files:${fileId}:${versionId}` });
  const old = await storage.put(Readable.from([Buffer.from(`old ${canary}`)]), { bind: `files:${trashedId}:${trashedVersion}` });
  // What plugins/files/preview.ts records after rendering page 1, so /f/:fileId/preview serves real bytes.
  const preview = await storage.put(Readable.from([PREVIEW_PNG]), { bind: `files-preview:${fileId}:${versionId}` });
  await transaction(kernel.db, async (trx) => {
    await storage.record(trx, blob, { plugin: 'files', workspaceId: workspace.id });
    await storage.record(trx, old, { plugin: 'files', workspaceId: workspace.id });
    await trx('files_folders').insert({ id: folderId, workspace_id: workspace.id, parent_id: null, name: `Folder ${canary}`, area: 'shared', client_access: 'manage', created_by: users.staff, created_at: now, deleted_at: null });
    for (const [id, vid, name, b, type, deleted] of [
      [fileId, versionId, doc.name, blob, doc.contentType, null],
      [trashedId, trashedVersion, `trashed ${canary}.txt`, old, 'text/plain', now],
    ] as const) {
      await trx('files_files').insert({ id, workspace_id: workspace.id, folder_id: folderId, name, name_key: name.toLowerCase(), area: 'shared', current_version_id: vid, size: b.size, content_type: type, delivered_at: now, delivered_by: users.staff, created_by: users.staff, created_at: now, updated_at: now, deleted_at: deleted, deleted_by: null });
      await trx('files_versions').insert({ id: vid, workspace_id: workspace.id, file_id: id, number: 1, blob_key: b.key, size: b.size, sha256: b.sha256, content_type: type, uploaded_by: users.staff, created_at: now });
    }
    await trx('files_downloads').insert({ id: newId(), workspace_id: workspace.id, file_id: fileId, version_id: versionId, user_id: users.client_admin, via: 'file', created_at: now });
    await storage.record(trx, preview, { plugin: 'files', workspaceId: workspace.id });
    await trx('files_previews').insert({ id: newId(), workspace_id: workspace.id, version_id: versionId, blob_key: preview.key, status: 'ready', reason: null, width: 1, height: 1, created_at: now });
  });
  // Restore takes a trashed file: A's own deliverable must not be addressed by B's trashed id.
  return { folderId, fileId, versionId, trashedId, sha256: blob.sha256, previewKey: preview.key, values: { folderId, fileId, versionId, 'fileId@/w/:workspace/files/f/:fileId/restore': trashedId } };
}
