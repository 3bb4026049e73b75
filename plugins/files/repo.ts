// Reads for the files plugin. Every query starts from the request's workspace scope and is ANDed
// with the ability's row filter (accessibleBy), so another workspace's id, an internal file for a
// client, or a file in the trash simply is not found.
import type { Request } from 'express';
import type { Knex } from 'knex';
import { accessibleBy, canOnRow, safeName, type Trx } from '../../core/index.ts';
import type { FilesSettings } from './settings.ts';

export type FolderRow = {
  id: string;
  parent_id: string | null;
  name: string;
  area: 'shared' | 'internal';
  client_access: 'view' | 'upload' | 'manage';
  created_at: number;
  deleted_at: number | null;
};

export type FileRow = {
  id: string;
  folder_id: string | null;
  name: string;
  name_key: string;
  area: 'shared' | 'internal';
  current_version_id: string | null;
  size: number;
  content_type: string;
  delivered_at: number | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
};

export type VersionRow = {
  id: string;
  file_id: string;
  number: number;
  blob_key: string;
  size: number;
  sha256: string;
  content_type: string;
  uploaded_by: string | null;
  created_at: number;
};

export const FOLDER_COLS = ['id', 'parent_id', 'name', 'area', 'client_access', 'created_at', 'deleted_at'];
export const FILE_COLS = ['id', 'folder_id', 'name', 'name_key', 'area', 'current_version_id', 'size', 'content_type', 'delivered_at', 'created_by', 'created_at', 'updated_at', 'deleted_at'];
export const VERSION_COLS = ['id', 'file_id', 'number', 'blob_key', 'size', 'sha256', 'content_type', 'uploaded_by', 'created_at'];

/**
 * Numbers come back as strings from PostgreSQL bigint columns. Names go through the kernel's
 * name rule (core/names.ts) on the way out too, so a name stored before the rule existed (a
 * right-to-left override, a zero-width space) is shown and served as the name it really is.
 */
export function normFile(r: Record<string, unknown>): FileRow {
  return {
    ...(r as unknown as FileRow),
    name: typeof r.name === 'string' ? safeName(r.name, 'file') : (r.name as string),
    size: Number(r.size),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    delivered_at: r.delivered_at == null ? null : Number(r.delivered_at),
    deleted_at: r.deleted_at == null ? null : Number(r.deleted_at),
  };
}

export function normVersion(r: Record<string, unknown>): VersionRow {
  return { ...(r as unknown as VersionRow), number: Number(r.number), size: Number(r.size), created_at: Number(r.created_at) };
}

function normFolder(r: Record<string, unknown>): FolderRow {
  return { ...(r as unknown as FolderRow), name: typeof r.name === 'string' ? safeName(r.name, 'folder') : (r.name as string), created_at: Number(r.created_at), deleted_at: r.deleted_at == null ? null : Number(r.deleted_at) };
}

const scopeOf = (req: Request, trx?: Trx) => (trx ? req.ctx.scope!.in(trx) : req.ctx.scope!);

/** Files this request may `action` (default read), live ones unless `trash`. */
export function filesQuery(req: Request, opts: { action?: string; trash?: boolean; trx?: Trx; alias?: string } = {}): Knex.QueryBuilder {
  const a = opts.alias;
  const q = scopeOf(req, opts.trx)
    .table('files_files', a)
    .modify(accessibleBy(req.ctx.ability, opts.action ?? 'read', 'File', a ? (f) => `${a}.${f}` : undefined));
  const col = a ? `${a}.deleted_at` : 'deleted_at';
  return opts.trash ? q.whereNotNull(col) : q.whereNull(col);
}

export function foldersQuery(req: Request, opts: { action?: string; trash?: boolean; trx?: Trx } = {}): Knex.QueryBuilder {
  const q = scopeOf(req, opts.trx).table('files_folders').modify(accessibleBy(req.ctx.ability, opts.action ?? 'read', 'Folder'));
  return opts.trash ? q.whereNotNull('deleted_at') : q.whereNull('deleted_at');
}

export async function findFile(req: Request, id: string, opts: { trash?: boolean; trx?: Trx } = {}): Promise<FileRow | undefined> {
  const r = await filesQuery(req, opts).where({ id }).first(FILE_COLS);
  return r ? normFile(r) : undefined;
}

export async function findFolder(req: Request, id: string, opts: { trash?: boolean; trx?: Trx } = {}): Promise<FolderRow | undefined> {
  const r = await foldersQuery(req, opts).where({ id }).first(FOLDER_COLS);
  return r ? normFolder(r) : undefined;
}

/** The top level behaves like a shared folder whose client access comes from the settings. */
export function rootFolder(settings: FilesSettings): FolderRow {
  return { id: '', parent_id: null, name: 'Files', area: 'shared', client_access: settings.rootClientAccess, created_at: 0, deleted_at: null };
}

/** Resolve a folder reference from a form or URL: '' is the top level; anything unknown is undefined. */
export async function folderOrRoot(req: Request, id: string | undefined, settings: FilesSettings, trx?: Trx): Promise<FolderRow | undefined> {
  if (!id) return rootFolder(settings);
  return findFolder(req, id, { trx });
}

/** May this request do `action` (upload, organize) in `folder`? The row check, never a bare subject. */
export function canInFolder(req: Request, action: 'upload' | 'organize', folder: FolderRow): boolean {
  return canOnRow(req.ctx.ability, action, 'Folder', { area: folder.area, client_access: folder.client_access });
}

/** Every live folder the request may read, by name (one query: a list page derives its sub-folders, breadcrumb and tree from it). */
export async function readableFolders(req: Request): Promise<FolderRow[]> {
  return ((await foldersQuery(req).orderBy('name').select(FOLDER_COLS)) as Array<Record<string, unknown>>).map(normFolder);
}

/** The readable folders as a tree (a folder whose parent the request may not read shows at the top). */
export function folderTree(rows: FolderRow[], currentId: string): Array<{ id: string; name: string; depth: number; current: boolean; internal: boolean }> {
  const children = new Map<string | null, FolderRow[]>();
  const ids = new Set(rows.map((r) => r.id));
  for (const r of rows) {
    const parent = r.parent_id && ids.has(r.parent_id) ? r.parent_id : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const out: Array<{ id: string; name: string; depth: number; current: boolean; internal: boolean }> = [];
  const walk = (parent: string | null, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      out.push({ id: r.id, name: r.name, depth, current: r.id === currentId, internal: r.area === 'internal' });
      if (depth < 20) walk(r.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** A folder and all its live descendants that the request may read (for zip and trash). */
export async function descendants(req: Request, rootId: string): Promise<Array<{ id: string; path: string[] }>> {
  const rows = ((await foldersQuery(req).select(FOLDER_COLS)) as Array<Record<string, unknown>>).map(normFolder);
  const byParent = new Map<string, FolderRow[]>();
  for (const r of rows) if (r.parent_id) byParent.set(r.parent_id, [...(byParent.get(r.parent_id) ?? []), r]);
  const out: Array<{ id: string; path: string[] }> = [{ id: rootId, path: [] }];
  for (let i = 0; i < out.length && out.length < 10_000; i++) {
    for (const c of byParent.get(out[i]!.id) ?? []) out.push({ id: c.id, path: [...out[i]!.path, c.name] });
  }
  return out;
}

/** Bytes stored for a workspace: every version, trash included (it still occupies storage). */
export async function usedBytes(req: Request, trx?: Trx): Promise<number> {
  const r = (await scopeOf(req, trx).table('files_versions').sum({ n: 'size' }).first()) as { n: number | string | null };
  return Number(r?.n ?? 0);
}
