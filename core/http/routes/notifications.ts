// A person's notification preference: at once, a daily digest, or off.
import { Router } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { NOTIFY_PREFS, type NotifyPref } from '../../notifications.ts';
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

  const page = async (req: Parameters<Parameters<typeof r.get>[1]>[0], current: string, errors?: Record<string, string>, status = 200) =>
    req.ctx.render('core/account-notifications', { options: OPTIONS.map((o) => ({ ...o, checked: o.value === current })), errors }, { title: 'Notifications', status });

  r.get('/account/notifications', async (req, res) => {
    if (!req.ctx.user) return res.redirect(302, '/login?next=%2Faccount%2Fnotifications');
    const row = await deps.db('users').where({ id: req.ctx.user.id }).first('notify_pref');
    await page(req, String(row?.notify_pref ?? 'immediately'));
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
