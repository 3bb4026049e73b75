// Each workspace's invoice settings: the firm's people set the currency, terms, tax mode and rate,
// notes and terms a new draft in that workspace starts with; an empty field keeps the firm's setting;
// a bad value comes back beside its field with nothing saved; a save is audited; existing drafts
// keep what they were made with; the client's people, even those who read invoices, get 404.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, editorFields, invoicesWorld, newDraft, type World } from './helpers.ts';

const test = suite('invoices settings');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;
const FIELDS = { currency: '', termsDays: '', customDays: '', taxMode: '', defaultTaxRate: '', notes: '', terms: '' };

test.before(async () => {
  w = await invoicesWorld({ settings: { currency: 'EUR', termsDays: 30, defaultTaxRate: 20 } });
});
test.after(async () => {
  await w.app.close();
});

test('the page names the firm’s settings a workspace falls back to; the list links to it', async () => {
  const list = await w.as.staff.get(`${base()}/`);
  assert.ok(list.text.includes(`href="${base()}/settings"`));
  const page = await w.as.staff.get(`${base()}/settings`);
  assert.is(page.status, 200);
  const text = decode(page.text);
  assert.ok(text.includes('The firm’s currency (EUR)'));
  assert.ok(text.includes('The firm’s terms (Net 30 (30 days))'));
  assert.ok(text.includes('the firm’s rate (20%)'));
  // Before any setting, a new draft starts with the firm's.
  const fresh = await w.as.staff.get(`${base()}/new`);
  assert.match(fresh.text, /<option value="EUR" selected>/);
  assert.ok(fresh.text.includes('name="line-0-taxRate" value="20"'));
});

test('a bad value is shown beside its field and nothing is saved', async () => {
  const bad = await w.as.staff.postForm(`${base()}/settings`, { ...FIELDS, termsDays: 'custom', customDays: '400', defaultTaxRate: '120', currency: 'XXX' });
  assert.is(bad.status, 400);
  assert.ok(bad.text.includes('id="currency-error"'));
  const bad2 = await w.as.staff.postForm(`${base()}/settings`, { ...FIELDS, termsDays: 'custom', customDays: '400', defaultTaxRate: '120' });
  assert.is(bad2.status, 400);
  assert.ok(bad2.text.includes('id="customDays-error"'));
  assert.ok(bad2.text.includes('id="defaultTaxRate-error"'));
  assert.ok(bad2.text.includes('value="400"'), 'what was typed comes back');
  assert.is(await w.app.kernel.db('invoices_settings').count({ n: '*' }).first().then((r) => Number((r as { n: number }).n)), 0);
  assert.is(await w.app.kernel.db('audit_events').where({ action: 'invoices.settings.update' }).count({ n: '*' }).first().then((r) => Number((r as { n: number }).n)), 0);
});

test('saved settings are what a new draft starts with; existing drafts keep theirs', async () => {
  const { id: before } = await newDraft(w, [['Made before', '1', '100.00', '20']]);
  const ok = await w.as.staff.postForm(`${base()}/settings`, { ...FIELDS, currency: 'GBP', termsDays: 'custom', customDays: '45', taxMode: 'inclusive', defaultTaxRate: '17.5', notes: 'Thank you for your custom.', terms: 'Late payment: 2% a month.' });
  assert.is(ok.status, 303, ok.text.slice(0, 300));
  const audit = await w.app.kernel.db('audit_events').where({ action: 'invoices.settings.update' }).first();
  assert.ok(audit, 'audited');
  assert.is(audit.workspace_id, w.ws.id);
  assert.is(audit.actor_id, w.users.staff);
  const again = await w.as.staff.get(`${base()}/settings`);
  assert.match(again.text, /<option value="GBP" selected>/);
  assert.ok(again.text.includes('value="45"'));
  assert.match(again.text, /<option value="inclusive" selected>/);

  const fresh = await w.as.staff.get(`${base()}/new`);
  assert.match(fresh.text, /<option value="GBP" selected>/);
  assert.match(fresh.text, /<option value="custom" selected>/);
  assert.ok(fresh.text.includes('value="45"'));
  assert.ok(fresh.text.includes('name="line-0-taxRate" value="17.5"'));
  assert.ok(fresh.text.includes('Thank you for your custom.'));
  assert.ok(fresh.text.includes('Late payment: 2% a month.'));
  assert.ok(fresh.text.includes('Unit prices include tax.'));
  // An added row starts with the workspace's rate too.
  const added = await w.as.staff.postForm(`${base()}/new`, editorFields([['Design', '1', '117.50', '17.5']], { currency: 'GBP', intent: 'add' }));
  assert.ok(added.text.includes('name="line-1-taxRate" value="17.5"'));
  // A draft made now is tax inclusive: 117.50 including 17.5% is 100.00 + 17.50.
  const { id } = await newDraft(w, [['Design', '1', '117.50', '17.5']], { currency: 'GBP', termsDays: 'custom', customDays: '45' });
  const row = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(row.tax_mode, 'inclusive');
  assert.is(row.currency, 'GBP');
  assert.is(Number(row.terms_days), 45);
  assert.is(Number(row.total), 11750);
  assert.is(Number(row.tax_total), 1750);
  assert.is((await w.app.kernel.db('invoices_invoices').where({ id: before }).first()).tax_mode, 'exclusive', 'made before: unchanged');
  // Back to the firm's: empty fields.
  assert.is((await w.as.staff.postForm(`${base()}/settings`, FIELDS)).status, 303);
  const reset = await w.as.staff.get(`${base()}/new`);
  assert.match(reset.text, /<option value="EUR" selected>/);
  assert.is(await w.app.kernel.db('invoices_settings').count({ n: '*' }).first().then((r) => Number((r as { n: number }).n)), 1, 'one row per workspace');
});

test('the client’s people get 404, even those who read invoices; without CSRF nothing is saved', async () => {
  for (const who of ['admin', 'member', 'viewer'] as const) {
    assert.is((await w.as[who].get(`${base()}/settings`)).status, 404, who);
    assert.is((await w.as[who].postForm(`${base()}/settings`, { ...FIELDS, currency: 'USD' })).status, 404, who);
  }
  assert.not.ok((await w.as.admin.get(`${base()}/`)).text.includes('/invoices/settings'));
  const noCsrf = await w.as.staff.postForm(`${base()}/settings`, { ...FIELDS, currency: 'USD' }, { csrf: false });
  assert.is(noCsrf.status, 403);
  assert.not.ok((await w.as.staff.get(`${base()}/settings`)).text.match(/<option value="USD" selected>/));
});

test.run();
