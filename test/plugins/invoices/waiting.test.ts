// "Invoices to pay" (waiting on you): issued, viewed and partly paid invoices for the client's
// people who may read invoices, overdue first; never drafts, paid or void ones; never for the
// firm's staff or for client roles without the grant; the header count follows issue and payment.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices waiting');
let w: World;

test.before(async () => {
  w = await invoicesWorld();
});
test.after(async () => {
  await w.app.close();
});

test('issued invoices wait on the client admin, overdue first; paid and void ones do not', async () => {
  const a = (await newDraft(w, [['First', '1', '10.00', '0']], { termsDays: '30' })).id!;
  const b = (await newDraft(w, [['Second', '1', '20.00', '0']], { termsDays: '0' })).id!;
  const c = (await newDraft(w, [['Third', '1', '30.00', '0']])).id!;
  await newDraft(w, [['Draft', '1', '40.00', '0']]);
  for (const id of [a, b, c]) assert.is((await issue(w, id)).status, 303);
  // b is due on receipt: past due a moment later.
  w.clock.advance(60_000);
  const inbox = (await w.as.admin.get('/inbox')).text;
  const pos = (n: string) => inbox.indexOf(`Invoice ${n}`);
  assert.ok(pos('INV-2026-0002') >= 0 && pos('INV-2026-0001') >= 0 && pos('INV-2026-0003') >= 0, inbox.slice(0, 2000));
  assert.ok(pos('INV-2026-0002') < pos('INV-2026-0001'), 'the overdue one first');
  assert.ok(inbox.includes(`/w/${w.ws.slug}/invoices/i/${b}`));
  for (const who of ['staff', 'member', 'viewer'] as const) assert.ok(!(await w.as[who].get('/inbox')).text.includes('/invoices/i/'), `${who} is not asked to pay`);
  // The staff overview's card lists the overdue one (and only it), for the firm.
  const page = (await w.as.staff.get('/staff/')).text;
  const overview = /id="widget-invoices-overdue"[^]*?<\/section>/.exec(page)?.[0] ?? '';
  assert.ok(overview.includes('Overdue invoices'));
  assert.ok(overview.includes(`/w/${w.ws.slug}/invoices/i/${b}`));
  assert.ok(!overview.includes(`/w/${w.ws.slug}/invoices/i/${a}`));
  // Paid in full and void: no longer waiting.
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${a}`);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${a}/payments`, { amount: '10.00', method: 'bank_transfer', reference: 'x', received: '2026-12-07' })).status, 303);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${c}/void`, { reason: 'Duplicate' })).status, 303);
  const after = (await w.as.admin.get('/inbox')).text;
  assert.ok(after.includes('Invoice INV-2026-0002'));
  assert.ok(!after.includes('Invoice INV-2026-0001'));
  assert.ok(!after.includes('Invoice INV-2026-0003'));
});

test.run();
