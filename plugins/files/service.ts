// Work the files plugin does outside a request: delivering (notifying the workspace), telling the
// account team about a client's upload, purging the trash after its retention period (versions,
// their previews and all their blobs), and scrubbing every stored version. Jobs that span workspaces read by explicit workspace id from each row they
// touch; nothing here serves a request.
import type { Logger } from 'pino';
import { membersOf, transaction, type AuditEntry, type Db, type StorageService, type Trx, type Tokens, type Token } from '../../core/index.ts';
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

