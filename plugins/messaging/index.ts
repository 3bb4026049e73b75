// Plugin `messaging`: conversations between a client workspace and the firm. One general thread per
// workspace, threads with a subject line, and the discussion of any other plugin's subject through
// the kernel's subject threads contract (core/threads.ts: a file's page shows its discussion
// without `files` knowing this plugin). Markdown bodies rendered once and sanitised (markdown.ts),
// attachments in the kernel's encrypted storage, @mentions, edits within a window with history
// for staff, tombstones, internal notes only the firm sees, read marks and "seen by", live
// updates over the kernel's SSE stream, batched notification mail (mail.ts) with reply by email
// (inbound.ts, on the kernel's inbound-mail contract), full-text search, and the firm's inbox.
//   repo.ts     reads (scope + rules)       service.ts   writes (transaction + audit + pings)
//   routes.ts   /w/:workspace/messaging     staff.ts     /staff/messaging
//   models.ts   view models, field by field
import { definePlugin, readableThreads, Tokens, type AuditSubjects, type BootstrapContext, type RoutesContext } from '../../core/index.ts';
import { listThreads, messagesFor, threadsFor } from './repo.ts';
import { workspaceRoutes } from './routes.ts';
import { staffRoutes } from './staff.ts';
import { UNREAD_EVENT, type MessagingDeps } from './service.ts';
import { settingsSchema, type MessagingSettings } from './settings.ts';
import { runMailBatches } from './mail.ts';
import { replyHandler, REPLY_PURPOSE } from './inbound.ts';
import { threadTitle } from './models.ts';
import { seedMessagingDemo } from './demo.ts';

declare module '../../core/events.ts' {
  interface AtriumEvents {
    'messaging.message.posted': { workspaceId: string; threadId: string; messageId: string; visibility: 'public' | 'internal' };
  }
}

/** Thread rules inside an audit rule: the kernel's, from the registry it hands over (no instance state). */
const rulesFrom = (subjects: AuditSubjects) => ({ readable: (v: Parameters<typeof readableThreads>[1], alias: string) => readableThreads(subjects, v, alias, 'messaging') });

const running = new WeakMap<object, { stop(): Promise<void> }>();
const wired = new WeakMap<object, MessagingDeps>();

function depsOf(ctx: RoutesContext<MessagingSettings> | BootstrapContext<MessagingSettings>): MessagingDeps {
  const known = wired.get(ctx);
  if (known) return known;
  const c = ctx.container;
  const deps: MessagingDeps = {
    db: ctx.db,
    audit: c.resolve(Tokens.Audit),
    events: c.resolve(Tokens.Events),
    storage: c.resolve(Tokens.Storage),
    notifications: c.resolve(Tokens.Notifications),
    live: c.resolve(Tokens.Live),
    threads: c.resolve(Tokens.Threads),
    inbound: c.resolve(Tokens.Inbound),
    clock: c.resolve(Tokens.Clock),
    logger: ctx.logger,
    settings: ctx.settings,
  };
  wired.set(ctx, deps);
  return deps;
}

export default definePlugin<MessagingSettings>({
  id: 'messaging',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'Conversations with the account team: threads, attachments, internal notes, live updates, batched mail and reply by email.',
  migrations: new URL('./migrations', import.meta.url),
  views: new URL('./views', import.meta.url),
  events: ['messaging.message.posted'],
  settings: settingsSchema,
  permissions: {
    // Thread: read (lists, pages, downloads, search), create (a new conversation), reply (post),
    // assign (the firm's triage: assignee, done, edit history, the staff inbox).
    // Message: read, with the condition that makes internal notes the firm's alone.
    subjects: { Thread: ['read', 'create', 'reply', 'assign'], Message: ['read'] },
    tables: { Message: 'messaging_messages' },
    audit: {
      // A thread is shown to whoever may read it (and its subject): the list's own query.
      Thread: { visible: (v, subjects) => threadsFor(v, rulesFrom(subjects)).select('t.id'), table: 'messaging_threads', path: '/messaging/t/:id', label: 'title', noun: 'conversation' },
      // A message (or an internal note) to whoever may read it: the thread page's own query.
      Message: { visible: (v, subjects) => messagesFor(v, rulesFrom(subjects)).select('m.id'), table: 'messaging_messages', noun: 'message' },
      // The firm's triage (assignee, done): the firm's people only.
      ThreadTriage: { read: ['assign', 'Thread'] },
    },
    grants: {
      staff: [
        { action: ['read', 'create', 'reply', 'assign'], subject: 'Thread' },
        { action: 'read', subject: 'Message' },
      ],
      client_admin: [
        { action: ['read', 'create', 'reply'], subject: 'Thread' },
        { action: 'read', subject: 'Message', conditions: { visibility: 'public' } },
      ],
      client_member: [
        { action: ['read', 'create', 'reply'], subject: 'Thread' },
        { action: 'read', subject: 'Message', conditions: { visibility: 'public' } },
      ],
      client_viewer: [
        { action: 'read', subject: 'Thread' },
        { action: 'read', subject: 'Message', conditions: { visibility: 'public' } },
      ],
    },
  },
  activity: {
    'messaging.thread.create': '{actor} started the conversation {subject}',
    'messaging.message.post': '{actor} wrote a message',
    'messaging.message.edit': '{actor} edited a message',
    'messaging.message.remove': '{actor} removed a message',
    'messaging.note.post': '{actor} wrote an internal note',
    'messaging.note.edit': '{actor} edited an internal note',
    'messaging.note.remove': '{actor} removed an internal note',
    'messaging.thread.assign': '{actor} assigned a conversation',
    'messaging.thread.done': '{actor} marked a conversation as done',
    'messaging.thread.reopen': '{actor} opened a conversation again',
  },
  nav: [
    { area: 'workspace', label: 'Messages', path: '/messaging', can: ['read', 'Thread'], order: 15, badge: { path: '/messaging/unread', event: UNREAD_EVENT, label: 'unread messages' } },
    { area: 'staff', label: 'Messages', path: '/messaging', can: ['assign', 'Thread'], order: 15 },
  ],
  widgets: [
    {
      id: 'recent',
      area: 'workspace',
      title: 'Messages',
      view: 'messaging/widget',
      can: ['read', 'Thread'],
      order: 20,
      // The workspace's conversations (the general one and those with a subject line; a
      // subject's discussion lives on its page), newest first, with the reader's unread counts.
      async load({ ctx, db }) {
        const viewer = { ability: ctx.ability, userId: ctx.user!.id, workspaceId: ctx.workspace!.id, workspaceRole: ctx.workspaceRole, scope: ctx.scope!, db };
        const { rows } = await listThreads(db, viewer, { readable: () => (qb) => void qb.whereNull('t.subject_type') }, { limit: 4, offset: 0 });
        const href = `/w/${ctx.workspace!.slug}/messaging/`;
        return { href, threads: rows.map((t) => ({ title: threadTitle(t), href: `${href}t/${t.id}`, when: t.last, unread: t.unread })) };
      },
    },
  ],

  register(ctx) {
    ctx.container.resolve(Tokens.Threads).register('messaging', { can: ['read', 'Thread'], path: (type, id) => `/messaging/on/${type}/${encodeURIComponent(id)}` });
    // Reply by email: replies to our notification mails, once the routes have wired the services.
    ctx.container.resolve(Tokens.Inbound).register({
      plugin: 'messaging',
      purpose: REPLY_PURPOSE,
      handle: async (trx, reply) => {
        const deps = wired.get(ctx);
        return deps ? replyHandler(deps).handle(trx, reply) : { ok: false, reason: 'not-ready' };
      },
    });
  },

  routes({ workspace, staff }, ctx) {
    const deps = depsOf(ctx);
    workspaceRoutes(workspace, deps);
    staffRoutes(staff, deps);
  },

  // Demo data (`atrium demo:seed`, /setup): a short exchange in Northwind's general thread, with an
  // internal note, and a conversation about the board pack (demo.ts).
  demo: (ctx, demo) => seedMessagingDemo(depsOf(ctx), demo),

  bootstrap(ctx) {
    // The batched notification mail, every jobIntervalSeconds, once per period across processes.
    const deps = depsOf(ctx);
    const periodMs = ctx.settings.jobIntervalSeconds * 1000;
    running.set(ctx, ctx.container.resolve(Tokens.Jobs).every('messaging.mail', periodMs, () => runMailBatches(deps), { claimMs: Math.max(500, periodMs - 1_000), onError: (err) => ctx.logger.error({ err }, 'messaging mail job failed') }));
  },

  async destroy(ctx) {
    await running.get(ctx)?.stop();
  },
});

export { runMailBatches, listThreads, threadTitle };
