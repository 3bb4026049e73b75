// Payment reminders, with a test clock: before the due date and after it on the firm's schedule,
// each step once per invoice even with two runs at once; the latest step only (a step missed while
// no job ran is not sent late; no "due in 3 days" for an invoice issued 2 days before it is due);
// never for drafts, paid (or fully credited) or void invoices; only to the client's people who may
// read invoices, by their notification preference; the mail links to the invoice in the portal,
// which an anonymous reader reaches by signing in first.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import type { InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { reminderStep, runReminders } from '../../../plugins/invoices/reminders.ts';
import { mailsTo } from '../../identity/support.ts';
import { decode, invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices reminders');
let w: World;
let deps: InvoicesDeps;
const ids: Record<string, string> = {};
const DAY = 86_400_000;
const base = () => `/w/${w.ws.slug}/invoices`;

test.before(async () => {
  w = await invoicesWorld();
  const k = w.app.kernel;
  deps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: w.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
  // Issued Monday 7 Dec 2026 09:00 UTC. A: net 30 (due 6 Jan). B: 2 days (due 9 Dec). C: paid.
  // D: void. E: a draft. F: credited in full.
  const make = async (key: string, extra: Record<string, string>) => {
    const { id } = await newDraft(w, [[`Line ${key}`, '1', '100.00', '0']], extra);
    ids[key] = id!;
  };
  await make('A', { termsDays: '30' });
  await make('B', { termsDays: 'custom', customDays: '2' });
  await make('C', { termsDays: '0' });
  await make('D', { termsDays: '0' });
  await make('E', { termsDays: '0' });
  await make('F', { termsDays: '0' });
  for (const key of ['A', 'B', 'C', 'D', 'F']) assert.is((await issue(w, ids[key]!)).status, 303);
  await w.as.staff.get(`${base()}/i/${ids.C}`);
  assert.is((await w.as.staff.postForm(`${base()}/i/${ids.C}/payments`, { amount: '100.00', method: 'cash', reference: '', received: '2026-12-07' })).status, 303);
  assert.is((await w.as.staff.postForm(`${base()}/i/${ids.D}/void`, { reason: 'Wrong client' })).status, 303);
  assert.is((await w.as.staff.postForm(`${base()}/i/${ids.F}/credit-notes/new`, { kind: 'lines', 'qty-1': '1', reason: 'Not delivered' })).status, 303);
});
test.after(async () => {
  await w.app.close();
});

const steps = async (key: string) => (await w.app.kernel.db('invoices_reminders').where({ invoice_id: ids[key] }).orderBy('sent_at').orderBy('step').pluck('step')) as string[];
const reminderMails = async (who: 'admin' | 'member' | 'viewer' | 'staff') => (await mailsTo(w.app, w.emails[who])).filter((m) => /is overdue|is due on/.test(m.subject));
/** Two runs at once, as two processes whose job claims overlapped would. */
const run = async (iso: string) => {
  w.clock.set(Date.parse(iso));
  const [x, y] = await Promise.all([runReminders(deps), runReminders(deps)]);
  return x.sent + y.sent;
};

test('the step: latest due, before steps only after the issue, after steps once past due', () => {
  const r = { beforeDays: [3, 7], afterDays: [1, 7, 14] };
  const issued = Date.parse('2026-12-01T09:00:00Z');
  const due = issued + 30 * DAY;
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due - 8 * DAY, r), null);
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due - 7 * DAY, r), 'before-7');
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due - 2 * DAY, r), 'before-3');
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due + 1000, r), null, 'due today, not yet a day late');
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due + DAY, r), 'after-1');
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due + 10 * DAY, r), 'after-7');
  assert.is(reminderStep({ issued_at: issued, due_at: due }, due + 400 * DAY, r), 'after-14');
  assert.is(reminderStep({ issued_at: due - 2 * DAY, due_at: due }, due - DAY, r), null, 'issued 2 days before: no "due in 3 days"');
  assert.is(reminderStep({ issued_at: issued, due_at: null }, due, r), null);
});

test('each step once, the latest only, never for paid, void, draft or credited invoices, only to readers', async () => {
  assert.is(await run('2026-12-08T09:00:00Z'), 0, 'nothing due yet');
  assert.is(await run('2026-12-10T10:00:00Z'), 1, 'B: a day late');
  assert.equal(await steps('B'), ['after-1']);
  assert.is(await run('2026-12-10T11:00:00Z'), 0, 'not twice');
  // No job ran from 10 Dec to 3 Jan: B's 7-day step passed, its 14-day one is due; A is due in 3 days.
  assert.is(await run('2027-01-03T09:30:00Z'), 2);
  assert.equal(await steps('A'), ['before-3']);
  assert.equal(await steps('B'), ['after-1', 'after-14']);
  for (const key of ['C', 'D', 'E', 'F']) assert.equal(await steps(key), [], `${key}: never reminded`);
  assert.is(await run('2027-01-03T10:00:00Z'), 0);

  const admin = await reminderMails('admin');
  assert.is(admin.length, 3, JSON.stringify(admin.map((m) => m.subject)));
  const before = admin.find((m) => m.subject.includes('is due on'))!;
  assert.ok(before.subject.includes('INV-2026-0001') && before.subject.includes('6 Jan 2027'), before.subject);
  assert.ok(before.text.includes('EUR 100.00'), 'what is to pay');
  const late = admin.filter((m) => m.subject.includes('is overdue'));
  assert.ok(late.every((m) => m.subject.includes('INV-2026-0002') && m.text.includes('was due on 9 Dec 2026')));
  for (const who of ['member', 'viewer', 'staff'] as const) assert.is((await reminderMails(who)).length, 0, `${who} is not reminded`);
  // The link is the invoice in the portal, and nothing else that opens it.
  const link = `${w.app.kernel.config.baseUrl}${base()}/i/${ids.A}`;
  assert.ok(before.text.includes(link), before.text);
  assert.ok(!/\/l\/|token=/.test(before.text), 'no anonymous link');

  // By preference: "off" keeps the notice and sends no mail.
  await w.app.kernel.db('users').where({ id: w.users.admin }).update({ notify_pref: 'off' });
  assert.is(await run('2027-01-07T10:00:00Z'), 1, 'A: a day late');
  assert.equal(await steps('A'), ['before-3', 'after-1']);
  assert.is((await reminderMails('admin')).length, 3, 'no mail');
  const notices = (await w.app.kernel.db('notifications').where({ user_id: w.users.admin, kind: 'invoices.reminder' }).pluck('subject')) as string[];
  assert.is(notices.length, 4);
  assert.is((await w.app.kernel.db('notifications').where({ kind: 'invoices.reminder' }).whereNot({ user_id: w.users.admin }).count({ n: '*' }).first().then((r) => Number((r as { n: number | string }).n))), 0, 'to the reader only');

  // Audited on the invoice, with a sentence.
  const n = await w.app.kernel.db('audit_events').where({ action: 'invoices.invoice.remind' }).count({ n: '*' }).first();
  assert.is(Number((n as { n: number | string }).n), 4);
});

test('the mail link: someone signed out signs in, then lands on the invoice', async () => {
  const path = `${base()}/i/${ids.A}`;
  const c = w.app.client();
  const first = await c.get(path);
  assert.is(first.status, 302);
  assert.is(first.location, `/login?next=${encodeURIComponent(path)}`);
  assert.ok(!first.text.includes('EUR 100.00'), 'no amount before signing in');
  await c.get(first.location!);
  const signedIn = await c.postForm('/login', { email: w.emails.admin, password: 'invoices-test-password-123', next: path });
  assert.is(signedIn.status, 303);
  assert.is(signedIn.location, path);
  const page = decode((await c.get(path)).text);
  assert.ok(page.includes('Invoice INV-2026-0001'));
  assert.ok(page.includes('Overdue'));
});

test.run();
