// Helpers for the messaging tests that need more than helpers.ts: the plugin's services from a
// bare kernel (for seeding rows through the plugin's own service, as a request would), an SSE
// stream that keeps every event it got (to prove an event did NOT arrive), the mails a person
// received with their Reply-To, and rows about the thread written directly where a test needs them.
import { Readable } from 'node:stream';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { simpleParser } from 'mailparser';
import type { Kernel } from '../../../core/boot.ts';
import { transaction, type Trx } from '../../../core/db/index.ts';
import { newId } from '../../../core/ids.ts';
import type { IncomingFile } from '../../../core/http/upload.ts';
import { emlFileName } from '../../../core/mail/transports.ts';
import { ensureThread, postMessage, editMessage, type MessagingDeps } from '../../../plugins/messaging/service.ts';
import { toThread, type ThreadRow } from '../../../plugins/messaging/repo.ts';
import { settingsSchema } from '../../../plugins/messaging/settings.ts';
import type { TestApp } from '../../helpers/app.ts';
import { flushMail } from '../../identity/support.ts';

/** The plugin's services over a kernel (what routes.ts and the jobs are wired with). */
export function depsOfKernel(k: Kernel, settings: Record<string, unknown> = {}): MessagingDeps {
  return {
    db: k.db,
    audit: k.audit,
    events: k.events,
    storage: k.storage,
    notifications: k.notifications,
    live: k.live,
    threads: k.threads,
    inbound: k.inbound,
    clock: k.clock,
    logger: pino({ level: 'silent' }),
    settings: settingsSchema.parse(settings),
  };
}

const actor = (id: string) => ({ actorId: id, ip: null, userAgent: 'test' });

/** Find or create a thread through the service; returns its row. */
export async function seedThread(deps: MessagingDeps, t: { workspaceId: string; kind: ThreadRow['kind']; key: string; title: string; subjectType?: string; subjectId?: string; by: string }): Promise<ThreadRow> {
  return transaction(deps.db, async (trx) => {
    const made = await ensureThread(deps, trx, { workspaceId: t.workspaceId, kind: t.kind, key: t.key, title: t.title, subjectType: t.subjectType ?? null, subjectId: t.subjectId ?? null, createdBy: t.by, actor: actor(t.by) });
    return toThread(await trx('messaging_threads').where({ id: made.id }).first());
  });
}

/** Post through the service (with an attachment when `file` is given); returns the message id and attachment id. */
export async function seedPost(
  deps: MessagingDeps,
  thread: ThreadRow,
  p: { by: string; firm: boolean; body: string; internal?: boolean; file?: { name: string; data: Buffer; contentType: string } },
): Promise<{ id: string; attachmentId?: string }> {
  const messageId = newId(deps.clock.now());
  const files: IncomingFile[] = [];
  let attachmentId: string | undefined;
  if (p.file) {
    attachmentId = newId();
    const blob = await deps.storage.put(Readable.from([p.file.data]), { bind: `messaging:${attachmentId}:${messageId}` });
    files.push({ name: p.file.name, contentType: p.file.contentType, blob, fileId: attachmentId, versionId: messageId });
  }
  const { id } = await transaction(deps.db, (trx: Trx) =>
    postMessage(deps, trx, { workspaceId: thread.workspace_id, thread, authorId: p.by, authorFirm: p.firm, body: p.body, visibility: p.internal ? 'internal' : 'public', attachments: files, via: 'portal', actor: actor(p.by), messageId }),
  );
  return { id, attachmentId };
}

/** Edit through the service (keeps the old body in messaging_edits). */
export async function seedEdit(deps: MessagingDeps, thread: ThreadRow, m: { id: string; by: string; oldBody: string; body: string; internal?: boolean }): Promise<void> {
  await transaction(deps.db, (trx) => editMessage(deps, trx, { workspaceId: thread.workspace_id, thread, id: m.id, oldBody: m.oldBody, body: m.body, visibility: m.internal ? 'internal' : 'public', actor: actor(m.by) }));
}

export interface Mail {
  subject: string;
  text: string;
  replyTo: string | null;
}

/** Every mail delivered to `to` (the file transport's copies), oldest first, with its Reply-To. */
export async function mailsWithReplyTo(app: TestApp, to: string): Promise<Mail[]> {
  await flushMail(app);
  const rows = (await app.kernel.db('outbox').where({ to_address: to }).whereNotNull('sent_at').orderBy('created_at').orderBy('id').select('message_id')) as Array<{ message_id: string }>;
  const out: Mail[] = [];
  for (const r of rows) {
    const file = join(app.db.dataDir, 'mail', emlFileName(r.message_id));
    if (!existsSync(file)) continue;
    const parsed = await simpleParser(readFileSync(file));
    out.push({ subject: parsed.subject ?? '', text: parsed.text ?? '', replyTo: parsed.replyTo?.value[0]?.address ?? null });
  }
  return out;
}

/** An SSE stream (GET /live) that keeps every event: the shared test helper's. */
export { openSse as openSseLog, cookieOf, type SseStream as SseLog } from '../../helpers/sse.ts';

