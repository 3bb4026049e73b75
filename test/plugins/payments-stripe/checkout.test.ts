// Paying an invoice online with payments-stripe, through the real `stripe` client against a fake
// Stripe API on 127.0.0.1 (fake-stripe.ts): the firm chooses per workspace; the Pay button's
// amount is the server's (a tampered field is refused, nothing started); a role without
// `read Invoice` can neither start nor see a checkout; the fake checkout page's Pay button sends
// the signed webhook and returns the person to a page that shows the receipt, exactly as a
// manual payment gets one; staff refund it through Stripe (once); Cancel leads to a plain page
// saying nothing was charged.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decode } from '../invoices/helpers.ts';
import { allowStripe, count, issued, SECRET_KEY, startPay, stripeWorld, type StripeWorld } from './helpers.ts';

const test = suite('payments-stripe checkout');
let w: StripeWorld;
const base = () => `/w/${w.ws.slug}/invoices`;

test.before(async () => {
  w = await stripeWorld();
});
test.after(async () => {
  await w.close();
});

test('a workspace that does not allow Stripe shows no Stripe button and refuses the POST', async () => {
  const id = await issued(w);
  const page = await w.as.admin.get(`${base()}/i/${id}`);
  assert.is(page.status, 200);
  assert.not.ok(page.text.includes('Pay with'), 'no Pay button');
  const { res, row } = await startPay(w, id);
  assert.is(res.status, 404);
  assert.is(row, undefined);
  assert.is(w.fake.calls.length, 0, 'Stripe was never called');
});

test('the firm chooses the providers per workspace on a staff page; clients cannot reach it', async () => {
  const page = await w.as.staff.get(`${base()}/payment-methods`);
  assert.is(page.status, 200);
  assert.ok(page.text.includes('Card (Stripe)'));
  assert.ok(decode(page.text).includes('IBAN: GB33'), 'bank transfer details are always shown');
  assert.is((await w.as.admin.get(`${base()}/payment-methods`)).status, 404);
  assert.is((await w.as.admin.postForm(`${base()}/payment-methods`, { providers: 'stripe' })).status, 404);
  assert.is(await count(w, 'invoices_payment_methods'), 0);
  assert.is((await w.as.staff.postForm(`${base()}/payment-methods`, { providers: 'paypal' })).status, 400, 'an unknown provider is refused');
  const saved = await allowStripe(w);
  assert.is(saved.status, 303);
  assert.is(await count(w, 'invoices_payment_methods', { workspace_id: w.ws.id, provider: 'stripe' }), 1);
  assert.is(await count(w, 'audit_events', { action: 'invoices.paymentMethods.update' }), 1);
  assert.is((await allowStripe(w)).status, 303);
  assert.is(await count(w, 'audit_events', { action: 'invoices.paymentMethods.update' }), 1, 'saving the same choice changes nothing');
});

test('the amount comes from the server: a tampered field is refused and nothing is started', async () => {
  const id = await issued(w, [['Design', '2', '150.00', '20']]);
  const page = await w.as.admin.get(`${base()}/i/${id}`);
  assert.ok(page.text.includes('Pay with Card (Stripe)'));
  assert.ok(page.text.includes('EUR 360.00'));
  assert.not.ok(page.text.includes('name="amount"'), 'the Pay form carries no amount');
  const before = w.fake.calls.length;
  const tampered = await w.as.admin.postForm(`${base()}/i/${id}/pay`, { provider: 'stripe', amount: '1', currency: 'JPY' });
  assert.is(tampered.status, 400);
  assert.is(w.fake.calls.length, before, 'Stripe was never called');
  assert.is(await count(w, 'invoices_checkouts', { invoice_id: id }), 0);

  const { res, row, session } = await startPay(w, id);
  assert.is(res.status, 303);
  assert.match(res.location!, new RegExp(`/invoices/i/${id}/checkout/[0-9a-f-]{36}$`));
  const call = w.fake.calls.at(-1)!;
  assert.is(call.path, '/v1/checkout/sessions');
  assert.ok(call.authorised, 'the secret key reached the fake Stripe as the Bearer token');
  assert.is(call.idempotencyKey, `atrium-checkout-${row.id}`);
  const line = (call.form.line_items as Record<string, { price_data: { unit_amount: string; currency: string } }>)['0']!;
  assert.is(line.price_data.unit_amount, '36000', 'what the server computed');
  assert.is(line.price_data.currency, 'eur');
  assert.equal(call.form.metadata, { payable_ref: `invoices.invoice:${id}`, workspace_id: w.ws.id, attempt_id: row.id });
  assert.is(Number(row.amount), 36000);
  assert.is(row.status, 'open');
  assert.is(await count(w, 'audit_events', { action: 'invoices.invoice.checkout', subject_id: id }), 1);

  // The page between: a link to the provider (a form may not land on another site), in plain words.
  const between = await w.as.admin.get(res.location!);
  assert.is(between.status, 200);
  assert.ok(decode(between.text).includes(`href="${session!.url}"`));
  assert.ok(between.text.includes('Continue to the payment page'));
  assert.is(decode(between.text).split(session!.id).length - 1, 1, 'the provider’s id appears only inside its link');
});

test('paying on the (fake) Stripe page records the payment with a receipt, and the person comes back to it', async () => {
  const id = await issued(w, [['Hosting', '1', '99.00', '0']]);
  const { session } = await startPay(w, id);
  const checkoutPage = await fetch(session!.url);
  const html = await checkoutPage.text();
  assert.ok(html.includes('<button type="submit">Pay</button>'));
  const paid = await fetch(session!.url, { method: 'POST', body: 'card=4242', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
  assert.is(paid.status, 303);
  assert.is(w.fake.deliveries.at(-1)!.status, 200, 'the signed webhook was accepted');
  const inv = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(inv.status, 'paid');
  assert.is(Number(inv.paid_total), 9900);
  const payment = await w.app.kernel.db('invoices_payments').where({ invoice_id: id }).first();
  assert.is(payment.method, 'online');
  assert.is(payment.provider, 'stripe');
  assert.is(payment.provider_ref, session!.id);
  assert.match(String(payment.receipt_number), /^RCT-2026-\d{4}$/);
  const audit = await w.app.kernel.db('audit_events').where({ action: 'invoices.invoice.payOnline', subject_id: id }).first();
  assert.is(audit.actor_id, w.users.admin, 'the person who went to pay');

  // Back from Stripe: the success URL shows the receipt.
  const back = new URL(paid.headers.get('location')!);
  assert.is(back.pathname, `${base()}/i/${id}/checkout/${(await w.app.kernel.db('invoices_checkouts').where({ invoice_id: id }).first()).id}/done`);
  const done = await w.as.admin.get(back.pathname);
  assert.is(done.status, 200);
  assert.ok(done.text.includes('Payment received'));
  assert.ok(done.text.includes(payment.receipt_number));
  const receipt = await w.as.admin.get(`${base()}/i/${id}/receipts/${payment.id}`);
  assert.is(receipt.status, 200);
  assert.ok(receipt.text.includes('Paid online'));
  assert.ok(receipt.text.includes('EUR 99.00'));
  // The invoice has nothing left to pay: no button, and a second press starts nothing.
  assert.not.ok((await w.as.admin.get(`${base()}/i/${id}`)).text.includes('Pay with'));
  const calls = w.fake.calls.length;
  const again = await w.as.admin.postForm(`${base()}/i/${id}/pay`, { provider: 'stripe' });
  assert.is(again.status, 303);
  assert.is(w.fake.calls.length, calls);
  const activity = decode((await w.as.admin.get(`/w/${w.ws.slug}/audit`)).text);
  assert.ok(activity.includes('paid invoice'), 'a sentence on the activity page');
});

test('staff refund an online payment through Stripe: a negative payment with its receipt, once', async () => {
  const id = await issued(w, [['Consulting', '1', '250.00', '0']]);
  const { session } = await startPay(w, id);
  assert.is((await fetch(session!.url, { method: 'POST', body: '', redirect: 'manual' })).status, 303);
  const payment = await w.app.kernel.db('invoices_payments').where({ invoice_id: id }).first();
  const receiptPath = `${base()}/i/${id}/receipts/${payment.id}`;
  assert.not.ok((await w.as.admin.get(receiptPath)).text.includes('Refund through'), 'clients see no refund button');
  assert.is((await w.as.admin.postForm(`${receiptPath}/refund`, {})).status, 404);
  const staffPage = await w.as.staff.get(receiptPath);
  assert.ok(staffPage.text.includes('Refund through Card (Stripe)'));
  assert.is((await w.as.staff.postForm(`${receiptPath}/refund`, { amount: '1' })).status, 400, 'the amount is not the form’s to say');
  assert.is(w.fake.refunds.length, 0);
  const done = await w.as.staff.postForm(`${receiptPath}/refund`, {});
  assert.is(done.status, 303);
  assert.is(w.fake.refunds.length, 1);
  assert.is(w.fake.refunds[0]!.amount, 25000);
  assert.is(w.fake.refunds[0]!.payment_intent, w.fake.sessions.get(session!.id)!.payment_intent);
  const refund = await w.app.kernel.db('invoices_payments').where({ invoice_id: id }).where('amount', '<', 0).first();
  assert.is(Number(refund.amount), -25000);
  assert.is(refund.refund_of, payment.id);
  assert.is(refund.provider_ref, w.fake.refunds[0]!.id);
  assert.match(done.location!, new RegExp(`/receipts/${refund.id}$`));
  const refundReceipt = await w.as.admin.get(done.location!);
  assert.ok(refundReceipt.text.includes('Refund'));
  assert.ok(refundReceipt.text.includes('EUR -250.00'), 'the refunded amount');
  const inv = await w.app.kernel.db('invoices_invoices').where({ id }).first();
  assert.is(Number(inv.paid_total), 0);
  assert.is(inv.status, 'viewed');
  assert.is(await count(w, 'audit_events', { action: 'invoices.invoice.refundOnline', subject_id: id }), 1);
  // Refunded in full: no button, and a second press refunds nothing.
  assert.not.ok((await w.as.staff.get(receiptPath)).text.includes('Refund through'));
  assert.is((await w.as.staff.postForm(`${receiptPath}/refund`, {})).status, 303);
  assert.is(w.fake.refunds.length, 1);
  assert.is(await count(w, 'invoices_payments', { invoice_id: id }), 2);
  // A payment staff recorded by hand is not refunded through a provider.
  await w.as.staff.get(`${base()}/i/${id}`);
  const manual = await w.as.staff.postForm(`${base()}/i/${id}/payments`, { amount: '10.00', method: 'cash', reference: '', received: '2026-12-07' });
  assert.is(manual.status, 303);
  assert.is((await w.as.staff.postForm(`${manual.location}/refund`, {})).status, 404);
});

test('Cancel on the Stripe page leads to a plain page: nothing charged, still to pay', async () => {
  const id = await issued(w, [['Support', '1', '50.00', '0']]);
  const { session, row } = await startPay(w, id);
  const cancel = new URL(session!.cancel_url);
  assert.is(cancel.pathname, `${base()}/i/${id}/checkout/${row.id}/cancelled`);
  const page = await w.as.admin.get(cancel.pathname);
  assert.is(page.status, 200);
  assert.ok(page.text.includes('Nothing was charged'));
  assert.ok(page.text.includes('EUR 50.00'));
  assert.is((await w.app.kernel.db('invoices_checkouts').where({ id: row.id }).first()).status, 'open', 'a GET changes nothing');
});

test('a client role without read Invoice can neither start nor see a checkout, and sees no amount', async () => {
  const id = await issued(w, [['Audit', '1', '700.00', '0']]);
  const { row } = await startPay(w, id);
  const calls = w.fake.calls.length;
  for (const who of ['member', 'viewer'] as const) {
    await w.as[who].get(`/w/${w.ws.slug}/`);
    const res = await w.as[who].postForm(`${base()}/i/${id}/pay`, { provider: 'stripe' });
    assert.is(res.status, 404);
    for (const path of ['', '/done', '/cancelled']) {
      const page = await w.as[who].get(`${base()}/i/${id}/checkout/${row.id}${path}`);
      assert.is(page.status, 404);
      assert.not.ok(page.text.includes('700.00'));
    }
  }
  assert.is(w.fake.calls.length, calls);
  assert.is(await count(w, 'invoices_checkouts', { invoice_id: id }), 1);
});

test('the secret key never reaches a page, a URL or the database', async () => {
  const rows = JSON.stringify(await w.app.kernel.db('invoices_checkouts').select('*')) + JSON.stringify(await w.app.kernel.db('audit_events').select('detail'));
  assert.not.ok(rows.includes(SECRET_KEY));
  for (const s of w.fake.sessions.values()) for (const u of [s.url, s.success_url, s.cancel_url]) assert.not.ok(u.includes(SECRET_KEY) || u.includes('whsec_'), u);
});

test.run();
