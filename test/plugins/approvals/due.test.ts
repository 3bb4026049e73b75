// Reminders and the agreed "approved if no answer by the due date" rule, driven by a controllable
// clock: reminders go out before and on the due date, never on a weekend, once each even when two
// processes run the job at the same moment; the rule approves silent approvers after the due date
// (once); a request without the rule stays open and is marked overdue in the staff queue.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { reminderDays, runDueWork, DAY, type ApprovalsDeps } from '../../../plugins/approvals/service.ts';
import { settingsSchema } from '../../../plugins/approvals/settings.ts';
import { approvalsWorld, hidden, linkIn, mailsTo, requestApproval, signIn, uploadFile, type World } from './helpers.ts';

const test = suite('approvals due dates');
let w: World;

test.before(async () => {
  w = await approvalsWorld();
});
test.after(async () => {
  await w.app.close();
});

/** The job exactly as the plugin runs it (each call stands for one process's run). */
function job(settings: Record<string, unknown> = {}): ApprovalsDeps {
  const k = w.app.kernel;
  return { db: k.db, audit: k.audit, events: k.events, notifications: k.notifications, links: k.links, approvables: k.approvables, clock: w.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse(settings) };
}
const at = (iso: string) => w.clock.set(Date.parse(iso));
const fresh = async () => {
  for (const who of ['staff', 'admin', 'member', 'member2'] as const) await signIn(w, who);
};
const reminders = async (email: string) => (await mailsTo(w, email)).filter((m) => m.subject.startsWith('Reminder:'));

test('reminder days: counted in business days and moved off weekends, or plain calendar days', () => {
  const sunday = Date.parse('2026-12-13T23:59:59.999Z');
  const on = reminderDays(sunday, settingsSchema.parse({ remindDaysBefore: 2 }));
  assert.is(new Date(on.before!).toISOString().slice(0, 10), '2026-12-10'); // Thursday: Friday and Thursday are the two business days
  assert.is(new Date(on.due!).toISOString().slice(0, 10), '2026-12-11'); // Friday, not Sunday
  const off = reminderDays(sunday, settingsSchema.parse({ remindDaysBefore: 2, skipWeekends: false }));
  assert.is(new Date(off.before!).toISOString().slice(0, 10), '2026-12-11');
  assert.is(new Date(off.due!).toISOString().slice(0, 10), '2026-12-13');
  // A Friday-to-Saturday weekend (weekendDays configurable).
  const gulf = reminderDays(Date.parse('2026-12-12T12:00:00Z'), settingsSchema.parse({ remindDaysBefore: 1, weekendDays: [5, 6] }));
  assert.is(new Date(gulf.due!).toISOString().slice(0, 10), '2026-12-10');
  assert.is(gulf.before, null, 'the early reminder would fall on the due-date reminder day: only one is sent');
  const none = reminderDays(sunday, settingsSchema.parse({ remindDaysBefore: 0, remindOnDueDate: false }));
  assert.equal(none, { before: null, due: null });
});

test('reminders before and on the due date, never at the weekend, once each across two concurrent runs; preferences respected', async () => {
  at('2026-12-07T09:00:00Z'); // Monday
  await fresh();
  const fileId = await uploadFile(w, 'Contract.txt', 'contract');
  const { id } = await requestApproval(w, fileId, { title: 'Contract', approvers: [w.users.member, w.users.admin], due: '2026-12-13' }); // a Sunday
  assert.ok(id);
  await w.app.kernel.db('users').where({ id: w.users.admin }).update({ notify_pref: 'off' });
  const deps = job({ remindDaysBefore: 2 });

  assert.equal(await runDueWork(deps), { reminded: 0, autoApproved: 0 });
  at('2026-12-09T12:00:00Z'); // Wednesday: too early
  assert.is((await runDueWork(deps)).reminded, 0);
  at('2026-12-10T08:00:00Z'); // Thursday: two business days before
  const [a, b] = await Promise.all([runDueWork(deps), runDueWork(deps)]);
  assert.is(a.reminded + b.reminded, 2, 'one reminder per approver, whichever process claimed it');
  assert.is((await runDueWork(deps)).reminded, 0);
  assert.is((await reminders(w.emails.member)).length, 1);
  // The admin turned email off: the reminder is recorded, not mailed.
  assert.is((await reminders(w.emails.admin)).length, 0);
  const muted = await w.app.kernel.db('notifications').where({ user_id: w.users.admin, kind: 'approvals.reminder' }).pluck('state');
  assert.equal(muted, ['muted']);
  // The reminder's link works for the new decision.
  const path = await linkIn(w, w.emails.member, /^Reminder:/);
  assert.match((await w.app.client().get(path)).text, 'Approve version 1');

  at('2026-12-11T08:00:00Z'); // Friday: the due-date reminder, moved off Sunday
  assert.is((await runDueWork(deps)).reminded, 2);
  for (const day of ['2026-12-12T10:00:00Z', '2026-12-13T10:00:00Z']) {
    at(day); // the weekend
    assert.is((await runDueWork(deps)).reminded, 0);
  }
  assert.is((await reminders(w.emails.member)).length, 2);
  const kinds = await w.app.kernel.db('approvals_reminders').where({ request_id: id }).orderBy('kind').select('kind', 'user_id');
  assert.is(kinds.length, 4);
  assert.ok(await w.app.kernel.db('audit_events').where({ subject_id: id, action: 'approvals.request.remind' }).first());
});

test('approved if no answer by the due date: silent approvers are approved by the rule, once; without the rule it is overdue', async () => {
  at('2026-12-07T09:00:00Z');
  await fresh();
  const fileId = await uploadFile(w, 'Copy.txt', 'copy');
  const { id } = await requestApproval(w, fileId, { title: 'Copy deck', sequence: 'sequential', approvers: [w.users.member, w.users.admin], [`step:${w.users.member}`]: '1', [`step:${w.users.admin}`]: '2', due: '2026-12-08', autoApprove: 'yes' });
  const { id: plain } = await requestApproval(w, fileId, { title: 'Copy deck, no rule', approvers: [w.users.member2], due: '2026-12-08' });
  assert.ok(id && plain);
  const page = await w.as.member.get(`/w/acme/approvals/r/${id}`);
  assert.match(page.text, 'approved if no answer by then');
  assert.is((await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(page.text, 'version') })).status, 303);
  const deps = job({ remindDaysBefore: 0, remindOnDueDate: false });

  at('2026-12-08T23:59:00Z'); // still the due date
  assert.is((await runDueWork(deps)).autoApproved, 0);
  assert.is((await w.app.kernel.db('approvals_requests').where({ id }).first()).status, 'pending');

  at('2026-12-09T00:00:01Z'); // the due date is over
  const [a, b] = await Promise.all([runDueWork(deps), runDueWork(deps)]);
  assert.is(a.autoApproved + b.autoApproved, 1);
  assert.is((await runDueWork(deps)).autoApproved, 0);
  const r = await w.app.kernel.db('approvals_requests').where({ id }).first();
  assert.is(r.status, 'approved');
  assert.is(Number(r.turnaround_ms), Date.parse('2026-12-09T00:00:01Z') - Date.parse('2026-12-07T09:00:00Z'));
  const rows = await w.app.kernel.db('approvals_decisions').where({ request_id: id }).orderBy('via').select('approver_id', 'decided_by', 'via', 'sha256');
  assert.equal(rows.map((d: { approver_id: string; decided_by: string | null; via: string }) => [d.approver_id, d.decided_by, d.via]), [
    [w.users.member, w.users.member, 'portal'],
    [w.users.admin, null, 'rule'],
  ]);
  assert.is(rows[0].sha256, rows[1].sha256);
  assert.is((await w.app.kernel.db('audit_events').where({ subject_id: id, action: 'approvals.request.autoApprove' })).length, 1);
  assert.match((await mailsTo(w, w.emails.staff)).map((m) => m.subject).join('|'), '“Copy deck” was approved by the agreed rule');
  await fresh();
  const history = await w.as.admin.get(`/w/acme/approvals/r/${id}`);
  assert.match(history.text, 'by the agreed due-date rule');

  // Without the rule nothing is decided for anyone: the request is overdue, first in the staff queue.
  assert.is((await w.app.kernel.db('approvals_requests').where({ id: plain }).first()).status, 'pending');
  const queue = await w.as.staff.get('/staff/approvals/?due=overdue');
  assert.is(queue.status, 200);
  assert.match(queue.text, 'Copy deck, no rule');
  assert.match(queue.text, 'Overdue');
  assert.not.match(queue.text, '>Copy deck</a>');
  const fragment = await w.as.staff.get('/staff/approvals/?status=approved', { 'HX-Request': 'true', 'HX-Target': 'approvals-queue' });
  assert.not.match(fragment.text, '<html');
  assert.match(fragment.text, '>Copy deck</a>');
  // The client's list marks it overdue too.
  assert.match((await w.as.member2.get('/w/acme/approvals/')).text, 'Overdue');
  void DAY;
});

test.run();
