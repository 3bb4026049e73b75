// Batched notification mail. A message queues one row per reader and thread (service.ts), due
// at the end of the window; later messages join that batch. When it is due, the person gets ONE
// mail with the messages they have not seen yet, through the kernel's notices (so their
// preference holds: at once, in the daily digest, or not at all). A message read in the portal
// within the window is not mailed; a reader who can no longer read the thread gets nothing.
// Each mail carries a reply address bound to the person and the thread (reply by email).
import { transaction, WorkspaceScope, type Trx } from '../../core/index.ts';
import { excerpt } from './markdown.ts';
import { messagesFor } from './repo.ts';
import { readersOf, type MessagingDeps } from './service.ts';
import { REPLY_PURPOSE } from './inbound.ts';

/** Send the batches that are due. Returns how many mails were queued. */
export async function runMailBatches(deps: MessagingDeps, limit = 200): Promise<{ mailed: number; dropped: number }> {
  const now = deps.clock.now();
  const due = (await deps.db('messaging_mail_queue').where('due_at', '<=', now).orderBy('due_at').limit(limit).select('id', 'workspace_id', 'thread_id', 'user_id', 'since')) as Array<{ id: string; workspace_id: string; thread_id: string; user_id: string; since: number | string }>;
  let mailed = 0;
  let dropped = 0;
  for (const row of due) {
    await transaction(deps.db, async (trx) => {
      // Claim the batch: whoever deletes the row sends it (two processes never send it twice).
      const claimed = await trx('messaging_mail_queue').where({ id: row.id }).delete();
      if (!claimed) return;
      (await mailBatch(deps, trx, row)) ? mailed++ : dropped++;
    });
  }
  return { mailed, dropped };
}

async function mailBatch(deps: MessagingDeps, trx: Trx, row: { workspace_id: string; thread_id: string; user_id: string; since: number | string }): Promise<boolean> {
  const thread = (await trx('messaging_threads').where({ id: row.thread_id, workspace_id: row.workspace_id }).first('id', 'workspace_id', 'kind', 'title', 'subject_type', 'subject_id')) as { id: string; workspace_id: string; kind: string; title: string; subject_type: string | null; subject_id: string | null } | undefined;
  if (!thread) return false;
  // The person as a reader of this thread now (left the workspace, lost the subject: nothing).
  const reader = (await readersOf(deps, trx, thread, 'public')).find((r) => r.id === row.user_id);
  if (!reader || !reader.role) return false;
  const mark = (await trx('messaging_reads').where({ thread_id: thread.id, user_id: reader.id }).first('read_through')) as { read_through: number | string } | undefined;
  const after = Math.max(Number(row.since), Number(mark?.read_through ?? 0));
  const viewer = { ability: reader.ability, userId: reader.id, workspaceId: thread.workspace_id, workspaceRole: reader.role, scope: new WorkspaceScope(trx, thread.workspace_id), db: trx };
  const unseen = (await messagesFor(viewer, deps.threads)
    .leftJoin('users as u', 'u.id', 'm.author_id')
    .where('m.thread_id', thread.id)
    .andWhere('m.created_at', '>', after)
    .whereNull('m.deleted_at')
    .andWhere(function () {
      this.whereNull('m.author_id').orWhereNot('m.author_id', reader.id);
    })
    .orderBy([{ column: 'm.created_at', order: 'asc' }, { column: 'm.id', order: 'asc' }])
    .limit(20)
    .select('m.body', 'u.name as author')) as Array<{ body: string; author: string | null }>;
  if (!unseen.length) return false;
  const ws = (await trx('workspaces').where({ id: thread.workspace_id }).first('slug')) as { slug: string };
  const title = thread.kind === 'general' ? 'General' : thread.title;
  const lines = unseen.map((m) => `${m.author ?? 'Someone'}: ${excerpt(m.body, 400)}`);
  // A reply address only for someone who may answer (a viewer's reply would be refused: the mail
  // must not ask them to reply).
  const replyTo = deps.inbound?.enabled && reader.ability.can('reply', 'Thread') ? await deps.inbound.replyAddress(trx, { plugin: 'messaging', purpose: REPLY_PURPOSE, userId: reader.id, workspaceId: thread.workspace_id, subjectId: thread.id, ttlMs: deps.settings.replyTokenDays * 86_400_000 }) : undefined;
  await deps.notifications.notify(trx, [
    {
      userId: reader.id,
      workspaceId: thread.workspace_id,
      kind: 'messaging.messages',
      subject: unseen.length === 1 ? `New message in “${title}”` : `${unseen.length} new messages in “${title}”`,
      text: `${lines.join('\n\n')}${replyTo ? '\n\nReply to this email to answer in the portal.' : ''}`,
      link: `/w/${ws.slug}/messaging/t/${thread.id}`,
      ...(replyTo ? { replyTo } : {}),
    },
  ]);
  return true;
}
