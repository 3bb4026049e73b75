// Writes: start a thread, post (with attachments, mentions, the read mark of the author, the
// batched mail queue and the live ping of every reader), edit within the window (history kept),
// remove as a tombstone, assign, mark done. Each in one transaction with its audit event; live
// pings go out after COMMIT and carry no content (the page fetches what its reader may read).
import type { Logger } from 'pino';
import {
  afterCommit,
  isPostgresClient,
  newId,
  transaction,
  type AppAbility,
  type AuditEntry,
  type InboundService,
  type Db,
  type IncomingFile,
  type StorageService,
  type SubjectThreads,
  type ThreadReader,
  type Trx,
} from '../../core/index.ts';
import type { AuditService } from '../../core/audit.ts';
import type { EventBus } from '../../core/events.ts';
import type { LiveService } from '../../core/live.ts';
import type { NotificationService } from '../../core/notifications.ts';
import type { Clock } from '../../core/clock.ts';
import { excerpt, findMentions, renderMessage } from './markdown.ts';
import { seesInternal, type ThreadRow } from './repo.ts';
import type { MessagingSettings } from './settings.ts';

export interface MessagingDeps {
  db: Db;
  audit: AuditService;
  events: EventBus;
  storage: StorageService;
  notifications: NotificationService;
  live: LiveService;
  threads: SubjectThreads;
  inbound?: InboundService;
  clock: Clock;
  logger: Logger;
  settings: MessagingSettings;
}

export type Actor = Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;

/** The live event a thread's open pages listen to: they fetch their new messages on it. */
export const threadEvent = (threadId: string) => `messaging-t-${threadId}`;
/** The live event that refreshes the menu's unread count. */
export const UNREAD_EVENT = 'messaging-unread';

export const MAX_BODY = 10_000;
export const MAX_TITLE = 200;

/** The readers of a thread who may read a message of this visibility. */
export function readersOf(deps: MessagingDeps, trx: Db | Trx, thread: Pick<ThreadRow, 'workspace_id' | 'subject_type' | 'subject_id'>, visibility: 'public' | 'internal'): Promise<ThreadReader[]> {
  const subject = thread.subject_type && thread.subject_id ? { type: thread.subject_type, id: thread.subject_id } : null;
  return deps.threads.readers(trx, thread.workspace_id, subject, (a: AppAbility) => a.can('read', 'Thread') && (visibility === 'public' ? true : seesInternal(a)));
}

/** Find or create the thread with this key (one per key per workspace, even under a race). */
export async function ensureThread(deps: MessagingDeps, trx: Trx, t: { workspaceId: string; kind: ThreadRow['kind']; key: string; title: string; subjectType?: string | null; subjectId?: string | null; createdBy: string | null; actor: Actor }): Promise<{ id: string; created: boolean }> {
  const existing = (await trx('messaging_threads').where({ workspace_id: t.workspaceId, key: t.key }).first('id')) as { id: string } | undefined;
  if (existing) return { id: existing.id, created: false };
  const now = deps.clock.now();
  const id = newId(now);
  const inserted = await trx('messaging_threads')
    .insert({ id, workspace_id: t.workspaceId, kind: t.kind, key: t.key, title: t.title.slice(0, MAX_TITLE), subject_type: t.subjectType ?? null, subject_id: t.subjectId ?? null, created_by: t.createdBy, created_at: now })
    .onConflict(['workspace_id', 'key'])
    .ignore()
    .returning('id');
  if (!inserted.length) {
    const again = (await trx('messaging_threads').where({ workspace_id: t.workspaceId, key: t.key }).first('id')) as { id: string };
    return { id: again.id, created: false };
  }
  await deps.audit.record(trx, { ...t.actor, workspaceId: t.workspaceId, action: 'messaging.thread.create', subjectType: 'Thread', subjectId: id, detail: { kind: t.kind } });
  return { id, created: true };
}

export interface PostInput {
  workspaceId: string;
  thread: ThreadRow;
  authorId: string;
  /** Whether the author is one of the firm's people (their message answers the client). */
  authorFirm: boolean;
  body: string;
  visibility: 'public' | 'internal';
  attachments: IncomingFile[];
  via: 'portal' | 'email';
  actor: Actor;
  /** The message id the attachments were bound to (receiveUpload's versionId). */
  messageId?: string;
}

/** Post a message in `trx`. Returns its id and time. */
export async function postMessage(deps: MessagingDeps, trx: Trx, p: PostInput): Promise<{ id: string; at: number }> {
  const at = deps.clock.now();
  const id = p.messageId ?? newId(at);
  const readers = await readersOf(deps, trx, p.thread, p.visibility);
  const mentionable = readers.filter((r) => r.id !== p.authorId).map((r) => ({ id: r.id, name: r.name }));
  const mentioned = findMentions(p.body, mentionable);
  const html = renderMessage(p.body, mentioned);
  await trx('messaging_messages').insert({ id, workspace_id: p.workspaceId, thread_id: p.thread.id, author_id: p.authorId, visibility: p.visibility, body: p.body, html, via: p.via, created_at: at });
  if (!isPostgresClient(trx)) await trx('messaging_fts').insert({ body: p.body, message_id: id, workspace_id: p.workspaceId });
  for (const f of p.attachments) {
    await trx('messaging_attachments').insert({ id: f.fileId, workspace_id: p.workspaceId, message_id: id, name: f.name, content_type: f.contentType, size: f.blob.size, blob_key: f.blob.key, sha256: f.blob.sha256, created_at: at });
    await deps.storage.record(trx, f.blob, { plugin: 'messaging', workspaceId: p.workspaceId });
  }
  // The thread's counters; a client's public message puts the firm on the hook (and reopens a
  // thread marked done), the firm's public answer takes it off. Internal notes change neither.
  const patch: Record<string, unknown> = { last_at: at, message_count: trx.raw('message_count + 1') };
  if (p.visibility === 'public') {
    patch.last_public_at = at;
    patch.public_count = trx.raw('public_count + 1');
    if (p.authorFirm) patch.awaiting_firm_since = null;
    else {
      patch.awaiting_firm_since = trx.raw('coalesce(awaiting_firm_since, ?)', [at]);
      patch.done_at = null;
    }
  }
  await trx('messaging_threads').where({ id: p.thread.id, workspace_id: p.workspaceId }).update(patch);
  await markRead(trx, p.workspaceId, p.thread.id, p.authorId, at, at);
  await deps.audit.record(trx, {
    ...p.actor,
    workspaceId: p.workspaceId,
    action: p.visibility === 'internal' ? 'messaging.note.post' : 'messaging.message.post',
    subjectType: 'Message',
    subjectId: id,
    detail: { attachments: p.attachments.length, via: p.via },
  });
  // The batched mail: one row per (person, thread), due at the end of the window; later messages
  // join the same batch. Mentions are a notice of their own, at once.
  const due = at + deps.settings.mailWindowSeconds * 1000;
  const others = readers.filter((r) => r.id !== p.authorId && r.role != null);
  for (const r of others) {
    await trx('messaging_mail_queue')
      .insert({ id: newId(at), workspace_id: p.workspaceId, thread_id: p.thread.id, user_id: r.id, due_at: due, since: at - 1 })
      .onConflict(['thread_id', 'user_id'])
      .ignore();
  }
  if (mentioned.length) {
    const author = readers.find((r) => r.id === p.authorId)?.name ?? 'Someone';
    const slug = (await trx('workspaces').where({ id: p.workspaceId }).first('slug')) as { slug: string };
    await deps.notifications.notify(
      trx,
      mentioned.map((m) => ({
        userId: m.id,
        workspaceId: p.workspaceId,
        kind: 'messaging.mention',
        subject: `${author} mentioned you in “${p.thread.title}”`,
        text: `${author} wrote: ${excerpt(p.body, 300)}`,
        link: `/w/${slug.slug}/messaging/t/${p.thread.id}`,
      })),
    );
  }
  deps.events.publish(trx, 'messaging.message.posted', { workspaceId: p.workspaceId, threadId: p.thread.id, messageId: id, visibility: p.visibility });
  afterCommit(trx, () => ping(deps, readers.map((r) => r.id), p.thread.id));
  return { id, at };
}

/** Tell the readers' open pages: their thread views fetch what is new, their menus recount. */
export function ping(deps: MessagingDeps, userIds: string[], threadId: string): void {
  for (const u of new Set(userIds)) {
    deps.live.publish(u, threadEvent(threadId), '1').catch((err: unknown) => deps.logger.warn({ err }, 'messaging: live ping failed'));
    deps.live.publish(u, UNREAD_EVENT, '1').catch(() => {});
  }
}

/**
 * Record that `userId` has seen the thread through `through`. It never moves back, and a view
 * that shows nothing new writes nothing (every thread view would otherwise be a committed write,
 * queued on SQLite's one connection: docs/performance.md, "Messaging").
 */
export async function markRead(db: Db | Trx, workspaceId: string, threadId: string, userId: string, through: number, now: number): Promise<void> {
  await db('messaging_reads')
    .insert({ id: newId(now), workspace_id: workspaceId, thread_id: threadId, user_id: userId, read_through: through, read_at: now })
    .onConflict(['thread_id', 'user_id'])
    .merge({ read_through: through, read_at: now })
    .where('messaging_reads.read_through', '<', through);
}

/** Edit a message's body (its author, within the window): the old body is kept for staff. */
export async function editMessage(deps: MessagingDeps, trx: Trx, m: { workspaceId: string; thread: ThreadRow; id: string; oldBody: string; body: string; visibility: 'public' | 'internal'; actor: Actor }): Promise<void> {
  const now = deps.clock.now();
  const readers = await readersOf(deps, trx, m.thread, m.visibility);
  const mentioned = findMentions(m.body, readers.map((r) => ({ id: r.id, name: r.name })));
  await trx('messaging_edits').insert({ id: newId(now), workspace_id: m.workspaceId, message_id: m.id, body: m.oldBody, replaced_at: now });
  await trx('messaging_messages').where({ id: m.id, workspace_id: m.workspaceId }).update({ body: m.body, html: renderMessage(m.body, mentioned), edited_at: now });
  if (!isPostgresClient(trx)) await trx('messaging_fts').where({ message_id: m.id }).update({ body: m.body });
  await deps.audit.record(trx, { ...m.actor, workspaceId: m.workspaceId, action: m.visibility === 'internal' ? 'messaging.note.edit' : 'messaging.message.edit', subjectType: 'Message', subjectId: m.id });
  afterCommit(trx, () => ping(deps, readers.map((r) => r.id), m.thread.id));
}

/** Remove a message: its text, history and attachments go, a tombstone stays ("message removed"). */
export async function removeMessage(deps: MessagingDeps, trx: Trx, m: { workspaceId: string; thread: ThreadRow; id: string; visibility: 'public' | 'internal'; byId: string; actor: Actor }): Promise<void> {
  const now = deps.clock.now();
  const readers = await readersOf(deps, trx, m.thread, m.visibility);
  const blobs = (await trx('messaging_attachments').where({ workspace_id: m.workspaceId, message_id: m.id }).select('blob_key')) as Array<{ blob_key: string }>;
  for (const b of blobs) await deps.storage.remove(trx, b.blob_key);
  await trx('messaging_attachments').where({ workspace_id: m.workspaceId, message_id: m.id }).delete();
  await trx('messaging_edits').where({ workspace_id: m.workspaceId, message_id: m.id }).delete();
  await trx('messaging_messages').where({ id: m.id, workspace_id: m.workspaceId }).update({ body: '', html: '', deleted_at: now, deleted_by: m.byId });
  if (!isPostgresClient(trx)) await trx('messaging_fts').where({ message_id: m.id }).delete();
  await deps.audit.record(trx, { ...m.actor, workspaceId: m.workspaceId, action: m.visibility === 'internal' ? 'messaging.note.remove' : 'messaging.message.remove', subjectType: 'Message', subjectId: m.id, detail: { attachments: blobs.length } });
  afterCommit(trx, () => ping(deps, readers.map((r) => r.id), m.thread.id));
}

/** Assign a thread to one of the firm's people (or nobody), or mark it done / open again. */
export async function updateThread(deps: MessagingDeps, trx: Trx, t: { workspaceId: string; id: string; actor: Actor; assigneeId?: string | null; done?: boolean }): Promise<void> {
  const now = deps.clock.now();
  if (t.assigneeId !== undefined) {
    await trx('messaging_threads').where({ id: t.id, workspace_id: t.workspaceId }).update({ assignee_id: t.assigneeId });
    await deps.audit.record(trx, { ...t.actor, workspaceId: t.workspaceId, action: 'messaging.thread.assign', subjectType: 'ThreadTriage', subjectId: t.id, detail: { assignee: t.assigneeId } });
  }
  if (t.done !== undefined) {
    await trx('messaging_threads').where({ id: t.id, workspace_id: t.workspaceId }).update(t.done ? { done_at: now, awaiting_firm_since: null } : { done_at: null });
    await deps.audit.record(trx, { ...t.actor, workspaceId: t.workspaceId, action: t.done ? 'messaging.thread.done' : 'messaging.thread.reopen', subjectType: 'ThreadTriage', subjectId: t.id });
  }
}

export { transaction };
