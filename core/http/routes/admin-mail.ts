// Admin console, mail: the outbox, newest first (status, attempts, last error) and one message's
// text. One-time links (reset, invitation, email confirmation) are never shown here: they are
// hidden on display, and scrubbed from the stored body once the message is delivered.
import { Router } from 'express';
import { z } from 'zod';
import { AtriumError } from '../../errors.ts';
import { redactTokens } from '../../mail/templates.ts';
import type { HttpDeps } from '../deps.ts';

const PAGE_SIZE = 25;
const pageQuery = z.object({ page: z.coerce.number().int().min(1).max(100000).catch(1) });

function status(row: Record<string, unknown>): { key: string; label: string } {
  if (row.sent_at != null) return { key: 'sent', label: 'Sent' };
  if (row.failed_at != null) return { key: 'failed', label: 'Failed' };
  if (Number(row.attempts) > 0) return { key: 'retrying', label: 'Retrying' };
  return { key: 'queued', label: 'Queued' };
}

export function adminMailRoutes(deps: HttpDeps): Router {
  const r = Router();
  const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });

  r.get('/admin/mail', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Mail')) return next(notFound());
    const { page } = pageQuery.parse(req.query);
    const total = Number(((await deps.db('outbox').count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const current = Math.min(page, pages);
    const rows = (await deps.db('outbox')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(PAGE_SIZE)
      .offset((current - 1) * PAGE_SIZE)
      .select('id', 'to_address', 'subject', 'created_at', 'attempts', 'next_attempt_at', 'sent_at', 'failed_at', 'last_error')) as Array<Record<string, unknown>>;
    await req.ctx.render(
      'core/admin-mail',
      {
        messages: rows.map((m) => ({
          id: String(m.id),
          to: String(m.to_address),
          subject: String(m.subject),
          createdAt: Number(m.created_at),
          attempts: Number(m.attempts),
          status: status(m),
          nextAttemptAt: m.sent_at == null && m.failed_at == null ? Number(m.next_attempt_at) : null,
          lastError: m.last_error ? String(m.last_error).slice(0, 200) : null,
        })),
        total,
        page: current,
        pages,
        prev: current > 1 ? current - 1 : null,
        next: current < pages ? current + 1 : null,
        transport: deps.config.mail.transport,
      },
      { title: 'Mail' },
    );
  });

  r.get('/admin/mail/:id', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Mail')) return next(notFound());
    const m = (await deps.db('outbox').where({ id: String(req.params.id) }).first()) as Record<string, unknown> | undefined;
    if (!m) return next(notFound());
    await req.ctx.render(
      'core/admin-mail-message',
      {
        message: {
          messageId: String(m.message_id),
          to: String(m.to_address),
          subject: String(m.subject),
          createdAt: Number(m.created_at),
          sentAt: m.sent_at == null ? null : Number(m.sent_at),
          attempts: Number(m.attempts),
          status: status(m),
          lastError: m.last_error ? String(m.last_error) : null,
          text: redactTokens(String(m.text_body)),
        },
      },
      { title: String(m.subject) },
    );
  });

  return r;
}
