// Plugin `payments-stripe`: clients pay invoices by card (and whatever the firm's Stripe account
// offers) on Stripe Checkout. A payment provider for the kernel's contract (core/payments.ts):
// it starts a Checkout Session for the amount the invoices plugin computed, and turns Stripe's
// signed webhook into payments.confirm / payments.ended. Disabled by default; needs `invoices`
// (the only payable kind today) and the firm's choice per workspace (/w/<slug>/invoices/payment-methods).
//   settings.ts  keys (from the configuration)   client.ts    the official client, lazily
//   provider.ts  startCheckout                   webhook.ts   the signed events, idempotent
//   doctor.ts    test keys in production
import { definePlugin, Tokens } from '../../core/index.ts';
import { settingsSchema, type StripeSettings } from './settings.ts';
import { stripeClient } from './client.ts';
import { stripeProvider } from './provider.ts';
import { webhookHandler } from './webhook.ts';
import { stripeDoctor } from './doctor.ts';

export default definePlugin<StripeSettings>({
  id: 'payments-stripe',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'Online payment of invoices by card through Stripe Checkout.',
  requires: ['invoices'],
  migrations: new URL('./migrations', import.meta.url),
  settings: settingsSchema,
  doctor: (ctx) => stripeDoctor(ctx),

  register(ctx) {
    const client = stripeClient(ctx.settings);
    ctx.container.resolve(Tokens.Payments).registerProvider('payments-stripe', stripeProvider(ctx.settings.label, client));
  },

  routes({ webhook }, ctx) {
    // POST /hooks/payments-stripe/webhook: the endpoint to give Stripe (Developers → Webhooks).
    webhook.post('/webhook', webhookHandler({
      db: ctx.db,
      payments: ctx.container.resolve(Tokens.Payments),
      client: stripeClient(ctx.settings),
      webhookSecret: ctx.settings.webhookSecret,
      clock: ctx.container.resolve(Tokens.Clock),
      logger: ctx.logger,
    }));
  },
});
