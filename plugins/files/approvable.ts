// File versions as approvable subjects (the kernel's contract in core/approvables.ts). Registered
// from the files plugin's `register` hook: the type `files.version` describes a file at its current
// (or a given) version through the workspace scope, streams that exact version, shows its pages
// as images (a PDF read in place on the approval pages: pages.ts through the files API), and
// reports each new or restored version to the registry so open approval requests re-open against it.
import type { Request, Response } from 'express';
import { Tokens, transaction, type PluginContext, type WorkspaceScope } from '../../core/index.ts';
import { FilesApi } from './api.ts';
import { sendVersion } from './download.ts';
import { FILE_COLS, VERSION_COLS, normFile, normVersion } from './repo.ts';
import type { FilesSettings } from './settings.ts';

export const FILE_VERSION = 'files.version';

export function registerApprovables(ctx: PluginContext<FilesSettings>): void {
  const registry = ctx.container.resolve(Tokens.Approvables);

  /**
   * Whether `versionId` is a PDF version of a live file of `scope`'s workspace (as describe and send
   * check): only PDFs have pages to show; for anything else the approval pages keep the download.
   */
  const pdfInScope = async (scope: WorkspaceScope, fileId: string, versionId: string) => {
    const f = await scope.table('files_files').where({ id: fileId }).whereNull('deleted_at').first('id');
    const v = f ? await scope.table('files_versions').where({ file_id: fileId, id: versionId }).first('content_type') : undefined;
    return v?.content_type === 'application/pdf';
  };

  registry.register('files', {
    type: FILE_VERSION,
    label: 'File',
    async describe(scope, fileId, opts = {}) {
      // A file in the trash cannot be approved; the scope keeps every other workspace out.
      const f = await scope.table('files_files').where({ id: fileId }).whereNull('deleted_at').first(FILE_COLS);
      if (!f) return undefined;
      const file = normFile(f);
      const versionId = opts.versionId ?? file.current_version_id;
      if (!versionId) return undefined;
      const v = await scope.table('files_versions').where({ file_id: file.id, id: versionId }).first(VERSION_COLS);
      if (!v) return undefined;
      const version = normVersion(v);
      return {
        type: FILE_VERSION,
        subjectId: file.id,
        title: file.name,
        path: `/files/f/${file.id}`,
        versionId: version.id,
        versionNumber: version.number,
        sha256: version.sha256,
        size: version.size,
        contentType: version.content_type,
        clientVisible: file.area === 'shared',
      };
    },
    async send(req: Request, res: Response, scope, fileId, versionId) {
      const f = await scope.table('files_files').where({ id: fileId }).whereNull('deleted_at').first(FILE_COLS);
      if (!f) return false;
      const v = await scope.table('files_versions').where({ file_id: fileId, id: versionId }).first(VERSION_COLS);
      if (!v) return false;
      await sendVersion(req, res, ctx.container.resolve(Tokens.Storage), ctx.container.resolve(Tokens.Db), normFile(f), normVersion(v));
      return true;
    },
    async pages(scope, fileId, versionId) {
      if (!(await pdfInScope(scope, fileId, versionId))) return undefined;
      return ctx.container.resolve(FilesApi).pages(scope.workspaceId, fileId, versionId);
    },
    async pageImage(scope, fileId, versionId, n) {
      if (!(await pdfInScope(scope, fileId, versionId))) return undefined;
      return ctx.container.resolve(FilesApi).pageImage(scope.workspaceId, fileId, versionId, n);
    },
  });

  // A new or restored version is the file's new current version: report it (after the upload's
  // commit, in a transaction of its own, so a failing listener never loses an upload).
  const report = async (p: { workspaceId: string; fileId: string; versionId: string; number: number }) => {
    const db = ctx.container.resolve(Tokens.Db);
    const v = (await db('files_versions').where({ workspace_id: p.workspaceId, file_id: p.fileId, id: p.versionId }).first('sha256')) as { sha256: string } | undefined;
    if (!v) return;
    await transaction(db, (trx) => registry.revised(trx, { workspaceId: p.workspaceId, type: FILE_VERSION, subjectId: p.fileId, versionId: p.versionId, number: p.number, sha256: v.sha256 }));
  };
  ctx.events.subscribe('files.version.created', (p) => report(p));
  ctx.events.subscribe('files.version.restored', (p) => report(p));
}
