// The Stripe webhook (POST /hooks/payments-stripe/webhook), fed events built from the fake
// Stripe's sessions and signed with the `stripe` library's own test-header helper. Each case
// says what is (not) recorded: a bad signature and a stale timestamp (> 300 s) change nothing; a
// replay, a duplicate delivery and a second event for the same session record nothing twice;
// out-of-order events (expired after completed, completed for an invoice already paid or void)
// change nothing wrongly; an amount or currency that differs from the checkout, or an unknown
// invoice, is refused, logged and audited with nothing recorded. The keys never reach the log.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import pino from 'pino';
import { newId } from '../../../core/ids.ts';
import { allowStripe, count, issued, SECRET_KEY, startPay, stripeWorld, WEBHOOK_SECRET, type StripeWorld } from './helpers.ts';
import type { FakeSession } from './fake-stripe.ts';

const test = suite('payments-stripe webhook');
let w: StripeWorld;
const logs: string[] = [];
const db = () => w.app.kernel.db;

test.before(async () => {
  const stream = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  w = await stripeWorld({ logger: pino({ level: 'debug' }, stream) });
  assert.is((await allowStripe(w)).status, 303);
});
test.after(async () => {
  await w.close();
});

/** An issued invoice with a checkout started by the client admin: its session at the fake. */
async function checkout(lines: Array<[string, string, string, string]> = [['Retainer', '1', '200.00', '0']]): Promise<{ id: string; session: FakeSession; checkoutId: string }> {
  const id = await issued(w, lines);
  const { session, row } = await startPay(w, id);
  assert.ok(session, 'a session at the fake Stripe');
  return { id, session: session!, checkoutId: String(row.id) };
}
const paidSession = (s: FakeSession, over: Partial<FakeSession> = {}): [FakeSession, Partial<FakeSession>] => [s, { status: 'complete', payment_status: 'paid', ...over }];
const payments = (invoiceId: string) => count(w, 'invoices_payments', { invoice_id: invoiceId });
const refusals = (reason: string) => db()('audit_events').where({ action: 'invoices.invoice.paymentRefused' }).then((rows: Array<{ detail: unknown }>) => rows.filter((r) => String(r.detail).includes(`"reason":"${reason}"`)));

test('a bad signature is 400 and nothing is recorded, not even the event id', async () => {
  const { id, session } = await checkout();
  const payload = w.fake.event('checkout.session.completed', ...paidSession(session));
  for (const header of [w.fake.sign(payload, { secret: 'whsec_notTheRightSecret000' }), '', 't=123,v1=deadbeef', w.fake.sign(payload.replace('"paid"', '"paid" '))]) {
    const r = await w.fake.deliver(payload, header);
    assert.is(r.status, 400, header);
  }
  // The signature covers the exact bytes: the same event with one byte changed is refused.
  const signed = w.fake.sign(payload);
  assert.is((await w.fake.deliver(payload.replace('"amount_total":20000', '"amount_total":20001'), signed)).status, 400);
  assert.is(await payments(id), 0);
  assert.is(await count(w, 'payments_stripe_events'), 0);
  assert.is((await db()('invoices_invoices').where({ id }).first()).status, 'viewed');
});

test('a stale timestamp (more than 300 s old) is 400 and nothing is recorded; within 300 s is accepted', async () => {
  const { id, session } = await checkout();
  const payload = w.fake.event('checkout.session.completed', ...paidSession(session));
  const now = Math.floor(Date.now() / 1000);
  assert.is((await w.fake.deliver(payload, w.fake.sign(payload, { timestamp: now - 301 }))).status, 400);
  assert.is(await payments(id), 0);
  assert.is(await count(w, 'payments_stripe_events'), 0);
  assert.is((await w.fake.deliver(payload, w.fake.sign(payload, { timestamp: now - 240 }))).status, 200);
  assert.is(await payments(id), 1);
});

test('a replay, a duplicate delivery and a second event for the same session record nothing twice', async () => {
  const { id, session, checkoutId } = await checkout([['Project', '3', '100.00', '20']]);
  const payload = w.fake.event('checkout.session.completed', ...paidSession(session));
  const header = w.fake.sign(payload);
  const first = await w.fake.deliver(payload, header);
  assert.is(first.status, 200);
  const inv = await db()('invoices_invoices').where({ id }).first();
  assert.is(inv.status, 'paid');
  assert.is(Number(inv.paid_total), 36000);
  const receipts = Number((await db()('invoices_series').where('key', 'like', 'RCT-%').first()).last);
  // The same bytes and header again (a replay within the tolerance), and the same event signed anew (Stripe's retry).
  assert.is((await w.fake.deliver(payload, header)).status, 200);
  assert.is((await w.fake.deliver(payload)).status, 200);
  // Another event id for the same session (async_payment_succeeded after completed).
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.async_payment_succeeded', ...paidSession(session)))).status, 200);
  assert.is(await payments(id), 1);
  assert.is(Number((await db()('invoices_invoices').where({ id }).first()).paid_total), 36000);
  assert.is(Number((await db()('invoices_series').where('key', 'like', 'RCT-%').first()).last), receipts, 'no receipt number taken twice');
  assert.is((await db()('invoices_checkouts').where({ id: checkoutId }).first()).status, 'paid');
  const outcomes = (await db()('payments_stripe_events').orderBy('received_at').pluck('outcome')) as string[];
  assert.ok(outcomes.includes('duplicate'), outcomes.join(','));
});

test('two deliveries of a fresh event at once record one payment', async () => {
  const { id, session } = await checkout();
  const a = w.fake.event('checkout.session.completed', ...paidSession(session));
  const b = w.fake.event('checkout.session.completed', ...paidSession(session));
  const r = await Promise.all([w.fake.deliver(a), w.fake.deliver(b), w.fake.deliver(a)]);
  assert.equal(r.map((x) => x.status), [200, 200, 200]);
  assert.is(await payments(id), 1);
});

test('out of order: expired after completed changes nothing; completed after expired still records the money taken', async () => {
  const { id, session, checkoutId } = await checkout();
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(session)))).status, 200);
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.expired', session, { status: 'expired' }))).status, 200);
  assert.is((await db()('invoices_checkouts').where({ id: checkoutId }).first()).status, 'paid');
  assert.is(await payments(id), 1);
  assert.is((await db()('invoices_invoices').where({ id }).first()).status, 'paid');

  const other = await checkout();
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.expired', other.session, { status: 'expired' }))).status, 200);
  assert.is((await db()('invoices_checkouts').where({ id: other.checkoutId }).first()).status, 'expired');
  assert.is(await count(w, 'audit_events', { action: 'invoices.invoice.checkoutEnded', subject_id: other.id }), 1);
  // A page that expired cannot take money at Stripe; if a completion arrives anyway, it is recorded.
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(other.session)))).status, 200);
  assert.is(await payments(other.id), 1);
  assert.is((await db()('invoices_checkouts').where({ id: other.checkoutId }).first()).status, 'paid');
});

test('completed for an invoice already paid (by bank transfer) or void: refused, audited, nothing recorded', async () => {
  const { id, session } = await checkout([['Workshop', '1', '400.00', '0']]);
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${id}`);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${id}/payments`, { amount: '400.00', method: 'bank_transfer', reference: 'TRF-9', received: '2026-12-07' })).status, 303);
  const before = (await refusals('not_payable')).length;
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(session)))).status, 200);
  assert.is(await payments(id), 1, 'only the bank transfer');
  assert.is((await refusals('not_payable')).length, before + 1);
  assert.ok(logs.some((l) => l.includes('online payment refused') && l.includes('not_payable')));

  const v = await checkout([['Cancelled work', '1', '80.00', '0']]);
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${v.id}`);
  assert.is((await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${v.id}/void`, { reason: 'Raised in error' })).status, 303);
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(v.session)))).status, 200);
  assert.is(await payments(v.id), 0);
  assert.is((await db()('invoices_invoices').where({ id: v.id }).first()).status, 'void');
  assert.is((await refusals('not_payable')).length, before + 2);
});

test('an amount or a currency that differs from the checkout is refused, logged and audited; nothing recorded', async () => {
  const { id, session } = await checkout([['Licences', '4', '25.00', '0']]);
  for (const [over, reason] of [[{ amount_total: 9999 }, 'amount_mismatch'], [{ amount_total: 10001 }, 'amount_mismatch'], [{ currency: 'usd' }, 'currency_mismatch']] as const) {
    const before = (await refusals(reason)).length;
    const r = await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(session, over)));
    assert.is(r.status, 200, 'acknowledged: retrying cannot change it');
    assert.is(await payments(id), 0);
    const audited = await refusals(reason);
    assert.is(audited.length, before + 1, reason);
    assert.ok(logs.some((l) => l.includes(reason)));
  }
  const row = (await refusals('amount_mismatch'))[0] as unknown as { workspace_id: string; subject_id: string };
  assert.is(row.workspace_id, w.ws.id);
  assert.is(row.subject_id, id);
  assert.is((await db()('invoices_invoices').where({ id }).first()).status, 'viewed');
  // The right amount afterwards is recorded once.
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(session)))).status, 200);
  assert.is(await payments(id), 1);
});

test('an unknown invoice, another workspace, or a session we never started: refused, audited, nothing recorded', async () => {
  const { id, session } = await checkout();
  const total = await count(w, 'invoices_payments');
  const cases: Array<[Partial<FakeSession>, string]> = [
    [{ metadata: { ...session.metadata, payable_ref: `invoices.invoice:${newId()}` } }, 'unknown_payable'],
    [{ metadata: { ...session.metadata, workspace_id: newId() } }, 'unknown_payable'],
    [{ id: 'cs_test_neverstarted000000' }, 'unknown_checkout'],
  ];
  for (const [over, reason] of cases) {
    const before = (await refusals(reason)).length;
    assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(session, over)))).status, 200);
    assert.is((await refusals(reason)).length, before + 1, reason);
  }
  // A reference that names no payable kind at all: acknowledged, nothing recorded.
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', ...paidSession(session, { metadata: {} })))).status, 200);
  assert.is(await count(w, 'invoices_payments'), total);
  assert.is(await payments(id), 0);
  const unknown = (await refusals('unknown_payable'))[0] as unknown as { workspace_id: string | null; subject_id: string | null };
  assert.is(unknown.workspace_id, null, 'no workspace is named for an invoice we do not know');
});

test('other event types are acknowledged and change nothing; the keys never reach the log', async () => {
  const { id, session } = await checkout();
  assert.is((await w.fake.deliver(w.fake.event('payment_intent.created', session))).status, 200);
  // An unpaid completion (a bank debit still clearing) records nothing yet.
  assert.is((await w.fake.deliver(w.fake.event('checkout.session.completed', session, { status: 'complete', payment_status: 'unpaid' }))).status, 200);
  assert.is(await payments(id), 0);
  const all = logs.join('\n');
  assert.ok(all.includes('stripe webhook refused'), 'refusals are logged');
  assert.not.ok(all.includes(SECRET_KEY), 'never the secret key');
  assert.not.ok(all.includes(WEBHOOK_SECRET), 'never the signing secret');
});

test.run();
