// The client's invoice list: status and period filters (presets or two days, by issue date, in the
// reader's time zone), what is outstanding and overdue by currency on top, pages, an empty state that
// says what to expect; receipts on the invoice page. And a firm's custom "Billing" role made at
// /admin/roles with `read Invoice`: its member gets the menu, the list and the amounts, while a
// plain member sees none of them.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser } from '../../../core/identity/users.ts';
import { decode, invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices list');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;
const ids: Record<string, string> = {};

test.before(async () => {
  w = await invoicesWorld({ settings: { pageSize: 5 } });
  // Eight issued invoices: five in December 2026 (now), two in November, one in 2025; one in USD.
  const make = async (key: string, price: string, issuedAt: string, currency = 'EUR') => {
    const { id } = await newDraft(w, [[`Work ${key}`, '1', price, '0']], { currency });
    assert.is((await issue(w, id!)).status, 303);
    const at = Date.parse(issuedAt);
    await w.app.kernel.db('invoices_invoices').where({ id }).update({ issued_at: at, due_at: at + 30 * 86_400_000 });
    ids[key] = id!;
  };
  for (let i = 1; i <= 5; i++) await make(`dec${i}`, `${i}00.00`, `2026-12-0${i}T10:00:00Z`);
  await make('nov1', '1000.00', '2026-11-02T10:00:00Z');
  await make('nov2', '2000.00', '2026-11-30T23:30:00Z'); // 1 December in Paris
  await make('old', '7.00', '2025-06-01T10:00:00Z', 'USD');
  await newDraft(w, [['A draft', '1', '1.00', '0']]);
});
test.after(async () => {
  await w.app.close();
});

const shown = (html: string) => Object.entries(ids).filter(([, id]) => html.includes(`/invoices/i/${id}"`)).map(([k]) => k).sort();

test('period presets and days: by issue date, drafts left out, totals follow the period', async () => {
  const dec = await w.as.admin.get(`${base()}/?period=this-month`);
  assert.is(dec.status, 200);
  // The reader's zone is the firm's (UTC by default): 23:30 UTC on 30 November is November.
  assert.equal(shown(dec.text), ['dec1', 'dec2', 'dec3', 'dec4', 'dec5']);
  const text = decode(dec.text);
  assert.ok(text.includes('issued from 1 Dec 2026 to 31 Dec 2026'));
  assert.ok(text.includes('EUR 1,500.00'), 'outstanding for the period');
  const nov = await w.as.admin.get(`${base()}/?period=last-month`);
  assert.equal(shown(nov.text), ['nov1', 'nov2']);
  assert.ok(nov.text.includes('EUR 3,000.00'));
  // Every invoice of November is overdue by now (due 30 days after issue, 7 December).
  assert.ok(shown((await w.as.admin.get(`${base()}/?status=overdue&period=last-month`)).text).includes('nov1'));
  const days = await w.as.admin.get(`${base()}/?from=2026-11-30&to=2026-12-01`);
  assert.equal(shown(days.text), ['dec1', 'nov2']);
  assert.ok(days.text.includes('value="2026-11-30"'), 'the days stay in the form');
  const year = await w.as.admin.get(`${base()}/?period=last-year`);
  assert.equal(shown(year.text), ['old']);
  assert.ok(year.text.includes('USD 7.00'));
  // The staff's drafts have no issue date: a period leaves them out.
  assert.not.ok((await w.as.staff.get(`${base()}/?period=this-month&status=draft`)).text.includes('A draft'));
  // Nonsense is no filter, never an error page.
  const junk = await w.as.admin.get(`${base()}/?period=forever&from=2026-13-45&to=x`);
  assert.is(junk.status, 200);
  assert.is(shown(junk.text).length, 5, 'the first page of everything');
});

test('the reader’s own time zone decides which day an invoice was issued on', async () => {
  await w.app.kernel.db('users').where({ id: w.users.admin }).update({ time_zone: 'Europe/Paris' });
  const dec = await w.as.admin.get(`${base()}/?period=this-month`);
  assert.ok(shown(dec.text).includes('nov2'), '00:30 on 1 December in Paris');
  await w.app.kernel.db('users').where({ id: w.users.admin }).update({ time_zone: null });
});

test('pages keep the filters; totals by currency at the top; an empty period says what to expect', async () => {
  const first = await w.as.admin.get(`${base()}/?status=all`);
  assert.is(shown(first.text).length, 5);
  const next = /href="([^"]*page=2[^"]*)"/.exec(decode(first.text));
  assert.ok(next, 'a next page');
  const second = await w.as.admin.get(next![1]!);
  assert.is(shown(second.text).length, 3);
  const paged = decode((await w.as.admin.get(`${base()}/?period=this-year`)).text);
  assert.ok(paged.includes('period=this-year&amp;page=2') || paged.includes('period=this-year&page=2'), 'the period rides along');
  const top = decode(first.text);
  assert.ok(top.includes('EUR 4,500.00'), 'outstanding in EUR');
  assert.ok(top.includes('USD 7.00'), 'and in USD');
  const empty = decode((await w.as.admin.get(`${base()}/?from=2020-01-01&to=2020-01-31`)).text);
  assert.ok(empty.includes('No invoices issued from 1 Jan 2020 to 31 Jan 2020'));
  assert.ok(empty.includes('Invoices show here once they are issued'));
});

test('receipts are listed on the invoice page for the client', async () => {
  await w.as.staff.get(`${base()}/i/${ids.dec1}`);
  const paid = await w.as.staff.postForm(`${base()}/i/${ids.dec1}/payments`, { amount: '40.00', method: 'bank_transfer', reference: 'TRF-77', received: '2026-12-07' });
  assert.is(paid.status, 303);
  const page = await w.as.admin.get(`${base()}/i/${ids.dec1}`);
  assert.ok(page.text.includes('RCT-2026-0001'));
  assert.ok(page.text.includes(paid.location!), 'a link to the receipt');
  assert.ok(page.text.includes('TRF-77'));
});

test('a custom "Billing" role with read Invoice sees the menu, the list and the amounts; a plain member none', async () => {
  const owner = w.app.client();
  assert.is((await owner.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 303);
  await owner.get('/admin/roles');
  const made = await owner.postForm('/admin/roles', { name: 'Billing', permissions: 'read Invoice' });
  assert.is(made.status, 303, made.text.slice(0, 300));
  const role = await w.app.kernel.db('roles').where({ key: 'custom-billing' }).first();
  assert.ok(role);
  const k = w.app.kernel;
  const hash = await k.passwords.hash('billing-password-123');
  await transaction(k.db, async (trx) => {
    const u = await createUser(k, trx, { email: 'bill@acme.example', name: 'Bill Payer', passwordHash: hash, firmRole: null }, { actorId: null });
    await addMember(k, trx, { workspaceId: w.ws.id, userId: u.id, role: 'custom-billing' as never }, { actorId: null });
  });
  const bill = w.app.client();
  assert.is((await bill.login('bill@acme.example', 'billing-password-123')).status, 303);
  const home = await bill.get(`/w/${w.ws.slug}/`);
  assert.ok(home.text.includes(`href="${base()}"`), 'the Invoices menu item');
  const list = decode((await bill.get(`${base()}/`)).text);
  assert.ok(list.includes('EUR 4,460.00'), 'what is outstanding');
  assert.ok(list.includes('INV-2026-'));
  const one = await bill.get(`${base()}/i/${ids.dec2}`);
  assert.is(one.status, 200);
  assert.ok(one.text.includes('EUR 200.00'));
  assert.is((await bill.get(`${base()}/new`)).status, 404, 'reading is not writing');
  assert.is((await bill.get(`${base()}/settings`)).status, 404);
  // The plain member: no menu item, no list, no amount.
  const member = await w.as.member.get(`/w/${w.ws.slug}/`);
  assert.not.ok(member.text.includes(`href="${base()}"`));
  assert.is((await w.as.member.get(`${base()}/`)).status, 404);
  assert.is((await w.as.member.get(`${base()}/i/${ids.dec2}`)).status, 404);
  assert.not.ok(member.text.includes('EUR 200.00'));
  assert.not.ok(member.text.includes('INV-2026-'));
});

test.run();
