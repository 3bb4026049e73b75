// The files plugin's service for other plugins (signatures, approvals): describe a file's current
// version, read a version's bytes (authenticated and hash-checked), show a PDF version's pages as
// images to read it in place (pages.ts), and add a version (stored
// through the kernel's encrypted storage with the same bind string as an upload, recorded with
// its audit event and the `files.version.created` event, exactly as an upload records one).
// Exported on the root container from the files plugin's `register` hook, as `FilesApi`.
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { AtriumError, newId, token, Tokens, type AuditEntry, type Db, type DocumentPages, type PageImage, type PluginContext, type Trx } from '../../core/index.ts';
import { bindFor } from './download.ts';
import { PageImages, type PageSource } from './pages.ts';
import type { FilesSettings } from './settings.ts';

/** One version of a file, as other plugins see it. */
export interface FileVersionInfo {
  fileId: string;
  versionId: string;
  number: number;
  /** The file's current name. */
  name: string;
  size: number;
  sha256: string;
  contentType: string;
  /** Whether the file is shared with the client or internal to the firm. */
  area: 'shared' | 'internal';
}

export interface AddVersionInput {
  workspaceId: string;
  fileId: string;
  bytes: Buffer;
  contentType: string;
  /** Who adds it (the audit entry's actor); actorId null for the system. */
  actor: Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;
  /** Recorded in the audit entry's detail (e.g. `{ via: 'signatures', envelopeId }`). */
  detail?: Record<string, unknown>;
}

export interface FilesApi {
  /** The file's current version, or undefined when the file is missing, in the trash or another workspace's. */
  describe(db: Db | Trx, workspaceId: string, fileId: string): Promise<FileVersionInfo | undefined>;
  /** Live files of a workspace with this content type (newest first), for a picker. */
  listByType(db: Db | Trx, workspaceId: string, contentType: string, opts?: { limit?: number; offset?: number }): Promise<Array<{ fileId: string; name: string; size: number; updatedAt: number; area: 'shared' | 'internal' }>>;
  /** One version of a file (any version, not only the current one), or undefined. */
  version(db: Db | Trx, workspaceId: string, fileId: string, versionId: string): Promise<FileVersionInfo | undefined>;
  /**
   * The decrypted bytes of one version, whole. Every chunk is authenticated by the storage and the
   * SHA-256 of the bytes is compared with the version's recorded hash: a mismatch throws
   * ATR_STORAGE_INTEGRITY. A missing version throws ATR_NOT_FOUND (404).
   */
  readVersion(workspaceId: string, fileId: string, versionId: string, opts?: { maxBytes?: number; db?: Db | Trx }): Promise<Buffer>;
  /** Store `bytes` as the file's new current version, in `trx` (with its audit and event). */
  addVersion(trx: Trx, input: AddVersionInput): Promise<FileVersionInfo>;
  /**
   * The pages of one version (a PDF) as images, to read it in place: the first `pagesShown` pages
   * with their sizes, or why they cannot be shown (not a PDF, too large, unreadable: the page then
   * offers the download). Like readVersion, any version of a file of this workspace, trashed
   * files included: the caller decides who may read it, and serves the images from its own route.
   */
  pages(workspaceId: string, fileId: string, versionId: string): Promise<DocumentPages>;
  /** Page `n` of one version as a JPEG, or undefined (no such page, or it cannot be drawn: 404). */
  pageImage(workspaceId: string, fileId: string, versionId: string, n: number): Promise<PageImage | undefined>;
}

/** Other plugins resolve this token (and list `files` in their `requires`). */
export const FilesApi = token<FilesApi>('files:api');

type Row = Record<string, unknown>;

function toInfo(r: Row): FileVersionInfo {
  return {
    fileId: String(r.file_id),
    versionId: String(r.version_id),
    number: Number(r.number),
    name: String(r.name),
    size: Number(r.size),
    sha256: String(r.sha256),
    contentType: String(r.content_type),
    area: r.area === 'internal' ? 'internal' : 'shared',
  };
}

export function exportFilesApi(ctx: PluginContext<FilesSettings>): void {
  ctx.container.export(FilesApi, {
    useFactory: (c) => {
      const db = c.resolve(Tokens.Db);
      const storage = c.resolve(Tokens.Storage);
      const audit = c.resolve(Tokens.Audit);
      const events = c.resolve(Tokens.Events);
      const clock = c.resolve(Tokens.Clock);
      // One renderer and memory cache of page images per running instance (pages.ts).
      const pageImages = new PageImages({ settings: ctx.settings, logger: ctx.logger });

      // Every read is keyed by the workspace: another workspace's ids simply are not found.
      const versionQuery = (q: Db | Trx, workspaceId: string, fileId: string) =>
        q('files_files as f')
          .join('files_versions as v', function () {
            this.on('v.file_id', '=', 'f.id').andOn('v.workspace_id', '=', 'f.workspace_id');
          })
          .where('f.workspace_id', workspaceId)
          .andWhere('f.id', fileId)
          .whereNull('f.deleted_at')
          .select('f.id as file_id', 'v.id as version_id', 'v.number', 'f.name', 'v.size', 'v.sha256', 'v.content_type', 'f.area', 'v.blob_key');

      const api: FilesApi = {
        async describe(q, workspaceId, fileId) {
          const r = (await versionQuery(q, workspaceId, fileId).whereRaw('v.id = f.current_version_id').first()) as Row | undefined;
          return r ? toInfo(r) : undefined;
        },

        async listByType(q, workspaceId, contentType, opts = {}) {
          const rows = (await q('files_files')
            .where({ workspace_id: workspaceId, content_type: contentType })
            .whereNull('deleted_at')
            .whereNotNull('current_version_id')
            .orderBy('updated_at', 'desc')
            .orderBy('id')
            .limit(opts.limit ?? 50)
            .offset(opts.offset ?? 0)
            .select('id', 'name', 'size', 'updated_at', 'area')) as Row[];
          return rows.map((r) => ({ fileId: String(r.id), name: String(r.name), size: Number(r.size), updatedAt: Number(r.updated_at), area: r.area === 'internal' ? 'internal' : 'shared' }));
        },

        async version(q, workspaceId, fileId, versionId) {
          const r = (await versionQuery(q, workspaceId, fileId).andWhere('v.id', versionId).first()) as Row | undefined;
          return r ? toInfo(r) : undefined;
        },

        async readVersion(workspaceId, fileId, versionId, opts = {}) {
          const q = opts.db ?? db;
          // Trashed files too: a signed or approved version must stay readable as evidence.
          const r = (await q('files_versions').where({ workspace_id: workspaceId, file_id: fileId, id: versionId }).first('blob_key', 'size', 'sha256')) as Row | undefined;
          if (!r) throw new AtriumError('ATR_NOT_FOUND', 'no such file version', { status: 404 });
          if (opts.maxBytes !== undefined && Number(r.size) > opts.maxBytes) throw new AtriumError('ATR_TOO_LARGE', `the file is larger than ${opts.maxBytes} bytes`, { status: 413 });
          const opened = await storage.open(q, String(r.blob_key), { bind: bindFor(fileId, versionId) });
          const parts: Buffer[] = [];
          for await (const chunk of opened.stream) parts.push(chunk as Buffer);
          const bytes = Buffer.concat(parts);
          const sha = createHash('sha256').update(bytes).digest('hex');
          if (sha !== String(r.sha256) || bytes.length !== Number(r.size)) {
            throw new AtriumError('ATR_STORAGE_INTEGRITY', `file ${fileId} version ${versionId} does not match its recorded SHA-256`, { status: 500 });
          }
          return bytes;
        },

        async addVersion(trx, input) {
          const f = (await trx('files_files').where({ workspace_id: input.workspaceId, id: input.fileId }).first('id', 'name', 'area')) as Row | undefined;
          if (!f) throw new AtriumError('ATR_NOT_FOUND', 'no such file', { status: 404 });
          const versionId = newId();
          // Stored exactly as an upload stores a version (same bind string: files:<file>:<version>).
          // put() writes and renames the bytes; the row is recorded in `trx`. If `trx` rolls back,
          // the unreferenced blob is removed by the storage sweeper.
          const blob = await storage.put(Readable.from([input.bytes]), { bind: bindFor(input.fileId, versionId) });
          try {
            const max = (await trx('files_versions').where({ workspace_id: input.workspaceId, file_id: input.fileId }).max({ n: 'number' }).first()) as { n: number | string | null } | undefined;
            const number = Number(max?.n ?? 0) + 1;
            const now = clock.now();
            await storage.record(trx, blob, { plugin: 'files', workspaceId: input.workspaceId });
            await trx('files_versions').insert({
              id: versionId,
              workspace_id: input.workspaceId,
              file_id: input.fileId,
              number,
              blob_key: blob.key,
              size: blob.size,
              sha256: blob.sha256,
              content_type: input.contentType,
              uploaded_by: input.actor.actorId ?? null,
              created_at: now,
            });
            await trx('files_files').where({ workspace_id: input.workspaceId, id: input.fileId }).update({ current_version_id: versionId, size: blob.size, content_type: input.contentType, updated_at: now });
            await audit.record(trx, {
              ...input.actor,
              workspaceId: input.workspaceId,
              action: 'files.version.create',
              subjectType: 'File',
              subjectId: input.fileId,
              detail: { versionId, number, size: blob.size, sha256: blob.sha256, name: String(f.name), ...(input.detail ?? {}) },
            });
            events.publish(trx, 'files.version.created', { workspaceId: input.workspaceId, fileId: input.fileId, versionId, number });
            return { fileId: input.fileId, versionId, number, name: String(f.name), size: blob.size, sha256: blob.sha256, contentType: input.contentType, area: f.area === 'internal' ? 'internal' : 'shared' };
          } catch (err) {
            await storage.discard(blob);
            throw err;
          }
        },

        async pages(workspaceId, fileId, versionId) {
          const src = await pageSource(workspaceId, fileId, versionId);
          return src ? pageImages.describe(src) : { ok: false, reason: 'not a PDF' };
        },

        async pageImage(workspaceId, fileId, versionId, n) {
          const src = await pageSource(workspaceId, fileId, versionId);
          return src ? pageImages.image(src, n) : undefined;
        },
      };

      /** A PDF version as the page renderer reads it; undefined for a missing version or another type. */
      async function pageSource(workspaceId: string, fileId: string, versionId: string): Promise<PageSource | undefined> {
        const r = (await db('files_versions').where({ workspace_id: workspaceId, file_id: fileId, id: versionId }).first('size', 'sha256', 'content_type')) as Row | undefined;
        if (!r || r.content_type !== 'application/pdf') return undefined;
        const size = Number(r.size);
        return { workspaceId, versionId, size, sha256: String(r.sha256), read: () => api.readVersion(workspaceId, fileId, versionId, { maxBytes: size }) };
      }
      return api;
    },
  });
}
