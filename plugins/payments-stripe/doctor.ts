// `atrium doctor` checks for payments-stripe: keys that cannot take real money in production, and
// the tests-only API address. Findings name the kind of key, never the key.
import type { DoctorFinding } from '../../core/index.ts';
import type { StripeSettings } from './settings.ts';

export function stripeDoctor({ config, settings }: { config: { env: string }; settings: StripeSettings }, env: NodeJS.ProcessEnv = process.env): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  const production = config.env === 'production' || env.NODE_ENV === 'production';
  const testKey = /^(sk|rk)_test_/.test(settings.secretKey);
  if (production && testKey) {
    out.push({
      code: 'STRIPE001_TEST_KEY_IN_PRODUCTION',
      message: 'The Stripe secret key is a test-mode key (sk_test_…) in production: clients can go through checkout, but no real payment is taken.',
      fix: 'Set plugins.settings["payments-stripe"].secretKey to the live key (sk_live_…) and webhookSecret to the live endpoint\'s signing secret.',
    });
  }
  if (!production && !testKey) {
    out.push({ code: 'STRIPE002_LIVE_KEY_OUTSIDE_PRODUCTION', message: `The Stripe secret key is a live key while env is "${config.env}": test payments here would take real money.`, fix: 'Use a test-mode key (sk_test_…) outside production.' });
  }
  if (production && settings.apiBase) {
    out.push({ code: 'STRIPE003_API_BASE_SET', message: 'apiBase sends Stripe calls somewhere other than api.stripe.com: it is for tests only.', fix: 'Remove plugins.settings["payments-stripe"].apiBase.' });
  }
  return out;
}
