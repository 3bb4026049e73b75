// /w/:workspace/messaging: the workspace's conversations. Every handler reads through repo.ts (the
// workspace scope and the reader's rules), so a thread or message of another workspace, a thread
// about a subject kept from the reader and a client asking for an internal note all get the same 404.
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import {
  authorize,
  contentDisposition,
  fieldErrors,
  formBody,
  formatBytes,
  multiLine,
  newId,
  notFound,
  receiveUpload,
  singleLine,
  transaction,
  type IncomingFile,
  type ThreadSubject,
  type UploadProblem,
} from '../../core/index.ts';
import {
  attachmentsOf,
  cursorOf,
  findMessage,
  findThread,
  listThreads,
  messagesFor,
  pageOfMessages,
  parseCursor,
  readMarks,
  searchMessages,
  seesInternal,
  unreadCount,
  type MessageRow,
  type ThreadRow,
  type Viewer,
} from './repo.ts';
import { ensureThread, editMessage, markRead, MAX_BODY, MAX_TITLE, postMessage, removeMessage, threadEvent, updateThread, type MessagingDeps } from './service.ts';
import { messageView, threadTitle } from './models.ts';

const PAGE = 25;

const bodyField = multiLine({ max: MAX_BODY, min: 1, required: 'Write a message' });
const postForm = z.strictObject({ body: bodyField, internal: z.enum(['yes']).optional() });
const topicForm = z.strictObject({ title: singleLine({ max: MAX_TITLE, min: 1, required: 'Give the conversation a subject' }), body: bodyField });
const editForm = z.strictObject({ body: bodyField });

/** A result's text: the sanitised HTML as words (no Markdown marks, no tags), cut at `max`. */
function plainText(html: string, max: number): string {
  const text = html
    .replace(/<\/(p|li|h3|h4|blockquote|pre)>|<br\s*\/?>/g, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&(amp|lt|gt|quot|#39|#x27|nbsp);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", nbsp: ' ' })[e]!)
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}

export function viewerOf(req: Request, deps: MessagingDeps): Viewer {
  const ctx = req.ctx;
  return { ability: ctx.ability, userId: ctx.user!.id, workspaceId: ctx.workspace!.id, workspaceRole: ctx.workspaceRole, scope: ctx.scope!, db: deps.db };
}

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/messaging`;
/** htmx does not swap a 4xx answer: a form's errors go back to htmx as 200 (to a plain form, as 400/413/415). */
const failed = (req: Request, status: number) => (req.get('HX-Request') ? 200 : status);
/** After a write: a full page for htmx (the address bar follows), a 303 otherwise. */
function redirect(req: Request, res: Response, to: string): void {
  if (req.get('HX-Request')) {
    res.setHeader('HX-Redirect', to);
    res.status(204).end();
    return;
  }
  res.redirect(303, to);
}
const isMultipart = (req: Request) => /^multipart\/form-data/i.test(req.get('content-type') ?? '');

/** The message form, from a multipart body (with attachments) or an urlencoded one. */
async function readPost(req: Request, deps: MessagingDeps, messageId: string): Promise<{ fields: Record<string, string>; files: IncomingFile[]; problems: UploadProblem[]; status: number }> {
  if (!isMultipart(req)) return { fields: formBody(req.body) as Record<string, string>, files: [], problems: [], status: 200 };
  const s = deps.settings;
  const res = await receiveUpload(req, deps.storage, { maxFileBytes: s.maxAttachmentBytes, quotaLeft: Number.MAX_SAFE_INTEGER, maxFiles: s.maxAttachments, maxFields: 10, plugin: 'messaging' }, async () => ({ fileId: newId(), versionId: messageId }));
  const fields = { ...res.fields };
  delete fields._csrf;
  return { fields, files: res.files, problems: res.problems, status: res.status };
}

/** Render a thread's page (or, for htmx, the page's main fragment). */
async function renderThread(req: Request, deps: MessagingDeps, thread: ThreadRow | undefined, opts: { general?: boolean; errors?: Record<string, string>; values?: Record<string, string>; status?: number; before?: { at: number; id: string } } = {}): Promise<void> {
  const v = viewerOf(req, deps);
  const me = req.ctx.user!.id;
  const page = thread ? await pageOfMessages(v, deps.threads, thread.id, { limit: deps.settings.pageSize, before: opts.before }) : { rows: [], older: false };
  const atts = await attachmentsOf(v, page.rows.map((m) => m.id));
  const marks = thread ? await readMarks(v, thread.id) : [];
  const internal = seesInternal(req.ctx.ability);
  const now = deps.clock.now();
  const messages = page.rows.map((m) => messageView(req, m, atts.get(m.id) ?? [], { me, now, editWindowMs: deps.settings.editWindowMinutes * 60_000, staff: internal, base: base(req) }));
  // Seen by: on the team's side, the clients who have read the newest public message; on the
  // client's side, whether anyone at the firm has read their newest message.
  const lastPublic = [...page.rows].reverse().find((m) => m.visibility === 'public' && !m.deleted_at);
  let seen = '';
  if (lastPublic) {
    const readers = marks.filter((r) => r.user_id !== lastPublic.author_id && r.read_through >= lastPublic.created_at);
    if (internal) {
      const clients = readers.filter((r) => !r.firm).map((r) => r.name);
      if (clients.length) seen = `Seen by ${clients.join(', ')}`;
    } else if (lastPublic.author_id === me && readers.some((r) => r.firm)) seen = 'Seen by the firm';
  }
  const newest = page.rows.at(-1);
  const mine = marks.find((r) => r.user_id === me);
  if (thread && newest && !opts.before && (!mine || mine.read_through < newest.created_at)) await markRead(deps.db, thread.workspace_id, thread.id, me, newest.created_at, now);
  const postHref = thread ? `${base(req)}/t/${thread.id}` : `${base(req)}/general`;
  const subject = thread?.subject_type && thread.subject_id ? await deps.threads.resolve(v, thread.subject_type, thread.subject_id) : undefined;
  await req.ctx.render(
    'messaging/thread',
    {
      thread: thread ? { id: thread.id, title: threadTitle(thread), general: thread.kind === 'general', done: Boolean(thread.done_at), awaiting: thread.awaiting_firm_since != null } : { id: '', title: 'General', general: true, done: false, awaiting: false },
      subject: subject ? { label: subject.label, href: `/w/${req.ctx.workspace!.slug}${subject.path}`, noun: subject.noun } : undefined,
      messages,
      seen,
      older: page.older && page.rows[0] ? `${postHref}?before=${encodeURIComponent(cursorOf(page.rows[0]))}` : undefined,
      isOlderPage: Boolean(opts.before),
      newerHref: opts.before ? postHref : undefined,
      live: thread && !opts.before ? { event: threadEvent(thread.id), href: `${postHref}/messages`, after: newest ? cursorOf(newest) : '' } : undefined,
      canReply: req.ctx.ability.can('reply', 'Thread'),
      canInternal: internal && req.ctx.ability.can('reply', 'Thread'),
      canAssign: thread && req.ctx.ability.can('assign', 'Thread'),
      assignHref: thread ? `${postHref}/assign` : undefined,
      assignees: thread && req.ctx.ability.can('assign', 'Thread') ? await staffOptions(req, deps, thread.assignee_id) : [],
      doneHref: thread ? `${postHref}/done` : undefined,
      exportHref: thread ? `${postHref}/export` : undefined,
      postHref,
      listHref: `${base(req)}/`,
      maxAttachments: deps.settings.maxAttachments,
      maxSize: formatBytes(deps.settings.maxAttachmentBytes),
      errors: opts.errors ?? {},
      values: opts.values ?? {},
      hasErrors: Boolean(opts.errors && Object.keys(opts.errors).length),
    },
    { title: thread ? threadTitle(thread) : 'General', status: opts.status },
  );
}

/** The firm's people on this workspace, for the assignee list. */
async function staffOptions(req: Request, deps: MessagingDeps, current: string | null): Promise<Array<{ value: string; label: string; selected: boolean }>> {
  const rows = (await deps.db('memberships as m').join('users as u', 'u.id', 'm.user_id').where('m.workspace_id', req.ctx.workspace!.id).andWhere('m.role', 'staff').andWhere('u.disabled', false).orderBy('u.name').select('u.id', 'u.name')) as Array<{ id: string; name: string }>;
  return [{ value: '', label: 'Nobody', selected: !current }, ...rows.map((r) => ({ value: r.id, label: r.name, selected: r.id === current }))];
}

/** Post from a thread page (or create the general thread with its first message). */
async function handlePost(req: Request, res: Response, deps: MessagingDeps, thread: ThreadRow | undefined, general: boolean): Promise<void> {
  const messageId = newId();
  const got = await readPost(req, deps, messageId);
  const parsed = postForm.safeParse(got.fields);
  const internal = parsed.success && parsed.data.internal === 'yes';
  const errors: Record<string, string> = parsed.success ? {} : fieldErrors(parsed.error);
  if (got.problems.length) errors.attachments = got.problems.map((p) => (p.name ? `${p.name}: ${p.message}` : p.message)).join(' ');
  if (internal && !seesInternal(req.ctx.ability)) throw notFound();
  if (!parsed.success || got.problems.length) {
    await Promise.all(got.files.map((f) => deps.storage.discard(f.blob)));
    res.setHeader('HX-Retarget', '#main');
    res.setHeader('HX-Reswap', 'innerHTML');
    return renderThread(req, deps, thread, { general, errors, values: { body: got.fields.body ?? '' }, status: failed(req, got.problems.length ? got.status : 400) });
  }
  const ws = req.ctx.workspace!;
  let threadId = thread?.id;
  try {
    await transaction(deps.db, async (trx) => {
      let t = thread;
      if (!t) {
        const made = await ensureThread(deps, trx, { workspaceId: ws.id, kind: 'general', key: 'general', title: 'General', createdBy: req.ctx.user!.id, actor: req.ctx.actor() });
        t = (await findThread({ ...viewerOf(req, deps), scope: req.ctx.scope!.in(trx), db: trx }, deps.threads, { id: made.id }))!;
      }
      threadId = t.id;
      await postMessage(deps, trx, { workspaceId: ws.id, thread: t, authorId: req.ctx.user!.id, authorFirm: req.ctx.user!.firmRole != null, body: parsed.data.body, visibility: internal ? 'internal' : 'public', attachments: got.files, via: 'portal', actor: req.ctx.actor(), messageId });
    });
  } catch (err) {
    await Promise.all(got.files.map((f) => deps.storage.discard(f.blob)));
    throw err;
  }
  if (req.get('HX-Request') && thread) {
    // The composer is cleared and the new message appended by the live fetch; answer the composer.
    res.setHeader('HX-Trigger', 'messaging-posted');
    return renderComposer(req, deps, thread);
  }
  redirect(req, res, `${base(req)}/t/${threadId}`);
}

async function renderComposer(req: Request, deps: MessagingDeps, thread: ThreadRow): Promise<void> {
  await req.ctx.render('messaging/partials/composer', {
    postHref: `${base(req)}/t/${thread.id}`,
    canInternal: seesInternal(req.ctx.ability),
    maxAttachments: deps.settings.maxAttachments,
    maxSize: formatBytes(deps.settings.maxAttachmentBytes),
    errors: {},
    values: {},
    sent: true,
  });
}

export function workspaceRoutes(r: Router, deps: MessagingDeps): void {
  // The conversations of this workspace.
  r.get('/', authorize('read', 'Thread'), async (req) => {
    const v = viewerOf(req, deps);
    const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const { rows, total } = await listThreads(deps.db, v, deps.threads, { limit: PAGE, offset: (page - 1) * PAGE });
    const hasGeneral = rows.some((t) => t.kind === 'general') || page > 1;
    const pages = Math.max(1, Math.ceil(total / PAGE));
    const staff = seesInternal(req.ctx.ability);
    await req.ctx.render(
      'messaging/list',
      {
        threads: [
          ...(hasGeneral ? [] : [{ title: 'General', href: `${base(req)}/general`, when: null, count: 0, unread: 0, kind: 'general', awaiting: false, done: false }]),
          ...rows.map((t) => ({
            title: threadTitle(t),
            href: `${base(req)}/t/${t.id}`,
            when: t.last,
            count: t.count,
            unread: t.unread,
            kind: t.kind,
            awaiting: staff && t.awaiting_firm_since != null && !t.done_at,
            done: Boolean(t.done_at),
          })),
        ],
        // No conversation yet (only the general one, not written in): an empty state that says what to do.
        hasThreads: rows.length > 0 || page > 1,
        generalHref: `${base(req)}/general`,
        canReply: req.ctx.ability.can('reply', 'Thread'),
        newHref: req.ctx.ability.can('create', 'Thread') ? `${base(req)}/new` : undefined,
        searchHref: `${base(req)}/search`,
        page,
        pages,
        prev: page > 1 ? `${base(req)}/?page=${page - 1}` : undefined,
        next: page < pages ? `${base(req)}/?page=${page + 1}` : undefined,
      },
      { title: 'Messages' },
    );
  });

  // The menu's badge: the reader's unread messages in this workspace, as a small fragment.
  r.get('/unread', authorize('read', 'Thread'), async (req, res) => {
    const n = await unreadCount(deps.db, viewerOf(req, deps), deps.threads);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(n ? `<span class="badge badge-count">${n > 99 ? '99+' : n}<span class="visually-hidden"> unread</span></span>` : '');
  });

  r.get('/new', authorize('create', 'Thread'), async (req) => {
    await req.ctx.render('messaging/new', { action: `${base(req)}/new`, listHref: `${base(req)}/`, values: {}, errors: {}, maxAttachments: deps.settings.maxAttachments, maxSize: formatBytes(deps.settings.maxAttachmentBytes) }, { title: 'New conversation' });
  });

  r.post('/new', authorize('create', 'Thread'), async (req, res) => {
    const messageId = newId();
    const got = await readPost(req, deps, messageId);
    const parsed = topicForm.safeParse(got.fields);
    const errors: Record<string, string> = parsed.success ? {} : fieldErrors(parsed.error);
    if (got.problems.length) errors.attachments = got.problems.map((p) => (p.name ? `${p.name}: ${p.message}` : p.message)).join(' ');
    if (!parsed.success || got.problems.length) {
      await Promise.all(got.files.map((f) => deps.storage.discard(f.blob)));
      res.setHeader('HX-Retarget', '#main');
      res.setHeader('HX-Reswap', 'innerHTML');
      return req.ctx.render('messaging/new', { action: `${base(req)}/new`, listHref: `${base(req)}/`, values: { title: got.fields.title ?? '', body: got.fields.body ?? '' }, errors, hasErrors: true, maxAttachments: deps.settings.maxAttachments, maxSize: formatBytes(deps.settings.maxAttachmentBytes) }, { title: 'New conversation', status: failed(req, got.problems.length ? got.status : 400) });
    }
    const ws = req.ctx.workspace!;
    let id = '';
    try {
      await transaction(deps.db, async (trx) => {
        const key = `topic:${newId()}`;
        const made = await ensureThread(deps, trx, { workspaceId: ws.id, kind: 'topic', key, title: parsed.data.title, createdBy: req.ctx.user!.id, actor: req.ctx.actor() });
        const t = (await findThread({ ...viewerOf(req, deps), scope: req.ctx.scope!.in(trx), db: trx }, deps.threads, { id: made.id }))!;
        id = t.id;
        await postMessage(deps, trx, { workspaceId: ws.id, thread: t, authorId: req.ctx.user!.id, authorFirm: req.ctx.user!.firmRole != null, body: parsed.data.body, visibility: 'public', attachments: got.files, via: 'portal', actor: req.ctx.actor(), messageId });
      });
    } catch (err) {
      await Promise.all(got.files.map((f) => deps.storage.discard(f.blob)));
      throw err;
    }
    await req.ctx.flash('success', 'Your message was sent.');
    redirect(req, res, `${base(req)}/t/${id}`);
  });

  // The general thread: every workspace has one; it exists as a row from its first message.
  r.get('/general', authorize('read', 'Thread'), async (req, res) => {
    const t = await findThread(viewerOf(req, deps), deps.threads, { key: 'general' });
    if (t) return res.redirect(303, `${base(req)}/t/${t.id}`);
    await renderThread(req, deps, undefined, { general: true });
  });
  r.post('/general', authorize('reply', 'Thread'), async (req, res) => {
    const t = await findThread(viewerOf(req, deps), deps.threads, { key: 'general' });
    await handlePost(req, res, deps, t, true);
  });

  const loadThread = async (req: Request): Promise<ThreadRow> => {
    const t = await findThread(viewerOf(req, deps), deps.threads, { id: String(req.params.threadId) });
    if (!t) throw notFound();
    return t;
  };

  r.get('/t/:threadId', authorize('read', 'Thread'), async (req) => {
    const t = await loadThread(req);
    await renderThread(req, deps, t, { before: parseCursor(req.query.before) });
  });

  r.post('/t/:threadId', authorize('reply', 'Thread'), async (req, res) => {
    const t = await loadThread(req);
    await handlePost(req, res, deps, t, false);
  });

  // New messages after a cursor (the live fetch), appended to the open thread.
  r.get('/t/:threadId/messages', authorize('read', 'Thread'), async (req) => {
    const t = await loadThread(req);
    const v = viewerOf(req, deps);
    const after = parseCursor(req.query.after);
    const page = after ? await pageOfMessages(v, deps.threads, t.id, { limit: 100, after }) : await pageOfMessages(v, deps.threads, t.id, { limit: deps.settings.pageSize });
    const atts = await attachmentsOf(v, page.rows.map((m) => m.id));
    const now = deps.clock.now();
    const newest = page.rows.at(-1);
    if (newest) await markRead(deps.db, t.workspace_id, t.id, req.ctx.user!.id, newest.created_at, now);
    // The menu's count after this read: what arrives on the open page is read, so the badge (which
    // fetches on the same ping, maybe before this mark) is set again from here.
    const unread = await unreadCount(deps.db, v, deps.threads);
    await req.ctx.render('messaging/messages', {
      unread: unread > 99 ? '99+' : unread,
      messages: page.rows.map((m) => messageView(req, m, atts.get(m.id) ?? [], { me: req.ctx.user!.id, now, editWindowMs: deps.settings.editWindowMinutes * 60_000, staff: seesInternal(req.ctx.ability), base: base(req) })),
      after: newest ? cursorOf(newest) : (after ? `${after.at}.${after.id}` : ''),
    });
  });

  // A transcript of the thread, as its reader may read it (Markdown text).
  r.get('/t/:threadId/export', authorize('read', 'Thread'), async (req, res) => {
    const t = await loadThread(req);
    const v = viewerOf(req, deps);
    const rows = (await pageOfMessages(v, deps.threads, t.id, { limit: 100_000 })).rows;
    const lines = [`# ${threadTitle(t)}`, ''];
    for (const m of rows) {
      const who = m.author_name ?? 'Someone';
      lines.push(`## ${who}, ${new Date(m.created_at).toISOString().replace('T', ' ').slice(0, 16)} UTC${m.visibility === 'internal' ? ' (internal note)' : ''}`, '', m.deleted_at ? '_Message removed._' : m.body, '');
    }
    res.setHeader('Content-Type', 'text/markdown; charset=utf-8');
    res.setHeader('Content-Disposition', contentDisposition(`${threadTitle(t)}.md`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.send(lines.join('\n'));
  });

  r.post('/t/:threadId/assign', authorize('assign', 'Thread'), async (req, res) => {
    const t = await loadThread(req);
    const raw = String((formBody(req.body) as Record<string, unknown>).assignee ?? '');
    let assignee: string | null = null;
    if (raw) {
      const ok = (await deps.db('memberships').where({ workspace_id: t.workspace_id, user_id: raw, role: 'staff' }).first('id')) as { id: string } | undefined;
      if (!ok) throw notFound();
      assignee = raw;
    }
    await transaction(deps.db, (trx) => updateThread(deps, trx, { workspaceId: t.workspace_id, id: t.id, actor: req.ctx.actor(), assigneeId: assignee }));
    await req.ctx.flash('success', assignee ? 'The conversation was assigned.' : 'The conversation is no longer assigned.');
    res.redirect(303, `${base(req)}/t/${t.id}`);
  });

  r.post('/t/:threadId/done', authorize('assign', 'Thread'), async (req, res) => {
    const t = await loadThread(req);
    const done = (formBody(req.body) as Record<string, unknown>).done !== 'no';
    await transaction(deps.db, (trx) => updateThread(deps, trx, { workspaceId: t.workspace_id, id: t.id, actor: req.ctx.actor(), done }));
    await req.ctx.flash('success', done ? 'Marked as done. A new message from the client opens it again.' : 'Opened again.');
    res.redirect(303, `${base(req)}/t/${t.id}`);
  });

  const loadOwn = async (req: Request): Promise<{ m: MessageRow; t: ThreadRow }> => {
    const v = viewerOf(req, deps);
    const m = await findMessage(v, deps.threads, String(req.params.messageId));
    if (!m) throw notFound();
    const t = await findThread(v, deps.threads, { id: m.thread_id });
    if (!t) throw notFound();
    return { m, t };
  };
  const editable = (req: Request, m: MessageRow) => !m.deleted_at && m.author_id === req.ctx.user!.id && deps.clock.now() - m.created_at <= deps.settings.editWindowMinutes * 60_000;

  r.get('/m/:messageId/edit', authorize('reply', 'Thread'), async (req) => {
    const { m, t } = await loadOwn(req);
    if (!editable(req, m)) throw notFound();
    await req.ctx.render('messaging/edit', { action: `${base(req)}/m/${m.id}/edit`, backHref: `${base(req)}/t/${t.id}`, values: { body: m.body }, errors: {} }, { title: 'Edit message' });
  });

  r.post('/m/:messageId/edit', authorize('reply', 'Thread'), async (req, res) => {
    const { m, t } = await loadOwn(req);
    if (!editable(req, m)) {
      await req.ctx.flash('error', 'A message can be edited only in the first few minutes after it is sent.');
      return res.redirect(303, `${base(req)}/t/${t.id}`);
    }
    const parsed = editForm.safeParse(formBody(req.body));
    if (!parsed.success) {
      return req.ctx.render('messaging/edit', { action: `${base(req)}/m/${m.id}/edit`, backHref: `${base(req)}/t/${t.id}`, values: { body: String((req.body as Record<string, unknown>).body ?? '') }, errors: fieldErrors(parsed.error), hasErrors: true }, { title: 'Edit message', status: 400 });
    }
    if (parsed.data.body !== m.body) await transaction(deps.db, (trx) => editMessage(deps, trx, { workspaceId: t.workspace_id, thread: t, id: m.id, oldBody: m.body, body: parsed.data.body, visibility: m.visibility, actor: req.ctx.actor() }));
    res.redirect(303, `${base(req)}/t/${t.id}#m-${m.id}`);
  });

  r.post('/m/:messageId/delete', authorize('reply', 'Thread'), async (req, res) => {
    const { m, t } = await loadOwn(req);
    const mayRemove = m.author_id === req.ctx.user!.id || req.ctx.ability.can('manage', 'all');
    if (!mayRemove) throw notFound();
    if (!m.deleted_at) await transaction(deps.db, (trx) => removeMessage(deps, trx, { workspaceId: t.workspace_id, thread: t, id: m.id, visibility: m.visibility, byId: req.ctx.user!.id, actor: req.ctx.actor() }));
    await req.ctx.flash('success', 'The message was removed.');
    res.redirect(303, `${base(req)}/t/${t.id}`);
  });

  // Earlier versions of an edited message: the firm's people only.
  r.get('/m/:messageId/history', authorize('assign', 'Thread'), async (req) => {
    const { m, t } = await loadOwn(req);
    const rows = (await req.ctx.scope!.table('messaging_edits').where({ message_id: m.id }).orderBy('replaced_at', 'desc').select('body', 'replaced_at')) as Array<{ body: string; replaced_at: number | string }>;
    await req.ctx.render('messaging/history', { backHref: `${base(req)}/t/${t.id}#m-${m.id}`, current: m.body, edits: rows.map((r) => ({ body: r.body, at: Number(r.replaced_at) })) }, { title: 'Edit history' });
  });

  // An attachment, for whoever may read its message.
  r.get('/a/:attachmentId', authorize('read', 'Thread'), async (req, res) => {
    const v = viewerOf(req, deps);
    const a = (await req.ctx.scope!.table('messaging_attachments', 'a')
      .where('a.id', String(req.params.attachmentId))
      .whereIn('a.message_id', messagesFor(v, deps.threads).whereNull('m.deleted_at').select('m.id'))
      .first('a.id', 'a.message_id', 'a.name', 'a.content_type', 'a.size', 'a.blob_key')) as { id: string; message_id: string; name: string; content_type: string; size: number | string; blob_key: string } | undefined;
    if (!a) throw notFound();
    const opened = await deps.storage.open(deps.db, a.blob_key, { bind: `messaging:${a.id}:${a.message_id}` });
    res.setHeader('Content-Type', a.content_type);
    res.setHeader('Content-Disposition', contentDisposition(a.name));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', String(a.size));
    opened.stream.on('error', () => res.destroy());
    opened.stream.pipe(res);
  });

  // Search within the workspace's messages the reader may read.
  r.get('/search', authorize('read', 'Thread'), async (req) => {
    const q = typeof req.query.q === 'string' ? req.query.q.slice(0, 200).trim() : '';
    const v = viewerOf(req, deps);
    const rows = q
      ? ((await searchMessages(deps.db, v, deps.threads, q)
          .join('messaging_threads as th', function () {
            this.on('th.id', '=', 'm.thread_id').andOn('th.workspace_id', '=', 'm.workspace_id');
          })
          .leftJoin('users as u', 'u.id', 'm.author_id')
          .orderBy([{ column: 'm.created_at', order: 'desc' }, { column: 'm.id', order: 'desc' }])
          .limit(50)
          .select('m.id', 'm.thread_id', 'm.html', 'm.created_at', 'm.visibility', 'u.name as author', 'th.title', 'th.kind', 'th.subject_type')) as Array<Record<string, unknown>>)
      : [];
    await req.ctx.render(
      'messaging/search',
      {
        q,
        action: `${base(req)}/search`,
        listHref: `${base(req)}/`,
        count: rows.length,
        capped: rows.length >= 50,
        results: rows.map((r) => ({
          href: `${base(req)}/t/${String(r.thread_id)}#m-${String(r.id)}`,
          thread: String(r.title),
          author: r.author ? String(r.author) : 'Someone',
          at: Number(r.created_at),
          text: plainText(String(r.html), 240),
          internal: r.visibility === 'internal',
        })),
      },
      { title: q ? `Search: ${q}` : 'Search messages' },
    );
  });

  // A subject's discussion (the kernel's subject threads contract): the fragment a subject's page
  // loads, and its post. The subject is resolved for this reader first: no subject, no thread.
  const subjectOf = async (req: Request) => {
    const type = String(req.params.subjectType);
    if (!/^[A-Z][A-Za-z0-9]{0,39}$/.test(type) || type === 'Thread' || type === 'Message') throw notFound();
    const s = await deps.threads.resolve(viewerOf(req, deps), type, String(req.params.subjectId));
    if (!s) throw notFound();
    return s;
  };

  const renderSubject = async (req: Request, s: ThreadSubject, extra: { errors?: Record<string, string>; status?: number } = {}) => {
    const v = viewerOf(req, deps);
    const t = await findThread(v, deps.threads, { key: `subject:${s.type}:${s.id}` });
    const page = t ? await pageOfMessages(v, deps.threads, t.id, { limit: 10 }) : { rows: [], older: false };
    const atts = await attachmentsOf(v, page.rows.map((m) => m.id));
    const now = deps.clock.now();
    if (t && page.rows.length) await markRead(deps.db, t.workspace_id, t.id, req.ctx.user!.id, page.rows.at(-1)!.created_at, now);
    const here = `${base(req)}/on/${s.type}/${encodeURIComponent(s.id)}`;
    await req.ctx.render(
      'messaging/subject',
      {
        subject: { label: s.label, noun: s.noun, href: `/w/${req.ctx.workspace!.slug}${s.path}` },
        threadHref: t ? `${base(req)}/t/${t.id}` : undefined,
        older: page.older,
        messages: page.rows.map((m) => messageView(req, m, atts.get(m.id) ?? [], { me: req.ctx.user!.id, now, editWindowMs: deps.settings.editWindowMinutes * 60_000, staff: seesInternal(req.ctx.ability), base: base(req) })),
        postHref: here,
        canReply: req.ctx.ability.can('reply', 'Thread'),
        canInternal: seesInternal(req.ctx.ability) && req.ctx.ability.can('reply', 'Thread'),
        maxAttachments: deps.settings.maxAttachments,
        maxSize: formatBytes(deps.settings.maxAttachmentBytes),
        errors: extra.errors ?? {},
        values: {},
      },
      { title: `Discussion: ${s.label}`, status: extra.status },
    );
    };

  r.get('/on/:subjectType/:subjectId', authorize('read', 'Thread'), async (req) => {
    await renderSubject(req, await subjectOf(req));
  });

  r.post('/on/:subjectType/:subjectId', authorize('reply', 'Thread'), async (req, res) => {
    const s = await subjectOf(req);
    const ws = req.ctx.workspace!;
    const messageId = newId();
    const got = await readPost(req, deps, messageId);
    const parsed = postForm.safeParse(got.fields);
    const internal = parsed.success && parsed.data.internal === 'yes';
    if (internal && !seesInternal(req.ctx.ability)) throw notFound();
    if (!parsed.success || got.problems.length) {
      await Promise.all(got.files.map((f) => deps.storage.discard(f.blob)));
      const errors: Record<string, string> = parsed.success ? {} : fieldErrors(parsed.error);
      if (got.problems.length) errors.attachments = got.problems.map((p) => (p.name ? `${p.name}: ${p.message}` : p.message)).join(' ');
      return renderSubject(req, s, { errors, status: failed(req, got.problems.length ? got.status : 400) });
    }
    let threadId = '';
    try {
      await transaction(deps.db, async (trx) => {
        const made = await ensureThread(deps, trx, { workspaceId: ws.id, kind: 'subject', key: `subject:${s.type}:${s.id}`, title: s.label, subjectType: s.type, subjectId: s.id, createdBy: req.ctx.user!.id, actor: req.ctx.actor() });
        const t = (await findThread({ ...viewerOf(req, deps), scope: req.ctx.scope!.in(trx), db: trx }, deps.threads, { id: made.id }))!;
        threadId = t.id;
        await postMessage(deps, trx, { workspaceId: ws.id, thread: t, authorId: req.ctx.user!.id, authorFirm: req.ctx.user!.firmRole != null, body: parsed.data.body, visibility: internal ? 'internal' : 'public', attachments: got.files, via: 'portal', actor: req.ctx.actor(), messageId });
      });
    } catch (err) {
      await Promise.all(got.files.map((f) => deps.storage.discard(f.blob)));
      throw err;
    }
    // From the subject's page (htmx): the discussion again, in place. On its own: the thread.
    if (req.get('HX-Request')) return renderSubject(req, s);
    await req.ctx.flash('success', 'Your message was sent.');
    res.redirect(303, `${base(req)}/t/${threadId}`);
  });
}

