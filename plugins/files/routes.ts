// The workspace routes of the files plugin, mounted at /w/:workspace/files. Every read goes
// through the workspace scope and the ability's row filter (repo.ts); every change is one
// transaction with its audit event; client view models are built field by field.
import type { NextFunction, Request, Response, Router } from 'express';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AtriumError, authorize, canOnRow, contentDisposition, fieldErrors, formBody, nameField, newId, notFound, safeName, singleLine, transaction, type StorageService, type Trx } from '../../core/index.ts';
import { fileHeaders, sendOpened, sendVersion, sendZip, type ZipEntry } from './download.ts';
import { previewBind } from './preview.ts';
import {
  FILE_COLS,
  VERSION_COLS,
  canInFolder,
  descendants,
  filesQuery,
  findFile,
  findFolder,
  folderOrRoot,
  folderTree,
  readableFolders,
  foldersQuery,
  normFile,
  normVersion,
  rootFolder,
  usedBytes,
  type FileRow,
  type FolderRow,
} from './repo.ts';
import { createFolder, deliver, nameKey, notifyClientUpload, recordDownloads, recordVersion, type FilesDeps, type UploadedFile } from './service.ts';
import type { FilesSettings } from './settings.ts';
import { THUMBNAIL, ACCEPTED_EXTENSIONS } from '../../core/index.ts';
import { formatBytes, receiveUpload, type IncomingFile, type UploadProblem } from '../../core/index.ts';

const SCRIPT = readFileSync(new URL('./assets/files.js', import.meta.url));
const SORTS = { name: 'name_key', size: 'size', updated: 'updated_at' } as const;
/** How many rows past the requested page's start the list counts exactly (see listModel). */
const COUNT_AHEAD = 1000;

const listQuery = z.object({
  q: singleLine({ max: 100 }).optional().default(''),
  sort: z.enum(['name', 'size', 'updated']).optional().default('name'),
  dir: z.enum(['asc', 'desc']).optional().default('asc'),
  page: z.coerce.number().int().min(1).max(100_000).optional().default(1),
  view: z.enum(['list', 'grid']).optional().default('list'),
});

const fileName = nameField({ required: 'Give the file a name' });
const folderName = nameField({ required: 'Give the folder a name' });
const areaField = z.enum(['shared', 'internal']);
const accessField = z.enum(['view', 'upload', 'manage']);

const renameForm = z.strictObject({ name: fileName, area: areaField.optional() });
const moveForm = z.strictObject({ folder: z.string().max(36) }); // not free text: a folder id, looked up
const folderForm = z.strictObject({ name: folderName, parent: z.string().max(36).optional().default(''), area: areaField.optional(), client_access: accessField.optional() }); // not free text: parent is a folder id
const folderUpdateForm = z.strictObject({ name: folderName, client_access: accessField });
const zipForm = z.strictObject({ ids: z.union([z.string().max(36), z.array(z.string().max(36)).max(10_000)]) }); // not free text: file ids, looked up
const empty = z.strictObject({});

const isStaff = (req: Request) => req.ctx.ability.can('history', 'File');
const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/files`;

/** A ready first-page preview of a file's current version: the PNG's size in pixels. */
type PreviewSize = { width: number; height: number };

/** From a row joined with `files_previews` (null columns: no ready preview). */
const previewOf = (r: Record<string, unknown>): PreviewSize | null => (r.preview_width == null || r.preview_height == null ? null : { width: Number(r.preview_width), height: Number(r.preview_height) });

/** The model a person sees for one file, field by field. Staff-only facts only for staff. */
function fileView(req: Request, f: FileRow, folderName?: string, preview?: PreviewSize | null) {
  const staff = isStaff(req);
  // The list shows it within a 32 x 32 box, the file page at its own size. The version in the URL
  // only busts the browser's cache when a new version becomes current; the route serves the current one.
  const fit = preview ? Math.min(32 / preview.width, 32 / preview.height) : 0;
  return {
    id: f.id,
    name: f.name,
    href: `${base(req)}/f/${f.id}`,
    download: `${base(req)}/f/${f.id}/download`,
    size: formatBytes(f.size),
    sizeBytes: f.size,
    updatedAt: f.updated_at,
    deliverable: f.delivered_at !== null,
    thumb: THUMBNAIL.has(f.content_type) && f.size <= 5 * 1024 * 1024 ? `${base(req)}/f/${f.id}/thumb` : null,
    preview:
      preview && f.current_version_id
        ? {
            src: `${base(req)}/f/${f.id}/preview?v=${encodeURIComponent(f.current_version_id)}`,
            alt: `First page of ${f.name}`,
            width: preview.width,
            height: preview.height,
            listWidth: Math.max(1, Math.round(preview.width * fit)),
            listHeight: Math.max(1, Math.round(preview.height * fit)),
          }
        : null,
    folder: folderName ?? null,
    internal: staff && f.area === 'internal',
    // The kernel's file browser shows these as badges (ui/badge).
    badges: [f.delivered_at !== null ? { text: 'Deliverable', tone: 'success' } : null, staff && f.area === 'internal' ? { text: 'Internal', tone: 'warning', icon: 'lock' } : null].filter(Boolean),
  };
}

export function workspaceRoutes(workspace: Router, deps: FilesDeps & { settings: FilesSettings; storage: StorageService; now: () => number }): void {
  const { db, storage, audit, events, settings } = deps;

  const fail = (status: number, message: string) => new AtriumError('ATR_VALIDATION', message, { status });

  /** The list fragment for one folder (or a search across the workspace). */
  async function listModel(req: Request, folder: FolderRow, folders: FolderRow[]) {
    const parsed = listQuery.safeParse(req.query);
    const q = parsed.success ? parsed.data : listQuery.parse({});
    const search = q.q;
    const files = filesQuery(req, { alias: 'f' });
    if (search) files.whereRaw("f.name_key like ? escape '\\'", [`%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
    else if (folder.id) files.where('f.folder_id', folder.id);
    else files.whereNull('f.folder_id');
    // Count at most COUNT_AHEAD rows past the start of the requested page, so the first pages of
    // a folder with 100,000 files cost what they cost with 1,000 (an exact COUNT(*) reads every
    // row). Beyond that the caption and the page count say "more than".
    const limit = (q.page - 1) * settings.pageSize + COUNT_AHEAD + 1;
    const counted = Number(((await db.from(files.clone().select(db.raw('1')).limit(limit).as('c')).count({ n: '*' }).first()) as { n: number | string }).n);
    const exact = counted < limit;
    const last = exact ? Math.max(1, Math.ceil(counted / settings.pageSize)) : Infinity;
    const page = Math.min(q.page, last);
    const total: number | string = exact ? counted : `more than ${limit - 1}`;
    const pages: number | string = exact ? last : `more than ${Math.floor((limit - 1) / settings.pageSize)}`;
    // The ready preview of each row's current version comes in the same query, joined to the page
    // of rows only (a derived table: at most pageSize lookups on the unique version_id, however
    // many files and previews the workspace has; joined before the LIMIT, PostgreSQL hashed every
    // preview of the workspace). No query per row; the count above is unchanged.
    const pageOfFiles = files
      .leftJoin('files_folders as d', function () {
        this.on('d.id', '=', 'f.folder_id').andOn('d.workspace_id', '=', 'f.workspace_id');
      })
      .orderBy(`f.${SORTS[q.sort]}`, q.dir)
      .orderBy('f.id')
      .limit(settings.pageSize)
      .offset((page - 1) * settings.pageSize)
      .select(...FILE_COLS.map((c) => `f.${c}`), 'd.name as folder_name');
    const rows = ((await db
      .from(pageOfFiles.as('pf'))
      .leftJoin('files_previews as p', function () {
        this.on('p.version_id', '=', 'pf.current_version_id').andOnVal('p.workspace_id', '=', req.ctx.workspace!.id).andOnVal('p.status', '=', 'ready');
      })
      .orderBy(`pf.${SORTS[q.sort]}`, q.dir)
      .orderBy('pf.id')
      .select('pf.*', 'p.width as preview_width', 'p.height as preview_height')) as Array<Record<string, unknown>>).map((r) => ({ f: normFile(r), folder: r.folder_name as string | null, preview: previewOf(r) }));
    const subfolders = search
      ? []
      : folders.filter((d) => d.parent_id === (folder.id || null)).map((d) => ({ id: d.id, name: safeName(d.name, 'folder'), href: `${base(req)}/folders/${d.id}`, zip: `${base(req)}/folders/${d.id}/zip`, internal: isStaff(req) && d.area === 'internal' }));
    const folderRows = subfolders.map((d) => ({ ...d, badges: d.internal ? [{ text: 'Internal', tone: 'warning', icon: 'lock' }] : [] }));
    const here = folder.id ? `${base(req)}/folders/${folder.id}` : `${base(req)}/`;
    const link = (over: Record<string, string | number>) => {
      const p = new URLSearchParams({ ...(search ? { q: search } : {}), sort: q.sort, dir: q.dir, page: String(page), ...(q.view === 'grid' ? { view: 'grid' } : {}), ...Object.fromEntries(Object.entries(over).map(([k, v]) => [k, String(v)])) });
      return `${here}?${p}`;
    };
    const sortLink = (key: 'name' | 'size' | 'updated') => ({ href: link({ sort: key, dir: q.sort === key && q.dir === 'asc' ? 'desc' : 'asc', page: 1 }), active: q.sort === key, dir: q.sort === key ? (q.dir === 'asc' ? 'ascending' : 'descending') : 'none' });
    return {
      // The grid view is a query parameter, so it survives reloads, sorting, paging and htmx swaps.
      listUrl: q.view === 'grid' ? `${here}?view=grid` : here,
      view: q.view,
      viewHrefs: { list: link({ view: 'list', page: 1 }).replace(/&?view=list/, ''), grid: link({ view: 'grid', page: 1 }) },
      caption: `${typeof total === 'number' && total === 1 ? '1 file' : `${total} files`}${search ? ` matching “${search}”` : ''}`,
      search,
      files: rows.map((r) => fileView(req, r.f, search ? (r.folder ?? 'Top level') : undefined, r.preview)),
      subfolders: folderRows,
      total,
      page,
      pages,
      prev: page > 1 ? link({ page: page - 1 }) : null,
      next: page < last ? link({ page: page + 1 }) : null,
      sorts: { name: sortLink('name'), size: sortLink('size'), updated: sortLink('updated') },
      empty: !rows.length && !subfolders.length,
      // The list's own place and query ride along, so an empty selection can answer with this
      // same page (POST /zip below).
      zipAction: `${base(req)}/zip?${new URLSearchParams({ ...(folder.id ? { folder: folder.id } : {}), ...(search ? { q: search } : {}), sort: q.sort, dir: q.dir, page: String(page), ...(q.view === 'grid' ? { view: 'grid' } : {}) })}`,
    };
  }

  /**
   * A folder's page. `folders` is every folder the request may read (readableFolders), when the
   * caller has already read it to find `folder`: the sub-folders, the breadcrumb and the tree all
   * come from that one read.
   */
  async function page(req: Request, folder: FolderRow, extra: Record<string, unknown> = {}, status = 200, folders?: FolderRow[]) {
    folders ??= await readableFolders(req);
    const list = await listModel(req, folder, folders);
    if (req.get('hx-request') && req.get('hx-target') === 'file-list') return req.ctx.render('files/list', list);
    const staff = isStaff(req);
    const ws = req.ctx.workspace!;
    // The visit that "new deliverables since your last visit" counts from (not for staff previews).
    // The mark moves only when it has to: on the first visit (no mark yet), and when a deliverable
    // came after it (index workspace_id, delivered_at), which is all the card counts. So most list
    // views only read (one query, on a SQLite reader, no WAL): a write that changes nothing is
    // still a commit on PostgreSQL (the upsert locks the row: WAL and a flush) and a statement on
    // SQLite's one writing connection. The upsert keeps its condition, so two views racing never
    // move the mark backwards; RETURNING tells the kernel's cache when it changed nothing.
    if (!req.get('hx-request')) {
      const scope = req.ctx.scope!;
      const userId = req.ctx.user!.id;
      const mark = (await db
        .select({ seen: scope.table('files_visits').where({ user_id: userId }).select('seen_at').limit(1), newest: scope.table('files_files').max('delivered_at') })
        .first()) as { seen: number | string | null; newest: number | string | null };
      if (mark.seen === null || (mark.newest !== null && Number(mark.seen) < Number(mark.newest))) {
        const newest = scope.table('files_files').max('delivered_at');
        await scope
          .upsert('files_visits', { id: newId(), user_id: userId, seen_at: deps.now() }, ['workspace_id', 'user_id'], ['seen_at'])
          .where('files_visits.seen_at', '<', deps.db.raw('coalesce((?), 0)', [newest]))
          .returning('user_id');
      }
    }
    const byId = new Map(folders.map((d) => [d.id, d]));
    const crumbs: Array<{ name: string; href: string }> = [];
    let cursor: FolderRow | undefined = folder.id ? folder : undefined;
    for (let i = 0; cursor && i < 20; i++) {
      crumbs.unshift({ name: cursor.name, href: `${base(req)}/folders/${cursor.id}` });
      cursor = cursor.parent_id ? byId.get(cursor.parent_id) : undefined;
    }
    await req.ctx.render(
      'files/index',
      {
        ...list,
        folder: { id: folder.id, name: folder.id ? folder.name : 'Files', internal: staff && folder.area === 'internal', clientAccess: folder.client_access, zip: folder.id ? `${base(req)}/folders/${folder.id}/zip` : null, updateAction: folder.id ? `${base(req)}/folders/${folder.id}` : null, deleteAction: folder.id ? `${base(req)}/folders/${folder.id}/delete` : null },
        crumbs,
        // The breadcrumb's ancestors (ui/breadcrumb): the top level, then each parent folder.
        trail: folder.id ? [{ label: 'Files', href: `${base(req)}/` }, ...crumbs.slice(0, -1).map((c) => ({ label: c.name, href: c.href }))] : [],
        tree: folderTree(folders, folder.id).map((t) => ({ ...t, href: `${base(req)}/folders/${t.id}`, indent: `indent-${Math.min(t.depth, 6)}` })),
        rootHref: `${base(req)}/`,
        rootCurrent: !folder.id,
        canUpload: canInFolder(req, 'upload', folder) && req.ctx.ability.can('upload', 'File'),
        canCreateFolder: req.ctx.ability.can('create', 'Folder'),
        staff,
        uploadAction: `${base(req)}/upload`,
        folderAction: `${base(req)}/folders`,
        trashHref: staff ? `${base(req)}/trash` : null,
        reportHref: staff ? `${base(req)}/report.csv` : null,
        scriptSrc: `${base(req)}/assets/files.js`,
        nonce: req.ctx.nonce,
        maxFile: formatBytes(settings.maxFileBytes),
        maxFiles: settings.maxFiles,
        accepted: ACCEPTED_EXTENSIONS.map((e) => `.${e}`).join(', '),
        values: {},
        ...extra,
      },
      { title: folder.id ? folder.name : 'Files', status },
    );
  }

  async function fileOr404(req: Request, next: NextFunction, opts: { trash?: boolean; action?: string } = {}): Promise<FileRow | undefined> {
    const f = await findFile(req, String(req.params.fileId), { trash: opts.trash });
    if (!f || (opts.action && !canOnRow(req.ctx.ability, opts.action, 'File', f))) {
      next(notFound());
      return undefined;
    }
    return f;
  }

  async function folderOf(req: Request, f: { folder_id: string | null }, trx?: Trx): Promise<FolderRow> {
    // A file whose folder was trashed or is not readable behaves as if it were at the top level.
    return (f.folder_id ? await findFolder(req, f.folder_id, { trx }) : undefined) ?? rootFolder(settings);
  }

  /** The ready preview of the file's current version (its blob and size), if there is one. */
  async function readyPreview(req: Request, f: FileRow): Promise<{ blob_key: string; width: number; height: number } | undefined> {
    if (!f.current_version_id) return undefined;
    const p = (await req.ctx.scope!.table('files_previews').where({ version_id: f.current_version_id, status: 'ready' }).whereNotNull('blob_key').first('blob_key', 'width', 'height')) as { blob_key: string; width: number | string; height: number | string } | undefined;
    return p ? { blob_key: p.blob_key, width: Number(p.width), height: Number(p.height) } : undefined;
  }

  async function currentVersion(req: Request, f: FileRow, trx?: Trx) {
    const v = await (trx ? req.ctx.scope!.in(trx) : req.ctx.scope!).table('files_versions').where({ file_id: f.id, id: f.current_version_id }).first(VERSION_COLS);
    return v ? normVersion(v) : undefined;
  }

  const receipt = (req: Request, entries: Array<{ file: FileRow; versionId: string }>, via: 'file' | 'zip', detail: Record<string, unknown>) =>
    recordDownloads(deps, req.ctx.actor(), req.ctx.workspace!.id, req.ctx.user!.id, entries.map((e) => ({ fileId: e.file.id, versionId: e.versionId })), via, detail, deps.now());

  // ---- browsing

  workspace.get('/assets/files.js', (_req, res) => {
    res.type('application/javascript').setHeader('Cache-Control', 'private, max-age=300');
    res.send(SCRIPT);
  });

  workspace.get('/', authorize('read', 'File'), async (req) => page(req, rootFolder(settings)));

  workspace.get('/folders/:folderId', authorize('read', 'File'), async (req, _res, next) => {
    const folders = await readableFolders(req);
    const folder = folders.find((d) => d.id === String(req.params.folderId));
    if (!folder) return next(notFound());
    await page(req, folder, {}, 200, folders);
  });

  workspace.get('/f/:fileId', authorize('read', 'File'), async (req, _res, next) => {
    const f = await fileOr404(req, next);
    if (!f) return;
    await renderFile(req, f);
  });

  async function renderFile(req: Request, f: FileRow, extra: Record<string, unknown> = {}, status = 200) {
    const staff = isStaff(req);
    const folder = await folderOf(req, f);
    const canOrganize = canOnRow(req.ctx.ability, 'update', 'File', f) && canInFolder(req, 'organize', folder);
    let versions: unknown[] = [];
    let receipts: unknown[] = [];
    if (staff) {
      const vs = (await req.ctx.scope!.table('files_versions', 'v').leftJoin('users as u', 'u.id', 'v.uploaded_by').where('v.file_id', f.id).orderBy('v.number', 'desc').select(...VERSION_COLS.map((c) => `v.${c}`), 'u.name as uploader')) as Array<Record<string, unknown>>;
      versions = vs.map((r) => {
        const v = normVersion(r);
        return { id: v.id, number: v.number, size: formatBytes(v.size), sha256: v.sha256, uploader: (r.uploader as string) ?? 'Someone no longer here', at: v.created_at, current: v.id === f.current_version_id, download: `${base(req)}/f/${f.id}/v/${v.id}/download`, restore: `${base(req)}/f/${f.id}/v/${v.id}/restore` };
      });
      const rs = (await req.ctx.scope!.table('files_downloads', 'd').leftJoin('users as u', 'u.id', 'd.user_id').where('d.file_id', f.id).orderBy('d.created_at', 'desc').limit(100).select('d.via', 'd.created_at', 'd.version_id', 'u.name', 'u.email')) as Array<Record<string, unknown>>;
      const numbers = new Map((versions as Array<{ id: string; number: number }>).map((v) => [v.id, v.number]));
      receipts = rs.map((r) => ({ who: (r.name as string) ?? 'Someone no longer here', email: (r.email as string) ?? '', at: Number(r.created_at), via: r.via === 'zip' ? 'in a zip' : 'file', version: numbers.get(String(r.version_id)) ?? '?' }));
    }
    const preview = await readyPreview(req, f);
    const folders = canOrganize ? ((await foldersQuery(req).orderBy('name').select('id', 'name', 'area', 'client_access')) as FolderRow[]).filter((d) => canInFolder(req, 'organize', d)).map((d) => ({ id: d.id, name: safeName(d.name, 'folder'), selected: d.id === f.folder_id })) : [];
    await req.ctx.render(
      'files/file',
      {
        file: { ...fileView(req, f, undefined, preview ? { width: preview.width, height: preview.height } : null), contentType: f.content_type, area: staff ? f.area : undefined, deliveredAt: f.delivered_at, folderName: folder.id ? folder.name : 'Top level', folderHref: folder.id ? `${base(req)}/folders/${folder.id}` : `${base(req)}/` },
        staff,
        versions,
        receipts,
        canOrganize,
        canUploadVersion: canOnRow(req.ctx.ability, 'upload', 'File', f) && canInFolder(req, 'upload', folder),
        canDeliver: staff && f.area === 'shared' && f.delivered_at === null,
        // What other plugins offer on this file (request approval, send for signature).
        subjectActions: req.ctx.subjectActions('File', { id: f.id, name: f.name, content_type: f.content_type, area: f.area }),
        // Its discussion, when a plugin provides discussions (the kernel's subject threads).
        discussion: req.ctx.subjectThread('File', f.id),
        folders,
        atTop: !f.folder_id,
        trail: [{ label: 'Files', href: `${base(req)}/` }, ...(folder.id ? [{ label: folder.name, href: `${base(req)}/folders/${folder.id}` }] : [])],
        currentSha256: (versions as Array<{ current: boolean; sha256: string }>).find((v) => v.current)?.sha256 ?? null,
        actions: { rename: `${base(req)}/f/${f.id}/rename`, move: `${base(req)}/f/${f.id}/move`, delete: `${base(req)}/f/${f.id}/delete`, deliver: `${base(req)}/f/${f.id}/deliver`, versions: `${base(req)}/f/${f.id}/versions` },
        scriptSrc: `${base(req)}/assets/files.js`,
        nonce: req.ctx.nonce,
        maxFile: formatBytes(settings.maxFileBytes),
        values: { name: f.name },
        ...extra,
      },
      { title: f.name, status },
    );
  }

  // ---- downloads (each one is a receipt)

  workspace.get('/f/:fileId/download', authorize('download', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next, { action: 'download' });
    if (!f) return;
    const v = await currentVersion(req, f);
    if (!v) return next(notFound());
    const range = req.get('range');
    // A resumed or seeking download (Range from a later byte) is the same receipt, not a new one.
    if (!range || /^bytes=0-/.test(range)) await receipt(req, [{ file: f, versionId: v.id }], 'file', range ? { range } : {});
    await sendVersion(req, res, storage, db, f, v);
  });

  workspace.get('/f/:fileId/thumb', authorize('read', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next);
    if (!f) return;
    const v = await currentVersion(req, f);
    if (!v || !THUMBNAIL.has(v.content_type) || v.size > 5 * 1024 * 1024) return next(notFound());
    await sendVersion(req, res, storage, db, f, v, 'inline');
  });

  // The first page of a PDF's current version as a PNG (preview.ts renders it after upload). Same
  // permission as a thumbnail: whoever may see the file in the list. Not a receipt, like a thumbnail.
  workspace.get('/f/:fileId/preview', authorize('read', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next);
    if (!f) return;
    const p = await readyPreview(req, f);
    if (!p) return next(notFound());
    const opened = await storage.open(db, p.blob_key, { bind: previewBind(f.id, f.current_version_id!) });
    fileHeaders(res, `${f.name} (first page).png`, 'image/png', 'inline');
    // An image the browser may keep for a few minutes, for this person only; the list's URL
    // carries the version, so a new version is fetched at once.
    res.setHeader('Cache-Control', 'private, max-age=300');
    res.setHeader('Content-Length', String(opened.size));
    res.status(200);
    sendOpened(req, res, opened, { file: f.id, preview: p.blob_key });
  });

  workspace.get('/f/:fileId/v/:versionId/download', authorize('history', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next);
    if (!f) return;
    const r = await req.ctx.scope!.table('files_versions').where({ file_id: f.id, id: String(req.params.versionId) }).first(VERSION_COLS);
    if (!r) return next(notFound());
    const v = normVersion(r);
    if (!req.get('range') || /^bytes=0-/.test(req.get('range')!)) await receipt(req, [{ file: f, versionId: v.id }], 'file', { version: v.number });
    await sendVersion(req, res, storage, db, f, v);
  });

  async function zipEntries(req: Request, folders: Array<{ id: string; path: string[] }>, ids?: string[]): Promise<ZipEntry[]> {
    const paths = new Map(folders.map((d) => [d.id, d.path]));
    const q = filesQuery(req, { action: 'download', alias: 'f' })
      .join('files_versions as v', function () {
        this.on('v.id', '=', 'f.current_version_id').andOn('v.workspace_id', '=', 'f.workspace_id');
      })
      .orderBy('f.name_key')
      .limit(10_000)
      .select(...FILE_COLS.map((c) => `f.${c}`), ...VERSION_COLS.map((c) => `v.${c} as v_${c}`));
    if (ids) q.whereIn('f.id', ids);
    else q.whereIn('f.folder_id', [...paths.keys()]);
    const rows = (await q) as Array<Record<string, unknown>>;
    return rows.map((r) => {
      const version = normVersion(Object.fromEntries(VERSION_COLS.map((c) => [c, r[`v_${c}`]])));
      return { path: ids ? [] : (paths.get(String(r.folder_id)) ?? []), file: normFile(r), version };
    });
  }

  workspace.get('/folders/:folderId/zip', authorize('download', 'File'), async (req, res, next) => {
    const folder = await findFolder(req, String(req.params.folderId));
    if (!folder) return next(notFound());
    const entries = await zipEntries(req, await descendants(req, folder.id));
    await receipt(req, entries.map((e) => ({ file: e.file, versionId: e.version.id })), 'zip', { folderId: folder.id });
    await sendZip(req, res, storage, db, `${folder.name}.zip`, entries);
  });

  workspace.post('/zip', authorize('download', 'File'), async (req, res, next) => {
    const body = formBody(req.body);
    if (body.ids === undefined || body.ids === '') {
      // Nothing ticked (ui.js says so without posting; this is the answer without JS): the same
      // folder page again, the sentence beside the button, not an error page.
      const folder = await folderOrRoot(req, typeof req.query.folder === 'string' ? req.query.folder : '', settings);
      if (!folder) return next(notFound());
      return page(req, folder, { zipNone: true }, 400);
    }
    const parsed = zipForm.safeParse(body);
    if (!parsed.success) return next(fail(400, 'choose files to download'));
    const ids = ([] as string[]).concat(parsed.data.ids);
    const entries = await zipEntries(req, [], ids);
    if (!entries.length) return next(notFound());
    await receipt(req, entries.map((e) => ({ file: e.file, versionId: e.version.id })), 'zip', { folderId: '' });
    await sendZip(req, res, storage, db, `${req.ctx.workspace!.slug}-files.zip`, entries);
  });

  // ---- uploads

  /** Record uploaded blobs as files and versions, in one transaction with their audit events. */
  async function commitUploads(req: Request, folder: FolderRow, incoming: IncomingFile[], opts: { area: 'shared' | 'internal'; deliverable: boolean }): Promise<string | null> {
    const ws = req.ctx.workspace!;
    try {
      await transaction(db, async (trx) => {
        const scope = req.ctx.scope!.in(trx);
        // Quota again inside the transaction: two uploads racing must not both squeeze in.
        const total = incoming.reduce((n, f) => n + f.blob.size, 0);
        if ((await usedBytes(req, trx)) + total > settings.quotaBytes) throw new AtriumError('ATR_TOO_LARGE', 'quota', { status: 413 });
        const now = deps.now();
        const uploaded: UploadedFile[] = [];
        for (const f of incoming) {
          const existing = await scope.table('files_files').where({ id: f.fileId }).first('id', 'name', 'area', 'deleted_at');
          await recordVersion(deps, trx, req.ctx.actor(), ws.id, { fileId: f.fileId, versionId: f.versionId, blob: f.blob, contentType: f.contentType, uploadedBy: req.ctx.user!.id, now, name: f.name, ...(existing ? {} : { newFile: { folderId: folder.id || null, area: opts.area } }) });
          const area = existing ? String(existing.area) : opts.area;
          if (opts.deliverable && area === 'shared') await deliver(deps, trx, req.ctx.actor(), ws, { id: f.fileId, name: f.name }, now);
          uploaded.push({ id: f.fileId, name: existing ? String(existing.name) : f.name, area, newVersion: Boolean(existing) });
        }
        // A client's upload is news for the firm: one notice to the account team for the request.
        if (!isStaff(req)) await notifyClientUpload(deps, trx, { id: req.ctx.user!.id, name: req.ctx.user!.name }, ws, { id: folder.id || null, name: folder.name, area: folder.area }, uploaded);
      });
      return null;
    } catch (err) {
      await Promise.all(incoming.map((f) => storage.discard(f.blob)));
      if (err instanceof AtriumError && err.code === 'ATR_TOO_LARGE') return 'These files do not fit in this workspace’s storage quota.';
      if (/unique|constraint/i.test((err as Error).message)) return 'Someone else uploaded a file with the same name at the same moment. Try again.';
      throw err;
    }
  }

  async function upload(req: Request, res: Response, folder: FolderRow, fixed?: FileRow) {
    const staff = isStaff(req);
    const quotaLeft = settings.quotaBytes - (await usedBytes(req));
    const result = await receiveUpload(req, storage, { maxFileBytes: settings.maxFileBytes, quotaLeft, maxFiles: fixed ? 1 : settings.maxFiles, maxFields: settings.maxFields }, async (name) => {
      if (fixed) return { fileId: fixed.id, versionId: newId() };
      // Same name in the same folder: a new version of that file, if this person may see it.
      const same = await filesQuery(req).where({ name_key: nameKey(name) }).modify((q) => (folder.id ? q.where('folder_id', folder.id) : q.whereNull('folder_id'))).first('id', 'area');
      if (same) return canOnRow(req.ctx.ability, 'upload', 'File', same) ? { fileId: String(same.id), versionId: newId() } : ({ name, message: `${name} already exists here.`, status: 400 } as UploadProblem);
      // A name taken by a file this person cannot see (internal, or in the trash) is refused without saying why.
      const hidden = await req.ctx.scope!.table('files_files').where({ name_key: nameKey(name) }).modify((q) => (folder.id ? q.where('folder_id', folder.id) : q.whereNull('folder_id'))).first('id');
      if (hidden && !staff) return { name, message: `${name} cannot be used as a name here; rename the file and try again.`, status: 400 } as UploadProblem;
      if (hidden) return { fileId: String(hidden.id), versionId: newId() };
      return { fileId: newId(), versionId: newId() };
    });
    const requestedArea = staff && result.fields.area === 'internal' ? 'internal' : 'shared';
    const area = folder.area === 'internal' ? 'internal' : requestedArea;
    let problems = result.problems;
    if (!problems.length && !result.files.length) problems = [{ name: '', message: 'Choose at least one file.', status: 400 }];
    let status: number = problems.length ? (result.status === 200 ? 400 : result.status) : 200;
    if (!problems.length) {
      const quotaProblem = await commitUploads(req, folder, result.files, { area, deliverable: staff && result.fields.deliverable === 'yes' });
      if (quotaProblem) {
        problems = [{ name: '', message: quotaProblem, status: 413 }];
        status = 413;
      }
    } else if (result.files.length) {
      await Promise.all(result.files.map((f) => storage.discard(f.blob)));
    }
    if (!problems.length) res.setHeader('HX-Trigger', 'files-changed');
    const names = result.files.map((f) => f.name);
    if (!req.get('hx-request')) {
      if (problems.length) throw new AtriumError(status === 413 ? 'ATR_TOO_LARGE' : status === 415 ? 'ATR_UNSUPPORTED_TYPE' : 'ATR_VALIDATION', problems.map((p) => p.message).join(' '), { status });
      await req.ctx.flash('success', `Uploaded ${names.join(', ')}.`);
      res.redirect(303, fixed ? `${base(req)}/f/${fixed.id}` : folder.id ? `${base(req)}/folders/${folder.id}` : `${base(req)}/`);
      return;
    }
    await req.ctx.render('files/upload-result', { problems: problems.map((p) => ({ message: p.message })), uploaded: problems.length ? [] : names }, { status });
  }

  workspace.post('/upload', authorize('upload', 'File'), async (req, res, next) => {
    const folderId = typeof req.query.folder === 'string' ? req.query.folder : '';
    const folder = await folderOrRoot(req, folderId, settings);
    if (!folder || !canInFolder(req, 'upload', folder)) return next(notFound());
    await upload(req, res, folder);
  });

  workspace.post('/f/:fileId/versions', authorize('upload', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next, { action: 'upload' });
    if (!f) return;
    const folder = await folderOf(req, f);
    if (!canInFolder(req, 'upload', folder)) return next(notFound());
    await upload(req, res, folder, f);
  });

  // ---- changes to one file

  const organize = async (req: Request, next: NextFunction, opts: { trash?: boolean; action?: string } = {}) => {
    const f = await fileOr404(req, next, { trash: opts.trash, action: opts.action ?? 'update' });
    if (!f) return undefined;
    if (!canInFolder(req, 'organize', await folderOf(req, f))) {
      next(notFound());
      return undefined;
    }
    return f;
  };

  const nameTaken = async (req: Request, trx: Trx, folderId: string | null, name: string, except: string) =>
    Boolean(await req.ctx.scope!.in(trx).table('files_files').where({ name_key: nameKey(name) }).whereNot('id', except).modify((q) => (folderId ? q.where('folder_id', folderId) : q.whereNull('folder_id'))).first('id'));

  workspace.post('/f/:fileId/rename', authorize('update', 'File'), async (req, res, next) => {
    const f = await organize(req, next);
    if (!f) return;
    const parsed = renameForm.safeParse(formBody(req.body));
    if (!parsed.success) return renderFile(req, f, { errors: fieldErrors(parsed.error), values: formBody(req.body) }, 400);
    const folder = await folderOf(req, f);
    const area = isStaff(req) && parsed.data.area && folder.area === 'shared' ? parsed.data.area : f.area;
    const ws = req.ctx.workspace!;
    const taken = await transaction(db, async (trx) => {
      if (await nameTaken(req, trx, f.folder_id, parsed.data.name, f.id)) return true;
      await req.ctx.scope!.in(trx).table('files_files').where({ id: f.id }).update({ name: parsed.data.name, name_key: nameKey(parsed.data.name), area, updated_at: deps.now() });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.file.rename', subjectType: 'File', subjectId: f.id, detail: { from: f.name, to: parsed.data.name, area } });
      events.publish(trx, 'files.file.renamed', { workspaceId: ws.id, fileId: f.id });
      return false;
    });
    if (taken) return renderFile(req, f, { errors: { name: 'Another file in this folder already has that name' }, values: formBody(req.body) }, 400);
    await req.ctx.flash('success', 'Saved.');
    res.redirect(303, `${base(req)}/f/${f.id}`);
  });

  workspace.post('/f/:fileId/move', authorize('update', 'File'), async (req, res, next) => {
    const f = await organize(req, next);
    if (!f) return;
    const parsed = moveForm.safeParse(formBody(req.body));
    const target = parsed.success ? await folderOrRoot(req, parsed.data.folder, settings) : undefined;
    if (!target || !canInFolder(req, 'organize', target)) return renderFile(req, f, { errors: { folder: 'Choose a folder you can move files into' } }, 400);
    const ws = req.ctx.workspace!;
    // A file in an internal folder is internal; moving into a shared folder keeps its own area.
    const area = target.area === 'internal' ? 'internal' : f.area;
    const taken = await transaction(db, async (trx) => {
      if (await nameTaken(req, trx, target.id || null, f.name, f.id)) return true;
      await req.ctx.scope!.in(trx).table('files_files').where({ id: f.id }).update({ folder_id: target.id || null, area, updated_at: deps.now() });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.file.move', subjectType: 'File', subjectId: f.id, detail: { from: f.folder_id, to: target.id || null } });
      events.publish(trx, 'files.file.moved', { workspaceId: ws.id, fileId: f.id });
      return false;
    });
    if (taken) return renderFile(req, f, { errors: { folder: 'That folder already has a file with this name' } }, 400);
    await req.ctx.flash('success', `Moved to ${target.id ? target.name : 'the top level'}.`);
    res.redirect(303, `${base(req)}/f/${f.id}`);
  });

  workspace.post('/f/:fileId/delete', authorize('delete', 'File'), async (req, res, next) => {
    const f = await organize(req, next, { action: 'delete' });
    if (!f) return;
    if (!empty.safeParse(formBody(req.body)).success) return next(fail(400, 'unexpected fields'));
    const ws = req.ctx.workspace!;
    await transaction(db, async (trx) => {
      await req.ctx.scope!.in(trx).table('files_files').where({ id: f.id }).update({ deleted_at: deps.now(), deleted_by: req.ctx.user!.id });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.file.trash', subjectType: 'File', subjectId: f.id, detail: { name: f.name } });
      events.publish(trx, 'files.file.trashed', { workspaceId: ws.id, fileId: f.id });
    });
    await req.ctx.flash('success', `${f.name} was moved to the trash. It can be restored for ${settings.trashDays} days.`);
    res.redirect(303, f.folder_id ? `${base(req)}/folders/${f.folder_id}` : `${base(req)}/`);
  });

  workspace.post('/f/:fileId/restore', authorize('restore', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next, { trash: true, action: 'restore' });
    if (!f) return;
    const ws = req.ctx.workspace!;
    const folder = f.folder_id ? await findFolder(req, f.folder_id) : undefined;
    const folderId = folder ? folder.id : null;
    const ok = await transaction(db, async (trx) => {
      if (await nameTaken(req, trx, folderId, f.name, f.id)) return false;
      await req.ctx.scope!.in(trx).table('files_files').where({ id: f.id }).update({ deleted_at: null, deleted_by: null, folder_id: folderId });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.file.restore', subjectType: 'File', subjectId: f.id, detail: { name: f.name } });
      events.publish(trx, 'files.file.restored', { workspaceId: ws.id, fileId: f.id });
      return true;
    });
    await req.ctx.flash(ok ? 'success' : 'error', ok ? `${f.name} was restored${folder || !f.folder_id ? '' : ' to the top level (its folder is in the trash)'}.` : `A file named ${f.name} already exists there; rename it first.`);
    res.redirect(303, ok ? `${base(req)}/f/${f.id}` : `${base(req)}/trash`);
  });

  workspace.post('/f/:fileId/v/:versionId/restore', authorize('history', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next, { action: 'history' });
    if (!f) return;
    const v = await req.ctx.scope!.table('files_versions').where({ file_id: f.id, id: String(req.params.versionId) }).first(VERSION_COLS);
    if (!v) return next(notFound());
    const version = normVersion(v);
    const ws = req.ctx.workspace!;
    await transaction(db, async (trx) => {
      await req.ctx.scope!.in(trx).table('files_files').where({ id: f.id }).update({ current_version_id: version.id, size: version.size, content_type: version.content_type, updated_at: deps.now() });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.version.restore', subjectType: 'File', subjectId: f.id, detail: { versionId: version.id, number: version.number } });
      events.publish(trx, 'files.version.restored', { workspaceId: ws.id, fileId: f.id, versionId: version.id, number: version.number });
    });
    await req.ctx.flash('success', `Version ${version.number} is the current version again.`);
    res.redirect(303, `${base(req)}/f/${f.id}`);
  });

  workspace.post('/f/:fileId/deliver', authorize('deliver', 'File'), async (req, res, next) => {
    const f = await fileOr404(req, next, { action: 'deliver' });
    if (!f) return;
    if (f.area !== 'shared') return renderFile(req, f, { errors: { deliver: 'Only files shared with the client can be delivered' } }, 400);
    if (f.delivered_at === null) await transaction(db, (trx) => deliver(deps, trx, req.ctx.actor(), req.ctx.workspace!, f, deps.now()));
    await req.ctx.flash('success', `${f.name} was delivered; the workspace's people have been notified.`);
    res.redirect(303, `${base(req)}/f/${f.id}`);
  });

  // ---- folders

  workspace.post('/folders', authorize('create', 'Folder'), async (req, res) => {
    const parsed = folderForm.safeParse(formBody(req.body));
    const parent = parsed.success ? await folderOrRoot(req, parsed.data.parent, settings) : rootFolder(settings);
    if (!parsed.success || !parent) return page(req, parent ?? rootFolder(settings), { folderErrors: parsed.success ? { parent: 'That folder no longer exists' } : fieldErrors(parsed.error), folderValues: formBody(req.body) }, 400);
    const ws = req.ctx.workspace!;
    const area = parent.area === 'internal' ? 'internal' : (parsed.data.area ?? 'shared');
    const id = await transaction(db, async (trx) => {
      const dup = await req.ctx.scope!.in(trx).table('files_folders').whereNull('deleted_at').whereRaw('lower(name) = ?', [parsed.data.name.toLowerCase()]).modify((q) => (parent.id ? q.where('parent_id', parent.id) : q.whereNull('parent_id'))).first('id');
      if (dup) return null;
      return createFolder(deps, trx, req.ctx.actor(), ws.id, { parentId: parent.id || null, name: parsed.data.name, area, clientAccess: parsed.data.client_access ?? 'view', createdBy: req.ctx.user!.id, now: deps.now() });
    });
    if (!id) return page(req, parent, { folderErrors: { name: 'A folder with this name already exists here' }, folderValues: formBody(req.body) }, 400);
    await req.ctx.flash('success', `Folder ${parsed.data.name} created.`);
    res.redirect(303, `${base(req)}/folders/${id}`);
  });

  workspace.post('/folders/:folderId', authorize('update', 'Folder'), async (req, res, next) => {
    const folder = await findFolder(req, String(req.params.folderId));
    if (!folder || !canOnRow(req.ctx.ability, 'update', 'Folder', folder)) return next(notFound());
    const parsed = folderUpdateForm.safeParse(formBody(req.body));
    if (!parsed.success) return page(req, folder, { folderEditErrors: fieldErrors(parsed.error) }, 400);
    const ws = req.ctx.workspace!;
    await transaction(db, async (trx) => {
      await req.ctx.scope!.in(trx).table('files_folders').where({ id: folder.id }).update({ name: parsed.data.name, client_access: parsed.data.client_access });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.folder.update', subjectType: 'Folder', subjectId: folder.id, detail: { name: parsed.data.name, clientAccess: parsed.data.client_access } });
    });
    await req.ctx.flash('success', 'Folder saved.');
    res.redirect(303, `${base(req)}/folders/${folder.id}`);
  });

  workspace.post('/folders/:folderId/delete', authorize('delete', 'Folder'), async (req, res, next) => {
    const folder = await findFolder(req, String(req.params.folderId));
    if (!folder || !canOnRow(req.ctx.ability, 'delete', 'Folder', folder)) return next(notFound());
    const ws = req.ctx.workspace!;
    const all = await descendants(req, folder.id);
    const ids = all.map((d) => d.id);
    await transaction(db, async (trx) => {
      const now = deps.now();
      const scope = req.ctx.scope!.in(trx);
      const n = await scope.table('files_files').whereIn('folder_id', ids).whereNull('deleted_at').update({ deleted_at: now, deleted_by: req.ctx.user!.id });
      await scope.table('files_folders').whereIn('id', ids).update({ deleted_at: now });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.folder.trash', subjectType: 'Folder', subjectId: folder.id, detail: { name: folder.name, folders: ids.length, files: n } });
    });
    await req.ctx.flash('success', `${folder.name} and everything in it was moved to the trash.`);
    res.redirect(303, folder.parent_id ? `${base(req)}/folders/${folder.parent_id}` : `${base(req)}/`);
  });

  workspace.post('/folders/:folderId/restore', authorize('delete', 'Folder'), async (req, res, next) => {
    const folder = await findFolder(req, String(req.params.folderId), { trash: true });
    if (!folder || folder.deleted_at === null || !canOnRow(req.ctx.ability, 'delete', 'Folder', folder)) return next(notFound());
    if (!empty.safeParse(formBody(req.body)).success) return next(fail(400, 'unexpected fields'));
    const ws = req.ctx.workspace!;
    // Its parent may be in the trash too: then it comes back at the top level.
    const parent = folder.parent_id ? await findFolder(req, folder.parent_id) : undefined;
    const parentId = parent ? parent.id : null;
    // What went to the trash with it: the sub-folders trashed at the same moment, and their files.
    const trashed = (await foldersQuery(req, { trash: true }).where('deleted_at', folder.deleted_at).select('id', 'parent_id')) as Array<{ id: string; parent_id: string | null }>;
    const byParent = new Map<string, string[]>();
    for (const r of trashed) if (r.parent_id) byParent.set(r.parent_id, [...(byParent.get(r.parent_id) ?? []), r.id]);
    const ids = [folder.id];
    for (let i = 0; i < ids.length && ids.length < 10_000; i++) ids.push(...(byParent.get(ids[i]!) ?? []));
    const restored = await transaction(db, async (trx) => {
      const scope = req.ctx.scope!.in(trx);
      const dup = await scope.table('files_folders').whereNull('deleted_at').whereRaw('lower(name) = ?', [folder.name.toLowerCase()]).modify((q) => (parentId ? q.where('parent_id', parentId) : q.whereNull('parent_id'))).first('id');
      if (dup) return null;
      await scope.table('files_folders').whereIn('id', ids).update({ deleted_at: null });
      await scope.table('files_folders').where({ id: folder.id }).update({ parent_id: parentId });
      const fileIds = (await scope.table('files_files').whereIn('folder_id', ids).where('deleted_at', folder.deleted_at).pluck('id')) as string[];
      if (fileIds.length) await scope.table('files_files').whereIn('id', fileIds).update({ deleted_at: null, deleted_by: null });
      await audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.folder.restore', subjectType: 'Folder', subjectId: folder.id, detail: { name: folder.name, folders: ids.length, files: fileIds.length } });
      for (const fileId of fileIds) events.publish(trx, 'files.file.restored', { workspaceId: ws.id, fileId });
      return fileIds.length;
    });
    if (restored === null) {
      await req.ctx.flash('error', `A folder named ${folder.name} already exists there; rename it first.`);
      return res.redirect(303, `${base(req)}/trash`);
    }
    await req.ctx.flash('success', `${folder.name} was restored with ${restored} file(s)${parent || !folder.parent_id ? '' : ' to the top level (its parent folder is in the trash)'}.`);
    res.redirect(303, `${base(req)}/folders/${folder.id}`);
  });

  // ---- trash and the delivery report (staff)

  workspace.get('/trash', authorize('restore', 'File'), async (req) => {
    const rows = ((await filesQuery(req, { trash: true, action: 'restore' }).orderBy('deleted_at', 'desc').limit(500).select(FILE_COLS)) as Array<Record<string, unknown>>).map(normFile);
    const folders = ((await foldersQuery(req, { trash: true, action: 'delete' }).orderBy('deleted_at', 'desc').limit(500).select('id', 'name', 'deleted_at')) as Array<{ id: string; name: string; deleted_at: number | string }>).map((d) => ({
      name: d.name,
      deletedAt: Number(d.deleted_at),
      restore: `${base(req)}/folders/${d.id}/restore`,
      purgeAt: Number(d.deleted_at) + settings.trashDays * 86_400_000,
    }));
    await req.ctx.render(
      'files/trash',
      { folders, files: rows.map((f) => ({ ...fileView(req, f), deletedAt: f.deleted_at, restore: `${base(req)}/f/${f.id}/restore`, purgeAt: (f.deleted_at ?? 0) + settings.trashDays * 86_400_000 })), days: settings.trashDays, backHref: `${base(req)}/` },
      { title: 'Trash' },
    );
  });

  workspace.get('/report.csv', authorize('history', 'File'), async (req, res) => {
    const ws = req.ctx.workspace!;
    await transaction(db, (trx) => audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'files.report.export', subjectType: 'Workspace', subjectId: ws.id }));
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', contentDisposition(`delivery-report-${ws.slug}.csv`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.write('\ufeff' + csvRow(['file', 'delivered at (UTC)', 'version', 'downloaded by', 'email', 'via', 'downloaded at (UTC)']));
    let offset = 0;
    for (;;) {
      const rows = (await req.ctx.scope!
        .table('files_downloads', 'd')
        .join('files_files as f', function () {
          this.on('f.id', '=', 'd.file_id').andOn('f.workspace_id', '=', 'd.workspace_id');
        })
        .leftJoin('files_versions as v', function () {
          this.on('v.id', '=', 'd.version_id').andOn('v.workspace_id', '=', 'd.workspace_id');
        })
        .leftJoin('users as u', 'u.id', 'd.user_id')
        .orderBy('d.created_at')
        .orderBy('d.id')
        .limit(1000)
        .offset(offset)
        .select('f.name', 'f.delivered_at', 'v.number', 'u.name as who', 'u.email', 'd.via', 'd.created_at')) as Array<Record<string, unknown>>;
      for (const r of rows) res.write(csvRow([String(r.name), r.delivered_at == null ? '' : iso(Number(r.delivered_at)), r.number == null ? '' : String(r.number), String(r.who ?? ''), String(r.email ?? ''), String(r.via), iso(Number(r.created_at))]));
      if (rows.length < 1000) break;
      offset += 1000;
    }
    res.end();
  });
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One CSV line; cells a spreadsheet would run as a formula get a leading quote. */
export function csvRow(cells: string[]): string {
  return `${cells
    .map((c) => {
      const v = /^[=+\-@\t\r]/.test(c) ? `'${c}` : c;
      return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
    })
    .join(',')}\r\n`;
}
