// Work the files plugin does outside a request: delivering (notifying the workspace), telling the
// account team about a client's upload, purging the trash after its retention period (versions,
// their previews and all their blobs), and scrubbing every stored version. Jobs that span workspaces read by explicit workspace id from each row they
// touch; nothing here serves a request.
import type { Logger } from 'pino';
import { membersOf, newId, transaction, WorkspaceScope, type AuditEntry, type Db, type StorageService, type StoredBlob, type Trx, type Tokens, type Token } from '../../core/index.ts';
import { bindFor } from './download.ts';
import { removePreviews } from './preview.ts';

const DAY = 86_400_000;

/** The type of a kernel service, from its token. */
type Service<K extends keyof typeof Tokens> = (typeof Tokens)[K] extends Token<infer U> ? U : never;

export interface FilesDeps {
  db: Db;
  storage: StorageService;
  audit: Service<'Audit'>;
  events: Service<'Events'>;
  notifications: Service<'Notifications'>;
  logger: Logger;
}

type Actor = Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;

/** How names are compared within a folder (unique, case-insensitive). */
export const nameKey = (n: string) => n.toLowerCase();

/** Add a folder in `trx`, with its audit event and `files.folder.created`. The caller checks the name is free. */
export async function createFolder(
  deps: FilesDeps,
  trx: Trx,
  actor: Actor,
  workspaceId: string,
  folder: { parentId: string | null; name: string; area: 'shared' | 'internal'; clientAccess: 'view' | 'upload' | 'manage'; createdBy: string; now: number },
): Promise<string> {
  const id = newId();
  await new WorkspaceScope(trx, workspaceId).insert('files_folders', { id, parent_id: folder.parentId, name: folder.name, area: folder.area, client_access: folder.clientAccess, created_by: folder.createdBy, created_at: folder.now, deleted_at: null });
  await deps.audit.record(trx, { ...actor, workspaceId, action: 'files.folder.create', subjectType: 'Folder', subjectId: id, detail: { name: folder.name, area: folder.area } });
  deps.events.publish(trx, 'files.folder.created', { workspaceId, folderId: id });
  return id;
}

/**
 * Record a stored blob (bound to `files:<fileId>:<versionId>`) as the file's new current version in
 * `trx`, creating the file first when `newFile` is given: the rows, the storage record, the audit
 * event and `files.version.created`, as every upload records them. Returns the version's number.
 */
export async function recordVersion(
  deps: FilesDeps,
  trx: Trx,
  actor: Actor,
  workspaceId: string,
  v: { fileId: string; versionId: string; blob: StoredBlob; contentType: string; uploadedBy: string; now: number; name: string; newFile?: { folderId: string | null; area: 'shared' | 'internal' } },
): Promise<number> {
  const scope = new WorkspaceScope(trx, workspaceId);
  const max = v.newFile ? { n: 0 } : ((await scope.table('files_versions').where({ file_id: v.fileId }).max({ n: 'number' }).first()) as { n: number | null });
  const number = Number(max?.n ?? 0) + 1;
  await deps.storage.record(trx, v.blob, { plugin: 'files', workspaceId });
  if (v.newFile) {
    await scope.insert('files_files', {
      id: v.fileId,
      folder_id: v.newFile.folderId,
      name: v.name,
      name_key: nameKey(v.name),
      area: v.newFile.area,
      current_version_id: null,
      size: v.blob.size,
      content_type: v.contentType,
      delivered_at: null,
      delivered_by: null,
      created_by: v.uploadedBy,
      created_at: v.now,
      updated_at: v.now,
      deleted_at: null,
      deleted_by: null,
    });
  }
  await scope.insert('files_versions', { id: v.versionId, file_id: v.fileId, number, blob_key: v.blob.key, size: v.blob.size, sha256: v.blob.sha256, content_type: v.contentType, uploaded_by: v.uploadedBy, created_at: v.now });
  await scope.table('files_files').where({ id: v.fileId }).update({ current_version_id: v.versionId, size: v.blob.size, content_type: v.contentType, updated_at: v.now });
  await deps.audit.record(trx, { ...actor, workspaceId, action: 'files.version.create', subjectType: 'File', subjectId: v.fileId, detail: { versionId: v.versionId, number, size: v.blob.size, sha256: v.blob.sha256, name: v.name } });
  deps.events.publish(trx, 'files.version.created', { workspaceId, fileId: v.fileId, versionId: v.versionId, number });
  return number;
}

/** Download receipts for one person, in a transaction of their own: one audit event per file, or one for a zip. */
export async function recordDownloads(
  deps: FilesDeps,
  actor: Actor,
  workspaceId: string,
  userId: string,
  entries: Array<{ fileId: string; versionId: string }>,
  via: 'file' | 'zip',
  detail: Record<string, unknown>,
  now: number,
): Promise<void> {
  await transaction(deps.db, async (trx) => {
    await new WorkspaceScope(trx, workspaceId).insert(
      'files_downloads',
      entries.map((e) => ({ id: newId(), file_id: e.fileId, version_id: e.versionId, user_id: userId, via, created_at: now })),
    );
    if (via === 'file') {
      await deps.audit.record(trx, { ...actor, workspaceId, action: 'files.file.download', subjectType: 'File', subjectId: entries[0]!.fileId, detail: { versionId: entries[0]!.versionId, ...detail } });
    } else {
      await deps.audit.record(trx, { ...actor, workspaceId, action: 'files.zip.download', subjectType: 'Folder', subjectId: (detail.folderId as string) || null, detail: { files: entries.length, fileIds: entries.slice(0, 200).map((e) => e.fileId), ...detail } });
    }
    for (const e of entries) deps.events.publish(trx, 'files.file.downloaded', { workspaceId, fileId: e.fileId, versionId: e.versionId, via });
  });
}

/**
 * Mark a file as a deliverable and notify every member of its workspace except the person who
 * delivered it, by their own preference (at once, daily digest, or off), in `trx`.
 */
export async function deliver(
  deps: FilesDeps,
  trx: Trx,
  actor: Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>,
  ws: { id: string; slug: string; name: string },
  file: { id: string; name: string },
  now: number,
): Promise<void> {
  await trx('files_files').where({ workspace_id: ws.id, id: file.id }).update({ delivered_at: now, delivered_by: actor.actorId ?? null });
  await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'files.file.deliver', subjectType: 'File', subjectId: file.id, detail: { name: file.name } });
  const people = [...(await membersOf(trx, ws.id, { staff: false, limit: 1000 })), ...(await membersOf(trx, ws.id, { staff: true, limit: 1000 }))];
  await deps.notifications.notify(
    trx,
    people
      .filter((p) => p.userId !== actor.actorId)
      .map((p) => ({
        userId: p.userId,
        workspaceId: ws.id,
        kind: 'files.deliverable',
        subject: `New deliverable: ${file.name}`,
        text: `${file.name} has been delivered to ${ws.name}. You can download it from the portal.`,
        link: `/w/${ws.slug}/files/f/${file.id}`,
      })),
  );
  deps.events.publish(trx, 'files.file.delivered', { workspaceId: ws.id, fileId: file.id });
}

/** What one upload request stored, for the notice to the firm. */
export interface UploadedFile {
  id: string;
  name: string;
  area: string;
  /** A new version of a file that was already there. */
  newVersion: boolean;
}

/**
 * A client uploaded files: tell the workspace's account team (its assigned staff) by their own
 * preference, in `trx`. One notice for the whole upload request, however many files; never the
 * uploader; never about a file in an internal area (a client cannot upload there, and a staff-only
 * name must not travel in a notice about a client's action).
 */
export async function notifyClientUpload(
  deps: FilesDeps,
  trx: Trx,
  uploader: { id: string; name: string },
  ws: { id: string; slug: string; name: string },
  folder: { id: string | null; name: string; area: string },
  files: UploadedFile[],
): Promise<void> {
  // By name: the files of one request arrive in no fixed order.
  const shared = (folder.area === 'internal' ? [] : files.filter((f) => f.area === 'shared')).sort((a, b) => a.name.localeCompare(b.name));
  if (!shared.length) return;
  const staff = (await membersOf(trx, ws.id, { staff: true, limit: 1000 })).filter((p) => p.userId !== uploader.id);
  if (!staff.length) return;
  const where = folder.id ? `${folder.name} in ${ws.name}` : ws.name;
  const one = shared.length === 1 ? shared[0]! : undefined;
  const named = (f: UploadedFile) => (f.newVersion ? `${f.name} (a new version)` : f.name);
  const list = shared.length <= 10 ? shared.map(named).join(', ') : `${shared.slice(0, 10).map(named).join(', ')} and ${shared.length - 10} more`;
  const subject = one ? `${uploader.name} uploaded ${one.name} to ${ws.name}` : `${uploader.name} uploaded ${shared.length} files to ${ws.name}`;
  const text = one ? `${uploader.name} uploaded ${named(one)} to ${where}.` : `${uploader.name} uploaded ${shared.length} files to ${where}: ${list}.`;
  const link = one ? `/w/${ws.slug}/files/f/${one.id}` : folder.id ? `/w/${ws.slug}/files/folders/${folder.id}` : `/w/${ws.slug}/files/`;
  await deps.notifications.notify(
    trx,
    staff.map((p) => ({ userId: p.userId, workspaceId: ws.id, kind: 'files.upload', subject, text, link })),
  );
}

/** Delete files (and their versions and bytes) that have been in the trash longer than `days`. */
export async function purgeTrash(deps: FilesDeps, days: number, now = Date.now()): Promise<number> {
  const cutoff = now - days * DAY;
  // A firm-wide job: each row carries its workspace, and everything below is keyed by it.
  const due = (await deps.db('files_files').whereNotNull('deleted_at').andWhere('deleted_at', '<', cutoff).limit(500).select('id', 'workspace_id', 'name')) as Array<{ id: string; workspace_id: string; name: string }>;
  for (const f of due) {
    await transaction(deps.db, async (trx) => {
      const versions = (await trx('files_versions').where({ workspace_id: f.workspace_id, file_id: f.id }).select('id', 'blob_key')) as Array<{ id: string; blob_key: string }>;
      await trx('files_downloads').where({ workspace_id: f.workspace_id, file_id: f.id }).delete();
      // Previews first: their rows reference the versions, and their blobs go with them.
      const previews = await removePreviews(trx, deps.storage, f.workspace_id, versions.map((v) => v.id));
      await trx('files_versions').where({ workspace_id: f.workspace_id, file_id: f.id }).delete();
      for (const v of versions) await deps.storage.remove(trx, v.blob_key);
      await trx('files_files').where({ workspace_id: f.workspace_id, id: f.id }).delete();
      await deps.audit.record(trx, { actorId: null, workspaceId: f.workspace_id, action: 'files.file.purge', subjectType: 'File', subjectId: f.id, detail: { name: f.name, versions: versions.length, ...(previews ? { previews } : {}) } });
    });
  }
  // Folders in the trash that no longer hold anything go too.
  const folders = (await deps.db('files_folders').whereNotNull('deleted_at').andWhere('deleted_at', '<', cutoff).limit(500).select('id', 'workspace_id')) as Array<{ id: string; workspace_id: string }>;
  for (const d of folders) {
    const used = await deps.db('files_files').where({ workspace_id: d.workspace_id, folder_id: d.id }).first('id');
    const child = await deps.db('files_folders').where({ workspace_id: d.workspace_id, parent_id: d.id }).first('id');
    if (!used && !child) await deps.db('files_folders').where({ workspace_id: d.workspace_id, id: d.id }).delete();
  }
  return due.length;
}

export interface ScrubReport {
  checked: number;
  corrupt: Array<{ workspaceId: string; fileId: string; versionId: string; reason: string }>;
}

/** Read and authenticate every stored version; audit each corrupt one (`files.version.corrupt`). */
export async function scrub(deps: FilesDeps, onProgress?: (n: number) => void): Promise<ScrubReport> {
  const report: ScrubReport = { checked: 0, corrupt: [] };
  let after = '';
  for (;;) {
    const rows = (await deps.db('files_versions').where('id', '>', after).orderBy('id').limit(500).select('id', 'workspace_id', 'file_id', 'blob_key')) as Array<{ id: string; workspace_id: string; file_id: string; blob_key: string }>;
    if (!rows.length) break;
    for (const v of rows) {
      after = v.id;
      const reason = await deps.storage.verify(deps.db, v.blob_key, bindFor(v.file_id, v.id));
      report.checked++;
      onProgress?.(report.checked);
      if (reason) {
        report.corrupt.push({ workspaceId: v.workspace_id, fileId: v.file_id, versionId: v.id, reason });
        await transaction(deps.db, (trx) =>
          deps.audit.record(trx, { actorId: null, userAgent: 'atrium-cli', workspaceId: v.workspace_id, action: 'files.version.corrupt', subjectType: 'FileVersion', subjectId: v.id, detail: { fileId: v.file_id, reason: reason.slice(0, 300) } }),
        );
      }
    }
  }
  return report;
}

