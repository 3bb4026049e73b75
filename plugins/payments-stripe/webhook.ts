// POST /hooks/payments-stripe/webhook: Stripe's events, on the kernel's raw-body route
// (core/http/webhooks.ts), so the signature is checked over the exact bytes Stripe sent.
//   1. `stripe.webhooks.constructEvent` with a 300 s tolerance: a bad signature, or one older
//      than five minutes (a replay of a captured request), is 400 and nothing else happens.
//   2. An event id already processed is answered 200 at once (Stripe delivers at least once).
//   3. checkout.session.completed / async_payment_succeeded with payment_status "paid": the
//      kernel's payments.confirm, which checks amount and currency against the checkout and the
//      invoice and records the payment once (unique on the session id, so a different event for
//      the same session changes nothing either). expired / async_payment_failed: payments.ended,
//      which closes a checkout only while it is still open. Other types are acknowledged.
//   4. The event id is stored with what was done. A failure before that (the database) is 500,
//      and Stripe's retry starts again at 1.
// Business refusals (amount, currency, unknown invoice) are 200: retrying cannot change them,
// and they are logged and audited by the invoices side for the firm to refund.
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import type { Db, PaymentRegistry } from '../../core/index.ts';
import { PROVIDER_ID } from './provider.ts';

/** Stripe's own default, stated: a signed request older than this is refused. */
export const TOLERANCE_SECONDS = 300;

export interface WebhookDeps {
  db: Db;
  payments: PaymentRegistry;
  client: () => Promise<Stripe>;
  webhookSecret: string;
  clock: { now(): number };
  logger: Logger;
}

type Session = { id: string; amount_total: number | null; currency: string | null; payment_status: string; metadata: Record<string, string> | null };

export function webhookHandler(deps: WebhookDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const stripe = await deps.client();
    const signature = req.get('stripe-signature') ?? '';
    let event: Stripe.Event;
    try {
      event = stripe.webhooks.constructEvent(req.body as Buffer, signature, deps.webhookSecret, TOLERANCE_SECONDS);
    } catch (err) {
      // The reason in a few words (no payload, no header, never the secret).
      const why = /timestamp outside the tolerance/i.test((err as Error).message) ? 'stale timestamp' : /no signatures found/i.test((err as Error).message) ? 'no matching signature' : 'unreadable signature or body';
      req.ctx.log.warn({ why, bytes: (req.body as Buffer).length }, 'stripe webhook refused');
      res.status(400).json({ error: 'signature' });
      return;
    }
    if (await deps.db('payments_stripe_events').where({ event_id: event.id }).first('event_id')) {
      req.ctx.log.info({ eventId: event.id, type: event.type }, 'stripe event already processed');
      res.json({ received: true, duplicate: true });
      return;
    }
    let outcome: string;
    const session = event.data.object as unknown as Session;
    const common = () => ({
      provider: PROVIDER_ID,
      providerRef: String(session.id),
      eventId: event.id,
      payableRef: String(session.metadata?.payable_ref ?? ''),
      workspaceId: String(session.metadata?.workspace_id ?? ''),
      actor: req.ctx.actor(),
    });
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        if (session.payment_status !== 'paid') {
          outcome = 'pending'; // a bank debit still clearing: async_payment_succeeded follows
          break;
        }
        const r = await deps.payments.confirm({ ...common(), amountMinor: Number(session.amount_total), currency: String(session.currency ?? '').toUpperCase() });
        outcome = r.outcome === 'refused' ? `refused:${r.reason}` : r.outcome;
        break;
      }
      case 'checkout.session.expired':
      case 'checkout.session.async_payment_failed':
        await deps.payments.ended(common());
        outcome = 'ended';
        break;
      default:
        outcome = 'ignored';
    }
    await deps.db('payments_stripe_events').insert({ event_id: event.id, type: event.type.slice(0, 100), outcome, received_at: deps.clock.now() }).onConflict('event_id').ignore();
    req.ctx.log.info({ eventId: event.id, type: event.type, outcome }, 'stripe event processed');
    res.json({ received: true });
  };
}
