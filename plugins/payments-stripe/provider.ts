// Stripe as a payment provider (core/payments.ts): a Checkout Session for exactly the amount the
// payable side computed, in its currency, with the payable's reference and workspace in the
// session's metadata (they come back in the signed webhook). The attempt id is the idempotency
// key, so a retried request never opens two sessions. A refund goes back on the session's
// PaymentIntent, with its own idempotency key.
import type { CheckoutRequest, CheckoutStarted, PaymentProvider, RefundRequest } from '../../core/index.ts';
import type Stripe from 'stripe';

/** Stripe's three-decimal currencies: it takes them in thousandths, but only in tens. */
const THREE_DECIMALS = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

export const PROVIDER_ID = 'stripe';

export function stripeProvider(label: string, client: () => Promise<Stripe>): PaymentProvider {
  return {
    id: PROVIDER_ID,
    label,
    async startCheckout(req: CheckoutRequest): Promise<CheckoutStarted> {
      if (THREE_DECIMALS.has(req.currency) && req.amountMinor % 10 !== 0) throw new Error(`Stripe takes ${req.currency} amounts in steps of 0.010`);
      const metadata = { payable_ref: req.payableRef, workspace_id: req.workspace.id, attempt_id: req.attemptId };
      const stripe = await client();
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [{ quantity: 1, price_data: { currency: req.currency.toLowerCase(), unit_amount: req.amountMinor, product_data: { name: req.description.slice(0, 250) } } }],
          success_url: req.successUrl,
          cancel_url: req.cancelUrl,
          client_reference_id: req.attemptId,
          ...(req.customerEmail ? { customer_email: req.customerEmail } : {}),
          metadata,
          payment_intent_data: { metadata },
        },
        { idempotencyKey: `atrium-checkout-${req.attemptId}` },
      );
      if (!session.url) throw new Error('Stripe returned a session without a url');
      return { url: session.url, providerRef: session.id };
    },
    /** Give back (part of) what a Checkout Session took: a Refund on its PaymentIntent. */
    async refund(req: RefundRequest): Promise<{ providerRef: string }> {
      const stripe = await client();
      const session = await stripe.checkout.sessions.retrieve(req.providerRef);
      const intent = typeof session.payment_intent === 'string' ? session.payment_intent : session.payment_intent?.id;
      if (!intent) throw new Error('the Checkout Session has no payment to refund');
      if (String(session.currency ?? '').toUpperCase() !== req.currency) throw new Error('the refund currency differs from the payment’s');
      const refund = await stripe.refunds.create({ payment_intent: intent, amount: req.amountMinor, metadata: { attempt_id: req.attemptId } }, { idempotencyKey: `atrium-refund-${req.attemptId}` });
      if (refund.status === 'failed' || refund.status === 'canceled') throw new Error(`Stripe refund ${refund.status}`);
      return { providerRef: refund.id };
    },
  };
}
