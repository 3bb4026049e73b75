// The receivables page, /staff/invoices: per workspace the person works in (as on the staff
// overview: their memberships; owners and admins see every workspace, or only their team's), per
// currency, the open invoices, outstanding, overdue and received this month; totals by currency;
// sortable; paged; a CSV whose text cells cannot run as formulas. Clients get 404. A few queries,
// however many workspaces.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createWorkspace } from '../../../core/identity/users.ts';
import { csvCell, csvNumber } from '../../../plugins/invoices/receivables.ts';
import { download } from '../files/helpers.ts';
import { decode, invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices receivables');
let w: World;
let owner: ReturnType<World['app']['client']>;
const EVIL = '=HYPERLINK("http://evil.example","click")';

test.before(async () => {
  w = await invoicesWorld();
  const k = w.app.kernel;
  // Acme (the staff member's): 1,000 EUR issued and overdue with 400 paid this month, 50 USD open.
  const { id: a1 } = await newDraft(w, [['Retainer', '1', '1000.00', '0']]);
  assert.is((await issue(w, a1!)).status, 303);
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${a1}`);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${a1}/payments`, { amount: '400.00', method: 'bank_transfer', reference: '', received: '2026-12-03' })).status, 303);
  await k.db('invoices_invoices').where({ id: a1 }).update({ due_at: w.clock.now() - 86_400_000 });
  const { id: a2 } = await newDraft(w, [['Licences', '1', '50.00', '0']], { currency: 'USD' });
  assert.is((await issue(w, a2!)).status, 303);
  // A paid-last-month payment does not count as this month.
  const { id: a3 } = await newDraft(w, [['Old work', '1', '10.00', '0']]);
  assert.is((await issue(w, a3!)).status, 303);
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${a3}`);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${a3}/payments`, { amount: '10.00', method: 'cash', reference: '', received: '2026-11-28' })).status, 303);
  // Another client the staff member does not work for, with a name a spreadsheet would run.
  await transaction(k.db, async (trx) => {
    const other = await createWorkspace(k, trx, { name: EVIL, slug: 'other' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: other.id, userId: w.users.admin, role: 'client_admin' as never }, { actorId: null, via: 'cli' });
  });
  owner = w.app.client();
  assert.is((await owner.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 303);
  await owner.get('/w/other/invoices/new');
  const otherDraft = await owner.postForm('/w/other/invoices/new', { currency: 'EUR', termsDays: '30', customDays: '', notes: '', terms: '', intent: 'save', 'line-0-description': 'Other work', 'line-0-quantity': '1', 'line-0-unitPrice': '3000.00', 'line-0-taxRate': '0', 'line-0-discount': '' });
  assert.is(otherDraft.status, 303, otherDraft.text.slice(0, 300));
  const otherId = /\/i\/([0-9a-f-]{36})$/.exec(otherDraft.location!)![1]!;
  await owner.get(`/w/other/invoices/i/${otherId}`);
  assert.is((await owner.postForm(`/w/other/invoices/i/${otherId}/issue`, {})).status, 303);
});
test.after(async () => {
  await w.app.close();
});

test('staff see their workspaces only: outstanding, overdue, received this month, by currency', async () => {
  const page = await w.as.staff.get('/staff/invoices/');
  assert.is(page.status, 200);
  const text = decode(page.text);
  assert.ok(text.includes('Acme Ltd'));
  assert.not.ok(text.includes('HYPERLINK'), 'not their client');
  assert.not.ok(text.includes('EUR 3,000.00'));
  assert.ok(text.includes('EUR 600.00'), 'outstanding');
  assert.ok(text.includes('USD 50.00'));
  assert.ok(text.includes('EUR 400.00'), 'received this month (not the 10.00 of November)');
  assert.ok(text.includes('Received in December 2026'));
  assert.ok(text.includes('href="/w/acme/invoices/?status=overdue"'));
  // The menu item.
  assert.ok((await w.as.staff.get('/staff/')).text.includes('href="/staff/invoices"'));
});

test('owners see every workspace, or only their team’s; columns sort both ways', async () => {
  const all = decode((await owner.get('/staff/invoices/?sort=outstanding&dir=desc')).text);
  assert.ok(all.includes('EUR 3,000.00'));
  const rowsAt = (html: string, s: string) => html.indexOf(`<td class="num" data-label="Outstanding">${s}`);
  assert.ok(rowsAt(all, 'EUR 600.00') > 0 && rowsAt(all, 'USD 50.00') > 0);
  assert.ok(rowsAt(all, 'EUR 3,000.00') > 0 && rowsAt(all, 'EUR 3,000.00') < rowsAt(all, 'EUR 600.00'), 'largest first');
  const asc = decode((await owner.get('/staff/invoices/?sort=outstanding&dir=asc')).text);
  assert.ok(rowsAt(asc, 'USD 50.00') < rowsAt(asc, 'EUR 3,000.00'), 'smallest first');
  assert.match(asc, /aria-sort="ascending"><a href="[^"]*sort=outstanding&dir=desc/);
  const byName = decode((await owner.get('/staff/invoices/?sort=client')).text);
  assert.ok(byName.indexOf('=HYPERLINK') < byName.indexOf('Acme Ltd'), '"=" sorts before "A"');
  const mine = decode((await owner.get('/staff/invoices/?mine=1')).text);
  assert.ok(mine.includes('Nothing owed'), 'the owner is on no team');
  // Totals by currency, across the workspaces shown.
  assert.ok(all.includes('EUR 3,600.00'));
});

test('CSV: the same rows, text cells that start like a formula get an apostrophe', async () => {
  const csv = await download(owner, '/staff/invoices/receivables.csv?sort=client&dir=asc');
  assert.is(csv.status, 200);
  assert.match(csv.headers.get('content-type')!, /^text\/csv; charset=utf-8/);
  assert.match(csv.headers.get('content-disposition')!, /^attachment; filename="Receivables 2026-12-07\.csv"/);
  const lines = csv.body.toString('utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
  assert.is(lines[0], 'Client,Currency,Open invoices,Outstanding,Overdue,Received in December 2026');
  assert.is(lines[1], `"'=HYPERLINK(""http://evil.example"",""click"")",EUR,1,3000.00,0.00,0.00`);
  assert.ok(lines.includes('Acme Ltd,EUR,1,600.00,600.00,400.00'), lines.join('\n'));
  assert.ok(lines.includes('Acme Ltd,USD,1,50.00,0.00,0.00'));
  const staffCsv = (await download(w.as.staff, '/staff/invoices/receivables.csv')).body.toString('utf8');
  assert.not.ok(staffCsv.includes('HYPERLINK'));
  for (const s of ['=1+1', '+1', '-1+2', '@SUM(A1)', '\tx', '\rx']) assert.is(csvCell(s).replace(/^"/, '')[0], "'", JSON.stringify(s));
  assert.is(csvCell('Plain, with comma'), '"Plain, with comma"');
  assert.is(csvNumber('-12.50'), '-12.50', 'an amount stays a number');
  assert.is(csvNumber('-1+2'), "'-1+2");
});

test('clients get 404; a few queries however many workspaces', async () => {
  for (const who of ['admin', 'member', 'viewer'] as const) {
    assert.is((await w.as[who].get('/staff/invoices/')).status, 404, who);
    assert.is((await download(w.as[who], '/staff/invoices/receivables.csv')).status, 404, who);
  }
  const k = w.app.kernel;
  const count = async () => {
    let n = 0;
    const on = (q: { sql: string }) => {
      if (/invoices_/.test(q.sql)) n++;
    };
    k.db.on('query', on);
    await owner.get('/staff/invoices/');
    k.db.off('query', on);
    return n;
  };
  const few = await count();
  await transaction(k.db, async (trx) => {
    for (let i = 0; i < 6; i++) await createWorkspace(k, trx, { name: `Client ${i}`, slug: `client-${i}` }, { actorId: null, via: 'cli' });
  });
  assert.is(await count(), few, 'the same number of invoice queries');
  assert.ok(few <= 3, `${few} queries`);
});

test.run();
