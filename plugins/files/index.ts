// Plugin `files`: deliverables for each client workspace. Folders and files in two areas (shared
// with the client, or internal to the firm), versions, a trash, deliverables that notify the
// workspace, download receipts and a delivery report, streamed zips. Bytes are kept by the
// kernel's encrypted storage (Tokens.Storage). The example every later plugin copies:
//   index.ts      this definition: permissions, nav, widget, events, settings, hooks, commands
//   repo.ts       reads, always through the workspace scope and the ability's row filter
//   routes.ts     the pages and actions under /w/:workspace/files
//   upload.ts     streaming multipart with limits      download.ts  ranges, headers, zips
//   sniff.ts      the allow list by magic bytes        service.ts   deliver, purge, scrub
//   preview.ts    first-page PDF previews, rendered in a worker (preview-worker.mjs) after commit
//   evidence.ts   proof of service: deliveries and download receipts for a period (core/evidence.ts)
import { accessibleBy, definePlugin, Tokens, type BootstrapContext } from '../../core/index.ts';
import { workspaceRoutes } from './routes.ts';
import { exportFilesApi } from './api.ts';
import { registerApprovables } from './approvable.ts';
import { registerEvidence } from './evidence.ts';
import { purgeTrash, scrub, type FilesDeps } from './service.ts';
import { warmArchiver } from './download.ts';
import { settingsSchema, type FilesSettings } from './settings.ts';
import { Previewer } from './preview.ts';
import { clientUploadsWidget } from './staff-widget.ts';
import { seedFilesDemo } from './demo.ts';

declare module '../../core/events.ts' {
  interface AtriumEvents {
    'files.version.created': { workspaceId: string; fileId: string; versionId: string; number: number };
    'files.version.restored': { workspaceId: string; fileId: string; versionId: string; number: number };
    'files.file.renamed': { workspaceId: string; fileId: string };
    'files.file.moved': { workspaceId: string; fileId: string };
    'files.file.trashed': { workspaceId: string; fileId: string };
    'files.file.restored': { workspaceId: string; fileId: string };
    'files.file.delivered': { workspaceId: string; fileId: string };
    'files.file.downloaded': { workspaceId: string; fileId: string; versionId: string; via: 'file' | 'zip' };
    'files.folder.created': { workspaceId: string; folderId: string };
  }
}

const SHARED = { area: 'shared' } as const;
const CLIENT_UPLOAD = { area: 'shared', client_access: { $in: ['upload', 'manage'] } };
const CLIENT_ORGANIZE = { area: 'shared', client_access: 'manage' };

/** The trash purge timer of each running instance (tests boot several in one process). */
const purgers = new WeakMap<object, { timer: NodeJS.Timeout; running?: Promise<unknown> }>();
/** The preview renderer of each running instance, from bootstrap to destroy. */
const previewers = new WeakMap<object, Previewer>();

function depsOf(ctx: BootstrapContext<FilesSettings>): FilesDeps {
  const c = ctx.container;
  return { db: ctx.db, storage: c.resolve(Tokens.Storage), audit: c.resolve(Tokens.Audit), events: c.resolve(Tokens.Events), notifications: c.resolve(Tokens.Notifications), logger: ctx.logger };
}

export default definePlugin<FilesSettings>({
  id: 'files',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'Deliverables for each client: folders, versions, encrypted storage, zips and download receipts.',
  migrations: new URL('./migrations', import.meta.url),
  views: new URL('./views', import.meta.url),
  events: [
    'files.version.created',
    'files.version.restored',
    'files.file.renamed',
    'files.file.moved',
    'files.file.trashed',
    'files.file.restored',
    'files.file.delivered',
    'files.file.downloaded',
    'files.folder.created',
  ],
  settings: settingsSchema,
  permissions: {
    subjects: {
      // read: list and open; download: the bytes (a receipt); upload: add files or a new version;
      // update: rename and move; delete: to the trash; restore: from the trash; history: older
      // versions, receipts and the report; deliver: mark as a deliverable and notify.
      File: ['read', 'download', 'upload', 'update', 'delete', 'restore', 'history', 'deliver'],
      // upload / organize: what clients may do inside a folder, by its client access setting.
      Folder: ['read', 'create', 'update', 'delete', 'upload', 'organize'],
    },
    tables: { File: 'files_files', Folder: 'files_folders' },
    // An event about a file or folder is shown to whoever may read it (so a client never sees
    // activity on an internal one); a version's events (scrub) to whoever may see the history.
    audit: {
      File: { read: ['read', 'File'], path: '/files/f/:id', label: 'name', noun: 'file' },
      Folder: { read: ['read', 'Folder'], path: '/files/folders/:id', label: 'name', noun: 'folder' },
      FileVersion: { read: ['history', 'File'], via: { table: 'files_versions', column: 'file_id' }, path: '/files/f/:id', label: 'name', noun: 'file version' },
    },
    grants: {
      staff: [
        { action: ['read', 'download', 'upload', 'update', 'delete', 'restore', 'history', 'deliver'], subject: 'File' },
        { action: ['read', 'create', 'update', 'delete', 'upload', 'organize'], subject: 'Folder' },
      ],
      // Clients only ever see the shared area: internal rows are filtered out in SQL and in memory.
      client_admin: [
        { action: ['read', 'download', 'upload', 'update', 'delete', 'restore'], subject: 'File', conditions: SHARED },
        { action: 'read', subject: 'Folder', conditions: SHARED },
        { action: 'upload', subject: 'Folder', conditions: CLIENT_UPLOAD },
        { action: 'organize', subject: 'Folder', conditions: CLIENT_ORGANIZE },
      ],
      client_member: [
        { action: ['read', 'download', 'upload'], subject: 'File', conditions: SHARED },
        { action: 'read', subject: 'Folder', conditions: SHARED },
        { action: 'upload', subject: 'Folder', conditions: CLIENT_UPLOAD },
      ],
      client_viewer: [
        { action: ['read', 'download'], subject: 'File', conditions: SHARED },
        { action: 'read', subject: 'Folder', conditions: SHARED },
      ],
    },
  },
  // How each event reads on the Activity page ({subject} is the file's or folder's name).
  activity: {
    'files.version.create': '{actor} uploaded {subject}',
    'files.version.restore': '{actor} made an earlier version of {subject} current again',
    'files.version.corrupt': 'A stored copy of {subject} failed its integrity check',
    'files.file.download': '{actor} downloaded {subject}',
    'files.file.deliver': '{actor} delivered {subject}',
    'files.file.rename': '{actor} renamed “{detail.from}” to {subject}',
    'files.file.move': '{actor} moved {subject} to another folder',
    'files.file.trash': '{actor} moved {subject} to the trash',
    'files.file.restore': '{actor} restored {subject} from the trash',
    'files.file.purge': '{subject} was deleted for good after its time in the trash',
    'files.zip.download': '{actor} downloaded {detail.files} files as a zip',
    'files.folder.create': '{actor} created the folder {subject}',
    'files.folder.update': '{actor} changed the folder {subject}',
    'files.folder.trash': '{actor} moved the folder {subject} to the trash',
    'files.folder.restore': '{actor} restored the folder {subject} from the trash',
    'files.report.export': '{actor} exported the delivery report',
    'files.preview.ready': 'A preview of {subject} is ready',
    'files.preview.failed': 'No preview could be made of {subject}',
    'files.preview.skipped': '{subject} is too large for a preview',
  },
  nav: [{ area: 'workspace', label: 'Files', path: '/files', can: ['read', 'File'], order: 20 }],
  widgets: [
    // The staff overview: what waits on the firm across its clients.
    clientUploadsWidget,
    {
      id: 'new-deliverables',
      area: 'workspace',
      title: 'New deliverables',
      view: 'files/widget',
      can: ['read', 'File'],
      order: 10,
      async load({ ctx, db }) {
        // Since this person's last visit to Files; through the scope and the row filter, so a
        // client never counts an internal file.
        // One query: the last visit (a scalar subquery, scoped like the rest), the five newest
        // deliverables since then and, by a window count, how many in all.
        const seen = ctx.scope!.table('files_visits').where({ user_id: ctx.user!.id }).select('seen_at').limit(1);
        const latest = (await ctx.scope!.table('files_files')
          .modify(accessibleBy(ctx.ability, 'read', 'File'))
          .whereNull('deleted_at')
          .whereNotNull('delivered_at')
          .andWhere('delivered_at', '>', db.raw('coalesce((?), 0)', [seen]))
          .orderBy('delivered_at', 'desc')
          .limit(5)
          .select('id', 'name', 'delivered_at', db.raw('count(*) over () as new_total'))) as Array<{ id: string; name: string; delivered_at: number | string; new_total: number | string }>;
        const count = latest.length ? Number(latest[0]!.new_total) : 0;
        // "For you" on a first visit: only asked when there is something to say it about.
        const visit = count ? await ctx.scope!.table('files_visits').where({ user_id: ctx.user!.id }).first('seen_at') : undefined;
        const base = `/w/${ctx.workspace!.slug}/files`;
        return { count, items: latest.map((f) => ({ name: f.name, href: `${base}/f/${f.id}`, at: Number(f.delivered_at) })), href: `${base}/`, firstVisit: !visit };
      },
    },
  ],
  commands: [
    {
      name: 'files:scrub',
      summary: 'Read and authenticate every stored file version; report (and audit) corruption',
      details: 'Decrypts each version, checks every chunk and the SHA-256, and records files.version.corrupt in the audit log for each bad one. Exit 1 if any is corrupt.',
      options: { json: { type: 'boolean', description: 'Print the report as one JSON object' } },
      async run(ctx, values) {
        const report = await scrub(depsOf(ctx));
        if (values.json) console.log(JSON.stringify(report));
        else {
          for (const c of report.corrupt) console.log(`CORRUPT  workspace ${c.workspaceId}  file ${c.fileId}  version ${c.versionId}: ${c.reason}`);
          console.log(`${report.checked} version(s) checked, ${report.corrupt.length} corrupt.`);
        }
        return report.corrupt.length ? 1 : 0;
      },
    },
  ],

  // Demo data (`atrium demo:seed`, /setup's "Load demo data"): folders and files, as demo.ts says.
  demo: (ctx, demo) => seedFilesDemo(depsOf(ctx), demo),

  register(ctx) {
    // Other plugins use files through these: the files API (token in api.ts) and file versions as
    // approvable subjects (the kernel's approvables registry).
    exportFilesApi(ctx);
    registerApprovables(ctx);
    // Proof of service: deliveries and the client's download receipts (evidence.ts).
    registerEvidence(ctx);
    // A committed PDF version (uploaded, added through the API, or restored) gets a first-page
    // preview. Subscribers run after COMMIT and inside the request's transaction() call, so this
    // only queues: the render happens off the request (preview.ts), once bootstrap started it.
    const queue = (p: { workspaceId: string; fileId: string; versionId: string }) => previewers.get(ctx)?.enqueue(p);
    ctx.events.subscribe('files.version.created', queue);
    ctx.events.subscribe('files.version.restored', queue);
  },

  routes({ workspace }, ctx) {
    workspaceRoutes(workspace, { ...depsOf(ctx), settings: ctx.settings, now: () => ctx.container.resolve(Tokens.Clock).now() });
  },

  bootstrap(ctx) {
    // The trash keeps deleted files for `trashDays`; purged hourly, by one process at a time
    // however many share the database (the kernel's job runner claims each hour once).
    const deps = depsOf(ctx);
    const jobs = ctx.container.resolve(Tokens.Jobs);
    const state: { timer?: NodeJS.Timeout; running?: Promise<unknown> } = {};
    const run = () => {
      state.running ??= jobs
        .runOnce('files.purge-trash', 59 * 60_000, () => purgeTrash(deps, ctx.settings.trashDays, ctx.container.resolve(Tokens.Clock).now()))
        .catch((err) => ctx.logger.error({ err }, 'trash purge failed'))
        .finally(() => (state.running = undefined));
    };
    const previewer = new Previewer({ ...deps, settings: ctx.settings, now: () => ctx.container.resolve(Tokens.Clock).now() });
    previewers.set(ctx, previewer);
    // PDFs committed while no process rendered them (a restart mid-queue) get theirs hourly.
    const catchUp = () =>
      void jobs
        .runOnce('files.preview-catch-up', 59 * 60_000, () => previewer.catchUp())
        .catch((err) => ctx.logger.error({ err }, 'preview catch-up failed'));
    run();
    catchUp();
    state.timer = setInterval(() => {
      run();
      catchUp();
    }, 60 * 60_000);
    state.timer.unref();
    purgers.set(ctx, state as { timer: NodeJS.Timeout });
    // The server listens right after bootstrap: load the zip library then, off the start-up path.
    warmArchiver();
  },

  async destroy(ctx) {
    const state = purgers.get(ctx);
    if (state) clearInterval(state.timer);
    // Before the database closes: the render in progress is cancelled (nothing is recorded for it).
    await previewers.get(ctx)?.stop();
    previewers.delete(ctx);
    await state?.running;
  },
});
