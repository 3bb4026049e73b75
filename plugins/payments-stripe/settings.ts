// The payments-stripe settings (plugins.settings["payments-stripe"] in the configuration file):
// the two secrets from the Stripe dashboard, and, for tests only, another API address. Keep them
// in a configuration file outside the repository ($ATRIUM_CONFIG from your secret store); they
// are never logged, never put in a URL and never shown on a page.
import { z } from 'zod';

export const settingsSchema = z.strictObject({
  /** The secret API key: `sk_live_…` (or a restricted `rk_live_…`); `sk_test_…` in test mode. */
  secretKey: z.string().regex(/^(sk|rk)_(live|test)_[A-Za-z0-9_]{8,}$/, 'must be a Stripe secret key (sk_live_…, sk_test_… or rk_…)'),
  /** The webhook endpoint's signing secret (`whsec_…`), from Developers → Webhooks. */
  webhookSecret: z.string().regex(/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'must be a Stripe webhook signing secret (whsec_…)'),
  /** What the Pay button and the settings page call it. */
  label: z.string().min(1).max(40).default('Card (Stripe)'), // not free text: the firm's own configuration, not a form
  /**
   * Tests only: the Stripe API at another address (`http://127.0.0.1:4010`), given to the official
   * client as its host, port and protocol. `atrium doctor` flags it in production.
   */
  apiBase: z.url({ protocol: /^https?$/ }).optional(),
});

export type StripeSettings = z.infer<typeof settingsSchema>;
