// Stripe as a payment provider (core/payments.ts): a Checkout Session for exactly the amount the
// payable side computed, in its currency, with the payable's reference and workspace in the
// session's metadata (they come back in the signed webhook). The attempt id is the idempotency
// key, so a retried request never opens two sessions.
import type { CheckoutRequest, CheckoutStarted, PaymentProvider } from '../../core/index.ts';
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
  };
}
