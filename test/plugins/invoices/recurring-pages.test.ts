// The recurring invoice pages (staff only): a template made in the editor (errors beside their
// fields, nothing saved), its schedule and next date in the list and on its page, edited, paused
// and resumed, each audited with a sentence; a period's draft shows under "Invoices made" and is
// not the client's to see; client roles get 404 everywhere.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import type { InvoicesDeps } from '../../../plugins/invoices/service.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { runRecurring } from '../../../plugins/invoices/recurring.ts';
import { decode, invoicesWorld, type World } from './helpers.ts';

const test = suite('invoices recurring pages');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices/recurring`;

test.before(async () => {
  w = await invoicesWorld();
});
test.after(async () => {
  await w.app.close();
});

const fields = (extra: Record<string, string> = {}) => ({
  name: 'Managed IT retainer',
  frequency: 'monthly',
  dayOfMonth: '31',
  startMonth: '2026-12',
  autoSend: 'no',
  currency: 'EUR',
  termsDays: '15',
  customDays: '',
  notes: 'Retainer for {period}.',
  terms: '',
  intent: 'save',
  'line-0-description': 'Retainer, {period}',
  'line-0-quantity': '1',
  'line-0-unitPrice': '2500.00',
  'line-0-taxRate': '20',
  'line-0-discount': '',
  ...extra,
});

test('staff make, edit, pause and resume a recurring invoice; client roles get 404', async () => {
  const empty = await w.as.staff.get(`${base()}`);
  assert.is(empty.status, 200);
  assert.ok(empty.text.includes('No recurring invoices yet'));
  assert.ok((await w.as.staff.get(`/w/${w.ws.slug}/invoices/`)).text.includes(`href="/w/${w.ws.slug}/invoices/recurring"`), 'linked from the list');
  assert.is((await w.as.staff.get(`${base()}/new`)).status, 200);

  // Errors beside their fields, nothing saved.
  const bad = await w.as.staff.postForm(`${base()}/new`, fields({ name: '', dayOfMonth: '32', startMonth: '2026-13', 'line-0-unitPrice': '1.234' }));
  assert.is(bad.status, 400);
  for (const f of ['name', 'dayOfMonth', 'startMonth', 'line-0-unitPrice']) assert.ok(bad.text.includes(`id="${f}-error"`), f);
  const noLines = await w.as.staff.postForm(`${base()}/new`, fields({ 'line-0-description': '', 'line-0-unitPrice': '' }));
  assert.is(noLines.status, 400);
  assert.ok(decode(noLines.text).includes('Add at least one line'));
  const added = await w.as.staff.postForm(`${base()}/new`, fields({ intent: 'add' }));
  assert.is(added.status, 200);
  assert.ok(added.text.includes('name="line-1-description"'));
  assert.ok(added.text.includes('EUR 3,000.00'), 'totals on the server');
  assert.is(Number(((await w.app.kernel.db('invoices_templates').count({ n: '*' }).first()) as { n: number | string }).n), 0);

  const made = await w.as.staff.postForm(`${base()}/new`, fields());
  assert.is(made.status, 303, made.text.slice(0, 500));
  const id = /recurring\/([0-9a-f-]{36})$/.exec(made.location ?? '')![1]!;
  const page = decode((await w.as.staff.get(made.location!)).text);
  assert.ok(page.includes('Thu, 31 December 2026'), 'the next date');
  assert.ok(page.includes('Sun, 31 January 2027'), 'and the one after');
  assert.ok(page.includes('value="Retainer, {period}"'));
  const list = decode((await w.as.staff.get(base())).text);
  assert.ok(list.includes('Managed IT retainer'));
  assert.ok(list.includes('Every month, on the 31st (the last day in shorter months)'));
  assert.ok(list.includes('EUR 3,000.00'));
  assert.ok(list.includes('A draft to check'));

  // Edited: the 15th, sent automatically.
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/recurring/${id}`, fields({ dayOfMonth: '15', autoSend: 'yes' }))).status, 303);
  const edited = decode((await w.as.staff.get(`${base()}/${id}`)).text);
  assert.ok(edited.includes('Tue, 15 December 2026'), 'next date from the new day');
  assert.ok(decode((await w.as.staff.get(base())).text).includes('Issued automatically'));

  // Paused and resumed.
  assert.is((await w.as.staff.postForm(`${base()}/${id}/pause`, {})).status, 303);
  assert.is((await w.app.kernel.db('invoices_templates').where({ id }).first('status')).status, 'paused');
  assert.ok(decode((await w.as.staff.get(base())).text).includes('None while paused'));
  assert.ok(decode((await w.as.staff.get(`${base()}/${id}`)).text).includes('Resume'));
  assert.is((await w.as.staff.postForm(`${base()}/${id}/resume`, {})).status, 303);
  assert.is((await w.app.kernel.db('invoices_templates').where({ id }).first('status')).status, 'active');

  // Client roles: 404 on every recurring route, nothing changed.
  for (const who of ['admin', 'member', 'viewer'] as const) {
    assert.is((await w.as[who].get(base())).status, 404, who);
    assert.is((await w.as[who].get(`${base()}/${id}`)).status, 404, who);
    assert.is((await w.as[who].get(`${base()}/new`)).status, 404, who);
    assert.is((await w.as[who].postForm(`${base()}/${id}/pause`, {})).status, 404, who);
    assert.is((await w.as[who].postForm(`${base()}/${id}`, fields({ name: 'Hijacked' }))).status, 404, who);
  }
  assert.is((await w.app.kernel.db('invoices_templates').where({ id }).first('status', 'name')).name, 'Managed IT retainer');

  // Audited, with sentences on the staff's activity page.
  const actions = (await w.app.kernel.db('audit_events').where({ subject_id: id }).orderBy('seq').pluck('action')) as string[];
  assert.equal(actions, ['invoices.template.create', 'invoices.template.update', 'invoices.template.pause', 'invoices.template.resume']);
  const activity = decode((await w.as.staff.get(`/w/${w.ws.slug}/audit`)).text);
  assert.ok(activity.includes('set up the recurring invoice'), 'a sentence');
  assert.ok(!decode((await w.as.admin.get(`/w/${w.ws.slug}/audit`)).text).includes('recurring invoice'), 'not the client’s to read');
});

test('a period made as a draft shows under "Invoices made"; the client neither sees it nor is told', async () => {
  const made = await w.as.staff.postForm(`${base()}/new`, fields({ name: 'Hosting', dayOfMonth: '1', startMonth: '2027-01', 'line-0-description': 'Hosting, {period}' }));
  const id = /recurring\/([0-9a-f-]{36})$/.exec(made.location ?? '')![1]!;
  // Its first period, 1 Jan 2027, made now (the row's date moved, not the clock: sessions stay).
  await w.app.kernel.db('invoices_templates').where({ id }).update({ next_at: w.clock.now() - 1 });
  const k = w.app.kernel;
  const deps: InvoicesDeps = { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock: w.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
  const r = await runRecurring(deps);
  assert.is(r.created, 1);
  assert.is(r.issued, 0);
  const page = decode((await w.as.staff.get(`${base()}/${id}`)).text);
  assert.ok(page.includes('2027-01'));
  assert.ok(page.includes('Draft invoice'));
  const draft = await k.db('invoices_template_runs as r').join('invoices_invoices as i', 'i.id', 'r.invoice_id').where('r.template_id', id).first('i.id', 'i.status', 'i.notes');
  assert.is(draft.status, 'draft');
  assert.is(draft.notes, 'Retainer for January 2027.');
  assert.ok(decode((await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${draft.id}`)).text).includes('Hosting, January 2027'));
  assert.is((await w.as.admin.get(`/w/${w.ws.slug}/invoices/i/${draft.id}`)).status, 404, 'a draft is not the client’s');
  assert.is(Number(((await k.db('notifications').where({ user_id: w.users.admin }).count({ n: '*' }).first()) as { n: number | string }).n), 0);
});

test.run();
