// Recurring invoices are made exactly once per period, by two job runners at once (on PostgreSQL
// two kernels with their own pools on one database, as two processes would be; on SQLite two
// runners on the one database), with a test clock across month ends: the 31st is Jan 31, Feb 28
// (29 in a leap year), Mar 31; quarterly and yearly; paused makes none; after downtime each missed
// period is made once; a draft left unissued by a failure is issued by the next run. The same two
// runners send each payment reminder step once.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { transaction } from '../../../core/db/index.ts';
import { ManualClock } from '../../../core/clock.ts';
import { JobRunner } from '../../../core/jobs.ts';
import { createWorkspace } from '../../../core/identity/users.ts';
import type { Kernel } from '../../../core/boot.ts';
import type { InvoicesDeps, Ws } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { createTemplate, runRecurring, setTemplatePaused, type TemplateInput } from '../../../plugins/invoices/recurring.ts';
import { runBillingJobs } from '../../../plugins/invoices/jobs.ts';
import { runReminders } from '../../../plugins/invoices/reminders.ts';
import { createDraft, issueInvoice } from '../../../plugins/invoices/service.ts';
import { firstOnOrAfter, monthOf, periodAt, type Schedule } from '../../../plugins/invoices/schedule.ts';
import { freshDatabase, ON_PG, setupOwner, startApp, type TestApp } from '../../helpers/app.ts';

const test = suite('invoices recurring');
const clock = new ManualClock(Date.parse('2027-01-15T09:00:00.000Z'));
let one: TestApp;
let two: TestApp | undefined;
let ws: Ws;
let a: InvoicesDeps;
let b: InvoicesDeps;
const runnerA = () => new JobRunner(one.kernel.db, clock);
let runners: [JobRunner, JobRunner];

function depsOf(k: Kernel): InvoicesDeps {
  return { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
}

test.before(async () => {
  const db = await freshDatabase();
  one = await startApp({ db, plugins: ['invoices'], clock });
  if (ON_PG) two = await startApp({ db, plugins: ['invoices'], clock });
  await setupOwner(one);
  ws = await transaction(one.kernel.db, async (trx) => {
    const w = await createWorkspace(one.kernel, trx, { name: 'Acme Ltd', slug: 'acme' }, { actorId: null, via: 'cli' });
    return { id: w.id, slug: 'acme', name: 'Acme Ltd' };
  });
  a = depsOf(one.kernel);
  b = two ? depsOf(two.kernel) : a;
  // Two runners, each as a process has one: on PostgreSQL each on its own kernel's pool.
  runners = [runnerA(), new JobRunner((two ?? one).kernel.db, clock)];
});
test.after(async () => {
  await two?.close();
  await one.close();
  await one.db.drop();
});

const at = (iso: string) => Date.parse(iso);
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const template = (name: string, schedule: Schedule, autoSend = true): TemplateInput => ({
  name,
  currency: 'EUR',
  termsDays: 15,
  notes: 'Retainer for {period}.',
  terms: '',
  lines: [{ description: `${name}, {period}`, quantity: 1000, unitPrice: 250_000, taxRate: 2000, discount: 0 }],
  schedule,
  autoSend,
});

/** Both runners at once, through the kernel's job runner (as the bootstrap timer does). */
async function tick(iso: string) {
  clock.set(at(iso));
  await Promise.all([runBillingJobs(runners[0], a, 60_000), runBillingJobs(runners[1], b, 60_000)]);
}

async function invoicesOf(templateId: string) {
  return (await one.kernel.db('invoices_template_runs as r')
    .join('invoices_invoices as i', 'i.id', 'r.invoice_id')
    .where('r.template_id', templateId)
    .orderBy('r.period')
    .select('r.period', 'i.status', 'i.number', 'i.issued_at', 'i.notes', 'i.total')) as Array<{ period: string; status: string; number: string | null; issued_at: number | string | null; notes: string; total: number | string }>;
}

test('the calendar: the 31st is the last day of short months; quarterly and yearly count from the first month', () => {
  const monthly: Schedule = { anchorMonth: monthOf(2027, 0), intervalMonths: 1, dayOfMonth: 31 };
  assert.equal([0, 1, 2, 3].map((i) => utcDay(periodAt(monthly, i).at)), ['2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30']);
  const leap: Schedule = { anchorMonth: monthOf(2028, 0), intervalMonths: 1, dayOfMonth: 31 };
  assert.is(utcDay(periodAt(leap, 1).at), '2028-02-29');
  const quarterly: Schedule = { anchorMonth: monthOf(2027, 0), intervalMonths: 3, dayOfMonth: 31 };
  assert.equal([0, 1, 2, 3, 4].map((i) => utcDay(periodAt(quarterly, i).at)), ['2027-01-31', '2027-04-30', '2027-07-31', '2027-10-31', '2028-01-31']);
  const yearly: Schedule = { anchorMonth: monthOf(2028, 1), intervalMonths: 12, dayOfMonth: 29 };
  assert.equal([0, 1, 2, 3, 4].map((i) => utcDay(periodAt(yearly, i).at)), ['2028-02-29', '2029-02-28', '2030-02-28', '2031-02-28', '2032-02-29']);
  assert.is(periodAt(monthly, 1).key, '2027-02');
  assert.is(periodAt(monthly, 1).label, 'February 2027');
  // The first period from a day: today counts, a day already past does not.
  assert.is(utcDay(firstOnOrAfter(monthly, at('2027-01-31T23:00:00Z')).at), '2027-01-31');
  assert.is(utcDay(firstOnOrAfter(monthly, at('2027-02-01T00:00:00Z')).at), '2027-02-28');
  assert.is(utcDay(firstOnOrAfter(quarterly, at('2027-02-01T00:00:00Z')).at), '2027-04-30');
  assert.is(firstOnOrAfter(monthly, at('2026-06-01T00:00:00Z')).index, 0, 'before the first month: the first period');
});

test('monthly on the 31st with two runners: Jan 31, Feb 28, Mar 31, one invoice each, issued and numbered', async () => {
  clock.set(at('2027-01-15T09:00:00Z'));
  const id = await createTemplate(a, ws, { actorId: null }, template('Managed IT retainer', { anchorMonth: monthOf(2027, 0), intervalMonths: 1, dayOfMonth: 31 }));
  await tick('2027-01-30T23:59:00Z');
  assert.is((await invoicesOf(id)).length, 0, 'not before its day');
  await tick('2027-01-31T00:05:00Z');
  await tick('2027-01-31T12:00:00Z');
  await tick('2027-02-27T12:00:00Z');
  assert.is((await invoicesOf(id)).length, 1);
  await tick('2027-02-28T00:05:00Z');
  await tick('2027-02-28T18:00:00Z');
  await tick('2027-03-30T12:00:00Z');
  await tick('2027-03-31T00:05:00Z');
  await tick('2027-03-31T00:06:00Z');
  const made = await invoicesOf(id);
  assert.equal(made.map((m) => m.period), ['2027-01', '2027-02', '2027-03']);
  assert.equal(made.map((m) => utcDay(Number(m.issued_at))), ['2027-01-31', '2027-02-28', '2027-03-31']);
  assert.ok(made.every((m) => m.status === 'issued'), 'sent automatically');
  assert.equal(made.map((m) => m.number), ['INV-2027-0001', 'INV-2027-0002', 'INV-2027-0003'], 'one number each, no gap');
  assert.equal(made.map((m) => m.notes), ['Retainer for January 2027.', 'Retainer for February 2027.', 'Retainer for March 2027.']);
  const lines = (await one.kernel.db('invoices_lines as l').join('invoices_template_runs as r', 'r.invoice_id', 'l.invoice_id').where('r.template_id', id).orderBy('r.period').pluck('l.description')) as string[];
  assert.equal(lines, ['Managed IT retainer, January 2027', 'Managed IT retainer, February 2027', 'Managed IT retainer, March 2027']);
  assert.is(Number(made[0]!.total), 300_000);
  // Audited with the system as the actor.
  const runs = (await one.kernel.db('audit_events').where({ action: 'invoices.template.run', subject_id: id }).count({ n: '*' }).first()) as { n: number | string };
  assert.is(Number(runs.n), 3);
  await setTemplatePaused(a, ws, { actorId: null }, id, true);
});

test('the data guard alone: both runners straight into the job (no job claim), many times at once, still one per period', async () => {
  clock.set(at('2027-03-31T09:00:00Z'));
  const id = await createTemplate(a, ws, { actorId: null }, template('Hosting', { anchorMonth: monthOf(2027, 3), intervalMonths: 1, dayOfMonth: 30 }, false));
  clock.set(at('2027-04-30T00:01:00Z'));
  await Promise.all([runRecurring(a), runRecurring(b), runRecurring(a), runRecurring(b), runRecurring(a), runRecurring(b)]);
  const made = await invoicesOf(id);
  assert.equal(made.map((m) => m.period), ['2027-04']);
  assert.is(made[0]!.status, 'draft', 'a draft for review, not sent');
  assert.is(made[0]!.number, null);
  // The UNIQUE key itself: a second run row for the period is refused by the database.
  let refused = false;
  try {
    await one.kernel.db('invoices_template_runs').insert({ id: '00000000-0000-7000-8000-000000000001', workspace_id: ws.id, template_id: id, period: '2027-04', invoice_id: null, auto_send: false, created_at: 0 });
  } catch {
    refused = true;
  }
  assert.ok(refused, 'template + period is unique');
  await setTemplatePaused(a, ws, { actorId: null }, id, true);
});

test('quarterly and yearly (Feb 29 in a leap year, Feb 28 after)', async () => {
  clock.set(at('2027-12-01T09:00:00Z'));
  const q = await createTemplate(a, ws, { actorId: null }, template('Quarterly audit', { anchorMonth: monthOf(2028, 0), intervalMonths: 3, dayOfMonth: 31 }));
  const y = await createTemplate(a, ws, { actorId: null }, template('Yearly licence', { anchorMonth: monthOf(2028, 1), intervalMonths: 12, dayOfMonth: 29 }));
  for (const d of ['2028-01-31', '2028-02-28', '2028-02-29', '2028-03-31', '2028-04-30', '2028-07-31', '2028-10-31', '2029-01-31', '2029-02-28', '2029-03-01']) {
    await tick(`${d}T00:10:00Z`);
    await tick(`${d}T00:20:00Z`);
  }
  const quarterly = await invoicesOf(q);
  assert.equal(quarterly.map((m) => utcDay(Number(m.issued_at))), ['2028-01-31', '2028-04-30', '2028-07-31', '2028-10-31', '2029-01-31']);
  const yearly = await invoicesOf(y);
  assert.equal(yearly.map((m) => utcDay(Number(m.issued_at))), ['2028-02-29', '2029-02-28']);
  await setTemplatePaused(a, ws, { actorId: null }, q, true);
  await setTemplatePaused(a, ws, { actorId: null }, y, true);
});

test('paused makes none; resumed skips the paused periods; after downtime each missed period once', async () => {
  clock.set(at('2029-04-01T09:00:00Z'));
  const p = await createTemplate(a, ws, { actorId: null }, template('Paused retainer', { anchorMonth: monthOf(2029, 4), intervalMonths: 1, dayOfMonth: 1 }));
  const c = await createTemplate(a, ws, { actorId: null }, template('Catch-up retainer', { anchorMonth: monthOf(2029, 4), intervalMonths: 1, dayOfMonth: 1 }));
  await setTemplatePaused(a, ws, { actorId: null }, p, true);
  // No runner ran from April to the 2nd of August: May, June, July and August are due.
  await tick('2029-08-02T08:00:00Z');
  assert.is((await invoicesOf(p)).length, 0, 'paused: none');
  const caught = await invoicesOf(c);
  assert.equal(caught.map((m) => m.period), ['2029-05', '2029-06', '2029-07', '2029-08'], 'each missed period once');
  assert.ok(caught.every((m) => m.status === 'issued'));
  await tick('2029-08-02T09:00:00Z');
  assert.is((await invoicesOf(c)).length, 4, 'and never again');
  // Resumed on Aug 2: the paused months are skipped, the next is September.
  await setTemplatePaused(a, ws, { actorId: null }, p, false);
  const row = await one.kernel.db('invoices_templates').where({ id: p }).first('next_at');
  assert.is(utcDay(Number(row.next_at)), '2029-09-01');
  await tick('2029-09-01T00:30:00Z');
  assert.equal((await invoicesOf(p)).map((m) => m.period), ['2029-09']);
  await setTemplatePaused(a, ws, { actorId: null }, p, true);
  await setTemplatePaused(a, ws, { actorId: null }, c, true);
});

test('a draft left unissued by a failure is issued by the next run, once', async () => {
  clock.set(at('2029-09-15T09:00:00Z'));
  const id = await createTemplate(a, ws, { actorId: null }, template('Fragile retainer', { anchorMonth: monthOf(2029, 9), intervalMonths: 1, dayOfMonth: 1 }));
  clock.set(at('2029-10-01T00:30:00Z'));
  const broken = { ...a, storage: { ...a.storage, put: async () => { throw new Error('disk full'); } } } as unknown as InvoicesDeps;
  // The store fails while issuing: the run logs it and goes on.
  const first = await runRecurring(broken);
  assert.equal(first, { created: 1, issued: 0 });
  assert.equal((await invoicesOf(id)).map((m) => m.status), ['draft'], 'the period has its draft');
  clock.set(at('2029-10-01T01:30:00Z'));
  await Promise.all([runRecurring(a), runRecurring(b)]);
  const made = await invoicesOf(id);
  assert.equal(made.map((m) => m.status), ['issued']);
  assert.is(made.length, 1);
});

test('two runners send a reminder step once', async () => {
  clock.set(at('2029-11-02T09:00:00Z'));
  const id = await transaction(a.db, (trx) => createDraft(a, trx, ws, { actorId: null }, { currency: 'EUR', termsDays: 10, notes: '', terms: '', lines: [{ description: 'Work', quantity: 1000, unitPrice: 10_000, taxRate: 0, discount: 0 }] }));
  await issueInvoice(a, ws, { actorId: null }, id);
  // Due 12 Nov; 15 Nov is a day late (and then some): the after-1 step, once, whoever runs.
  await tick('2029-11-15T09:00:00Z');
  await Promise.all([runReminders(a), runReminders(b), runReminders(a), runReminders(b)]);
  await tick('2029-11-15T10:00:00Z');
  const steps = (await one.kernel.db('invoices_reminders').where({ invoice_id: id }).pluck('step')) as string[];
  assert.equal(steps, ['after-1']);
  const audited = (await one.kernel.db('audit_events').where({ action: 'invoices.invoice.remind', subject_id: id }).count({ n: '*' }).first()) as { n: number | string };
  assert.is(Number(audited.n), 1);
});

test.run();
