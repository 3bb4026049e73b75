// A person's notices (newest first, unread marked, "mark all as read") and their notification
// preference: at once, a daily digest, or off.
import { Router } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { NOTIFY_PREFS, NotificationService, type NotifyPref } from '../../notifications.ts';

const NOTICES_PER_PAGE = 20;
import { fieldErrors, formBody } from '../forms.ts';
import type { HttpDeps } from '../deps.ts';

const prefForm = z.strictObject({ pref: z.enum(NOTIFY_PREFS, { error: 'Choose one of the options' }) });

const OPTIONS: Array<{ value: NotifyPref; label: string; hint: string }> = [
  { value: 'immediately', label: 'Right away', hint: 'One email for each new file, approval request or message.' },
  { value: 'digest', label: 'Daily summary', hint: 'At most one email a day listing everything new.' },
  { value: 'off', label: 'Off', hint: 'No notification emails. Sign-in, security and invitation emails are always sent.' },
];

export function notificationRoutes(deps: HttpDeps): Router {
  const r = Router();

  const page = async (req: Parameters<Parameters<typeof r.get>[1]>[0], current: string, errors?: Record<string, string>, status = 200) => {
    // The person's own notices only (by user id), newest first, a page at a time.
    const pageNo = Math.max(1, Math.min(10_000, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
    const rows = (await deps.db('notifications')
      .where({ user_id: req.ctx.user!.id })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(NOTICES_PER_PAGE + 1)
      .offset((pageNo - 1) * NOTICES_PER_PAGE)
      .select('subject', 'body', 'link', 'created_at', 'read_at')) as Array<{ subject: string; body: string; link: string | null; created_at: number | string; read_at: number | string | null }>;
    const notices = rows.slice(0, NOTICES_PER_PAGE).map((n) => ({
      subject: n.subject,
      text: n.body,
      // Only a path on this site is ever linked.
      link: n.link && n.link.startsWith('/') && !n.link.startsWith('//') ? n.link : null,
      at: Number(n.created_at),
      unread: n.read_at == null,
    }));
    const unread = await NotificationService.count(deps.db, req.ctx.user!.id);
    await req.ctx.render(
      'core/account-notifications',
      { options: OPTIONS.map((o) => ({ ...o, checked: o.value === current })), errors, notices, unread, prev: pageNo > 1 ? pageNo - 1 : null, next: rows.length > NOTICES_PER_PAGE ? pageNo + 1 : null },
      { title: 'Notifications', status },
    );
  };

  r.get('/account/notifications', async (req, res) => {
    if (!req.ctx.user) return res.redirect(302, '/login?next=%2Faccount%2Fnotifications');
    const row = await deps.db('users').where({ id: req.ctx.user.id }).first('notify_pref');
    await page(req, String(row?.notify_pref ?? 'immediately'));
  });

  r.post('/account/notifications/read', async (req, res) => {
    if (!req.ctx.user) return res.redirect(303, '/login');
    const n = await transaction(deps.db, async (trx) => {
      const marked = await deps.notifications.markAllRead(trx, req.ctx.user!.id, deps.clock.now());
      if (marked) await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.notifications.read', subjectType: 'User', subjectId: req.ctx.user!.id, detail: { count: marked } });
      return marked;
    });
    await req.ctx.flash('success', n ? `${n === 1 ? 'One notice' : `${n} notices`} marked as read.` : 'Nothing new to mark.');
    res.redirect(303, '/account/notifications');
  });

  r.post('/account/notifications', async (req, res) => {
    if (!req.ctx.user) return res.redirect(303, '/login');
    const parsed = prefForm.safeParse(formBody(req.body));
    if (!parsed.success) return page(req, '', fieldErrors(parsed.error), 400);
    await transaction(deps.db, async (trx) => {
      await trx('users').where({ id: req.ctx.user!.id }).update({ notify_pref: parsed.data.pref });
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.notifications.update', subjectType: 'User', subjectId: req.ctx.user!.id, detail: { pref: parsed.data.pref } });
    });
    await req.ctx.flash('success', 'Notification preference saved.');
    res.redirect(303, '/account/notifications');
  });
  return r;
}
