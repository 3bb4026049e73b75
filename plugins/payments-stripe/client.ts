// The official Stripe client, made once from the settings and imported only when first needed
// (it is a large package: start-up and CLI commands should not pay for it). `apiBase` (tests)
// points it at another host, port and protocol; otherwise it talks to api.stripe.com.
import type Stripe from 'stripe';
import type { StripeSettings } from './settings.ts';

export type StripeClient = Stripe;

/** One client per settings object: the provider (register) and the webhook (routes) share it. */
const clients = new WeakMap<StripeSettings, () => Promise<Stripe>>();

export function stripeClient(settings: StripeSettings): () => Promise<Stripe> {
  const known = clients.get(settings);
  if (known) return known;
  let made: Promise<Stripe> | undefined;
  const get = () =>
    (made ??= import('stripe').then(({ default: StripeCtor }) => {
      const at = settings.apiBase ? new URL(settings.apiBase) : undefined;
      return new StripeCtor(settings.secretKey, {
        maxNetworkRetries: 2,
        timeout: 20_000,
        telemetry: false,
        appInfo: { name: 'Atrium' },
        ...(at ? { host: at.hostname, port: at.port || (at.protocol === 'https:' ? 443 : 80), protocol: at.protocol === 'https:' ? 'https' : 'http' } : {}),
      });
    }));
  clients.set(settings, get);
  return get;
}
