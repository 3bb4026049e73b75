// Shared set-up for the payments-stripe tests: the invoices world with payments-stripe enabled,
// the real `stripe` client pointed at a fake Stripe API on 127.0.0.1, and issued invoices.
import { FakeStripe } from './fake-stripe.ts';
import { invoicesWorld, issue, newDraft, type LineFields, type World } from '../invoices/helpers.ts';

export const SECRET_KEY = 'sk_test_atriumFakeKey0001';
export const WEBHOOK_SECRET = 'whsec_atriumFakeSigningSecret0001';

export interface StripeWorld extends World {
  fake: FakeStripe;
  close(): Promise<void>;
}

export async function stripeWorld(opts: { logger?: import('pino').Logger } = {}): Promise<StripeWorld> {
  const fake = await new FakeStripe(SECRET_KEY, WEBHOOK_SECRET).start();
  const w = await invoicesWorld({
    plugins: ['invoices', 'payments-stripe'],
    ...(opts.logger ? { logger: opts.logger } : {}),
    overrides: {
      // Derived from the port the app listens on, so the provider's return URLs lead back to it.
      baseUrl: '',
      plugins: {
        settings: {
          invoices: { paymentDetails: 'Bank: Harbor Bank\nIBAN: GB33 BUKB 2020 1555 5555 55', firmAddress: '1 Quay Street, Bristol' },
          'payments-stripe': { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: fake.url },
        },
      },
    },
  });
  fake.webhookUrl = `${w.app.url}/hooks/payments-stripe/webhook`;
  return { ...w, fake, close: async () => (await w.app.close(), await fake.stop()) };
}

/** Staff allow (or forbid) Stripe for the world's workspace through the settings page. */
export async function allowStripe(w: World, on = true) {
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/payment-methods`);
  return w.as.staff.postForm(`/w/${w.ws.slug}/invoices/payment-methods`, on ? { providers: 'stripe' } : {});
}

/** An issued invoice; returns its id. */
export async function issued(w: World, lines: LineFields[] = [['Retainer', '1', '1000.00', '20']], extra: Record<string, string> = {}): Promise<string> {
  const { id } = await newDraft(w, lines, extra);
  if (!id) throw new Error('draft not saved');
  const r = await issue(w, id);
  if (r.status !== 303) throw new Error(`issue: ${r.status}`);
  return id;
}

/** The client admin presses "Pay with Card (Stripe)"; returns the response and the checkout row. */
export async function startPay(w: StripeWorld, invoiceId: string) {
  await w.as.admin.get(`/w/${w.ws.slug}/invoices/i/${invoiceId}`);
  const res = await w.as.admin.postForm(`/w/${w.ws.slug}/invoices/i/${invoiceId}/pay`, { provider: 'stripe' });
  const row = await w.app.kernel.db('invoices_checkouts').where({ invoice_id: invoiceId }).orderBy('started_at', 'desc').first();
  const session = row ? w.fake.sessions.get(String(row.provider_ref)) : undefined;
  return { res, row, session };
}

export const count = async (w: World, table: string, where: Record<string, unknown> = {}) => Number(((await w.app.kernel.db(table).where(where).count({ n: '*' }).first()) as { n: number | string }).n);
