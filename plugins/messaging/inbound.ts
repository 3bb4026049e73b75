// Reply by email: the kernel's inbound-mail service hands over a reply to one of our notification
// mails, already matched to its token (person, workspace, thread) and stripped of quoted text. It
// is posted as that person when they may still read and answer the thread; otherwise refused
// (the kernel audits the refusal, nothing is posted). Attachments pass the same checks as an
// upload from the portal: the extension allow list, the magic bytes, the size limit.
import { Readable } from 'node:stream';
import { newId, sniff, SNIFF_BYTES, normaliseName, type IncomingFile, type InboundHandler, type InboundReply, type Trx } from '../../core/index.ts';
import { postMessage, readersOf, type MessagingDeps } from './service.ts';
import { toThread } from './repo.ts';
import { MAX_BODY } from './service.ts';

export const REPLY_PURPOSE = 'reply';

export function replyHandler(deps: MessagingDeps): InboundHandler {
  return {
    plugin: 'messaging',
    purpose: REPLY_PURPOSE,
    async handle(trx: Trx, reply: InboundReply) {
      const g = reply.grant;
      const row = (await trx('messaging_threads').where({ id: g.subjectId, workspace_id: g.workspaceId }).first()) as Record<string, unknown> | undefined;
      if (!row) return { ok: false, reason: 'no-thread' };
      const thread = toThread(row);
      const reader = (await readersOf(deps, trx, thread, 'public')).find((r) => r.id === g.userId);
      if (!reader || !reader.role) return { ok: false, reason: 'not-a-reader' };
      if (!reader.ability.can('reply', 'Thread')) return { ok: false, reason: 'may-not-reply' };
      let body = reply.text.replace(/\r\n?/g, '\n').trim().slice(0, MAX_BODY);
      const messageId = newId();
      const files: IncomingFile[] = [];
      const refused: string[] = [];
      for (const a of reply.attachments.slice(0, deps.settings.maxAttachments)) {
        const name = normaliseName(a.filename.split(/[\\/]/).pop() ?? '') || 'attachment';
        const checked = a.size <= deps.settings.maxAttachmentBytes ? await sniff(name, a.content.subarray(0, SNIFF_BYTES)) : { ok: false as const, reason: 'too large' };
        if (!checked.ok) {
          refused.push(name);
          continue;
        }
        const fileId = newId();
        const blob = await deps.storage.put(Readable.from([a.content]), { bind: `messaging:${fileId}:${messageId}`, limit: deps.settings.maxAttachmentBytes });
        files.push({ name, contentType: checked.contentType, blob, fileId, versionId: messageId });
      }
      if (refused.length) body = `${body}\n\n_Not attached (not an accepted file): ${refused.join(', ')}._`.trim();
      if (!body && !files.length) return { ok: false, reason: 'empty' };
      try {
        await postMessage(deps, trx, {
          workspaceId: g.workspaceId,
          thread,
          authorId: reader.id,
          authorFirm: reader.firmRole != null,
          body: body || '_(attachment)_',
          visibility: 'public',
          attachments: files,
          via: 'email',
          actor: { actorId: reader.id, ip: null, userAgent: 'email reply' },
          messageId,
        });
      } catch (err) {
        await Promise.all(files.map((f) => deps.storage.discard(f.blob)));
        throw err;
      }
      return { ok: true };
    },
  };
}
