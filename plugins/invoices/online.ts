// Online payment of invoices through the kernel's payment providers (core/payments.ts): which
// providers each workspace may use (the firm's choice), a checkout started for what is owed as
// the server computes it, and the provider's confirmation, checked against the checkout and the
// invoice and recorded once with the same receipt as a payment staff record. Every change is one
// transaction with its audit event; a refused confirmation records nothing but is logged and
// audited so the firm can refund it at the provider.
import type { Logger } from 'pino';
import { newId, PaymentRegistry, transaction, type CheckoutEnded, type ConfirmOutcome, type Db, type PaymentConfirmation, type RefusalReason, type Trx } from '../../core/index.ts';
import { formatMoney } from './money.ts';
import { findInvoiceRow, OPEN, owedOf, Refusal, recordPaymentIn, type Actor, type InvoiceRow, type InvoicesDeps, type Ws } from './service.ts';

/** The payable kind invoices registers: `payableRef` is `invoices.invoice:<invoice id>`. */
export const PAYABLE_KIND = 'invoices.invoice';

export interface OnlineDeps extends InvoicesDeps {
  payments: PaymentRegistry;
  /** The configuration: its `baseUrl` (read when used: boot settles it once it listens) for return URLs. */
  config: { baseUrl: string };
}

export type CheckoutStatus = 'open' | 'paid' | 'expired';

export interface CheckoutRow {
  id: string;
  workspace_id: string;
  invoice_id: string;
  provider: string;
  provider_ref: string;
  url: string;
  amount: number;
  currency: string;
  status: CheckoutStatus;
  payment_id: string | null;
  started_by: string | null;
  started_at: number;
  ended_at: number | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function normCheckout(r: Record<string, unknown>): CheckoutRow {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    invoice_id: String(r.invoice_id),
    provider: String(r.provider),
    provider_ref: String(r.provider_ref),
    url: String(r.url),
    amount: Number(r.amount),
    currency: String(r.currency),
    status: String(r.status) as CheckoutStatus,
    payment_id: r.payment_id == null ? null : String(r.payment_id),
    started_by: r.started_by == null ? null : String(r.started_by),
    started_at: Number(r.started_at),
    ended_at: r.ended_at == null ? null : Number(r.ended_at),
  };
}

/** The providers this workspace may pay through: allowed by the firm AND registered now. */
export async function allowedProviders(deps: Pick<OnlineDeps, 'payments'>, db: Db | Trx, workspaceId: string): Promise<Array<{ id: string; label: string }>> {
  const chosen = new Set(((await db('invoices_payment_methods').where({ workspace_id: workspaceId }).pluck('provider')) as unknown[]).map(String));
  return deps.payments.providers().filter((p) => chosen.has(p.id)).map((p) => ({ id: p.id, label: p.label }));
}

/** The firm sets which providers a workspace may use (only registered ones are kept). */
export async function setAllowedProviders(deps: OnlineDeps, ws: Ws, actor: Actor, providers: string[]): Promise<string[]> {
  const known = new Set(deps.payments.providers().map((p) => p.id));
  const wanted = [...new Set(providers.filter((p) => known.has(p)))].sort();
  return transaction(deps.db, async (trx) => {
    const before = ((await trx('invoices_payment_methods').where({ workspace_id: ws.id }).pluck('provider')) as unknown[]).map(String).sort();
    if (before.join(',') === wanted.join(',')) return wanted;
    await trx('invoices_payment_methods').where({ workspace_id: ws.id }).whereNotIn('provider', wanted.length ? wanted : ['']).delete();
    const now = deps.clock.now();
    for (const p of wanted.filter((x) => !before.includes(x))) {
      await trx('invoices_payment_methods').insert({ id: newId(), workspace_id: ws.id, provider: p, enabled_by: actor.actorId ?? null, enabled_at: now });
    }
    // About invoices as a whole (no subject id): only the firm's people, who read every invoice, see it.
    await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.paymentMethods.update', subjectType: 'Invoice', subjectId: null, detail: { providers: wanted, before } });
    deps.events.publish(trx, 'invoices.paymentMethods.updated', { workspaceId: ws.id, providers: wanted });
    return wanted;
  });
}

/** What is still owed on an invoice (after payments and credit notes), or 0 when it cannot be paid (draft, paid, void). */
export function owed(inv: InvoiceRow): number {
  return OPEN.includes(inv.status) ? Math.max(0, owedOf(inv)) : 0;
}

/** Thrown when the provider could not start a checkout: the person is told, nothing is saved. */
export class CheckoutFailed extends Error {}

/**
 * Start a checkout at `providerId` for what `inv` still owes (computed here, never taken from the
 * request), record it with its audit event, and return it: the caller sends the person on to
 * the provider. The provider is called outside any transaction (it is a network call).
 */
export async function startCheckout(deps: OnlineDeps, ws: Ws, actor: Actor, inv: InvoiceRow, providerId: string, customerEmail: string | undefined): Promise<CheckoutRow> {
  const provider = deps.payments.provider(providerId);
  if (!provider) throw new Refusal('That way of paying is not available.');
  const amount = owed(inv);
  if (amount <= 0) throw new Refusal('This invoice has nothing left to pay.');
  const brand = await deps.branding.get();
  const id = newId();
  const back = `${deps.config.baseUrl.replace(/\/$/, '')}/w/${ws.slug}/invoices/i/${inv.id}/checkout/${id}`;
  let started;
  try {
    started = await provider.startCheckout({
      payableRef: PaymentRegistry.ref(PAYABLE_KIND, inv.id),
      workspace: { id: ws.id, slug: ws.slug, name: ws.name },
      amountMinor: amount,
      currency: inv.currency,
      description: `Invoice ${inv.number} from ${brand.firmName}`,
      successUrl: `${back}/done`,
      cancelUrl: `${back}/cancelled`,
      customerEmail,
      attemptId: id,
    });
  } catch (err) {
    // The provider's message, never its request (which may carry keys): the log gets the code.
    deps.logger.warn({ provider: providerId, invoiceId: inv.id, err: { message: (err as Error).message, code: (err as { code?: string }).code, type: (err as { type?: string }).type } }, 'checkout could not be started');
    throw new CheckoutFailed('checkout failed');
  }
  if (!/^https?:\/\//.test(started.url) || !started.providerRef) {
    deps.logger.warn({ provider: providerId, invoiceId: inv.id }, 'provider returned no checkout url or reference');
    throw new CheckoutFailed('checkout failed');
  }
  const now = deps.clock.now();
  const row = { id, workspace_id: ws.id, invoice_id: inv.id, provider: providerId, provider_ref: started.providerRef, url: started.url, amount, currency: inv.currency, status: 'open', payment_id: null, started_by: actor.actorId ?? null, started_at: now, ended_at: null };
  await transaction(deps.db, async (trx) => {
    await trx('invoices_checkouts').insert(row);
    await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.checkout', subjectType: 'Invoice', subjectId: inv.id, detail: { checkoutId: id, provider: providerId, providerLabel: provider.label, amount, currency: inv.currency } });
    deps.events.publish(trx, 'invoices.checkout.started', { workspaceId: ws.id, invoiceId: inv.id, checkoutId: id });
  });
  return normCheckout(row);
}

export async function findCheckout(db: Db | Trx, workspaceId: string, invoiceId: string, id: string): Promise<CheckoutRow | undefined> {
  if (!UUID.test(id)) return undefined;
  const r = await db('invoices_checkouts').where({ workspace_id: workspaceId, invoice_id: invoiceId, id }).first();
  return r ? normCheckout(r) : undefined;
}

const WHY: Record<RefusalReason, string> = {
  unknown_payable: 'no such invoice',
  unknown_checkout: 'no payment was started for it here',
  amount_mismatch: 'the amount differs from what was asked',
  currency_mismatch: 'the currency differs from the invoice’s',
  not_payable: 'the invoice is no longer open (paid or void)',
  overpayment: 'it is more than is still owed',
};

/** The payable side of the contract: registered in the plugin's `register` (index.ts). */
export function invoicesPayable(deps: () => OnlineDeps, logger: Logger) {
  /** Nothing recorded: said in the log and, in its own transaction, in the audit log. */
  async function refuse(c: PaymentConfirmation, reason: RefusalReason, inv?: InvoiceRow, expected?: { amount: number; currency: string }): Promise<ConfirmOutcome> {
    const d = deps();
    const providerLabel = d.payments.provider(c.provider)?.label ?? c.provider;
    logger.warn({ provider: c.provider, eventId: c.eventId, reason, invoiceId: inv?.id, amount: c.amountMinor, currency: c.currency, expected }, 'online payment refused: nothing recorded');
    await transaction(d.db, (trx) =>
      d.audit.record(trx, {
        ...c.actor,
        workspaceId: inv?.workspace_id ?? null,
        action: 'invoices.invoice.paymentRefused',
        subjectType: inv ? 'Invoice' : null,
        subjectId: inv?.id ?? null,
        detail: { provider: c.provider, providerLabel, eventId: c.eventId ?? null, reason, why: WHY[reason], amount: c.amountMinor, currency: c.currency, ...(expected ? { expectedAmount: expected.amount, expectedCurrency: expected.currency } : {}), ...(inv ? {} : { payableRef: c.payableRef.slice(0, 120) }) },
      }),
    );
    return { outcome: 'refused', reason };
  }

  async function existing(db: Db | Trx, c: { provider: string; providerRef: string }): Promise<string | undefined> {
    const r = await db('invoices_payments').where({ provider: c.provider, provider_ref: c.providerRef }).first('id');
    return r ? String(r.id) : undefined;
  }

  return {
    kind: PAYABLE_KIND,

    async confirm(c: PaymentConfirmation): Promise<ConfirmOutcome> {
      const d = deps();
      const invoiceId = c.payableRef.slice(PAYABLE_KIND.length + 1);
      // The invoice in the workspace the checkout was started for: an id from elsewhere is unknown.
      const inv = UUID.test(invoiceId) && UUID.test(c.workspaceId) ? await findInvoiceRow(d.db, c.workspaceId, invoiceId) : undefined;
      if (!inv) return refuse(c, 'unknown_payable');
      const co = await d.db('invoices_checkouts').where({ provider: c.provider, provider_ref: c.providerRef }).first();
      const checkout = co ? normCheckout(co) : undefined;
      if (!checkout || checkout.invoice_id !== inv.id || checkout.workspace_id !== inv.workspace_id) return refuse(c, 'unknown_checkout', inv);
      const already = await existing(d.db, c);
      if (already) return { outcome: 'duplicate', paymentId: already };
      const expected = { amount: checkout.amount, currency: checkout.currency };
      if (c.currency !== inv.currency || c.currency !== checkout.currency) return refuse(c, 'currency_mismatch', inv, expected);
      if (c.amountMinor !== checkout.amount || !Number.isSafeInteger(c.amountMinor) || c.amountMinor <= 0) return refuse(c, 'amount_mismatch', inv, expected);
      if (!OPEN.includes(inv.status)) return refuse(c, 'not_payable', inv, expected);
      if (c.amountMinor > owedOf(inv)) return refuse(c, 'overpayment', inv, expected);
      const provider = d.payments.provider(c.provider)!;
      const ws = { id: inv.workspace_id, slug: '', name: '' };
      // The person who started the checkout paid: the audit names them, from the provider's address.
      const actor = { ...c.actor, actorId: checkout.started_by };
      try {
        const r = await transaction(d.db, async (trx) => {
          const now = d.clock.now();
          const rec = await recordPaymentIn(d, trx, ws, actor, inv.id, { amount: c.amountMinor, method: 'online', reference: provider.label, receivedAt: now }, {
            provider: c.provider,
            providerRef: c.providerRef,
            action: 'invoices.invoice.payOnline',
            detail: { provider: c.provider, providerLabel: provider.label, checkoutId: checkout.id, eventId: c.eventId ?? null },
          });
          await trx('invoices_checkouts').where({ id: checkout.id, workspace_id: inv.workspace_id }).whereIn('status', ['open', 'expired']).update({ status: 'paid', payment_id: rec.paymentId, ended_at: now });
          return rec;
        });
        logger.info({ provider: c.provider, eventId: c.eventId, invoiceId: inv.id, paymentId: r.paymentId }, 'online payment recorded');
        return { outcome: 'recorded', paymentId: r.paymentId, receipt: r.receipt };
      } catch (err) {
        // Two deliveries at once: the UNIQUE (provider, provider_ref) lets one through.
        const dup = await existing(d.db, c);
        if (dup) return { outcome: 'duplicate', paymentId: dup };
        if (err instanceof Refusal) {
          const now = await findInvoiceRow(d.db, inv.workspace_id, inv.id);
          return refuse(c, now && OPEN.includes(now.status) ? 'overpayment' : 'not_payable', now ?? inv, expected);
        }
        throw err;
      }
    },

    async ended(c: CheckoutEnded): Promise<void> {
      const d = deps();
      // Only a checkout still open ends: one already paid stays paid, whatever arrives after.
      const n = await transaction(d.db, async (trx) => {
        const co = await trx('invoices_checkouts').where({ provider: c.provider, provider_ref: c.providerRef, status: 'open' }).first();
        if (!co) return 0;
        const row = normCheckout(co);
        const now = d.clock.now();
        const changed = await trx('invoices_checkouts').where({ id: row.id, workspace_id: row.workspace_id, status: 'open' }).update({ status: 'expired', ended_at: now });
        if (changed) {
          await d.audit.record(trx, { ...c.actor, workspaceId: row.workspace_id, action: 'invoices.invoice.checkoutEnded', subjectType: 'Invoice', subjectId: row.invoice_id, detail: { checkoutId: row.id, provider: c.provider, eventId: c.eventId ?? null } });
          d.events.publish(trx, 'invoices.checkout.ended', { workspaceId: row.workspace_id, invoiceId: row.invoice_id, checkoutId: row.id });
        }
        return changed;
      });
      logger.info({ provider: c.provider, eventId: c.eventId, changed: n }, 'checkout ended unpaid');
    },
  };
}

export interface OnlinePayment {
  id: string;
  amount: number;
  provider: string;
  providerRef: string;
  /** What is left to give back through the provider (the amount less earlier refunds of it). */
  refundable: number;
}

/** A payment confirmed online (not itself a refund), with what can still be refunded through its provider. */
export async function onlinePayment(db: Db | Trx, workspaceId: string, invoiceId: string, paymentId: string): Promise<OnlinePayment | undefined> {
  if (!UUID.test(paymentId)) return undefined;
  const p = await db('invoices_payments').where({ workspace_id: workspaceId, invoice_id: invoiceId, id: paymentId }).whereNotNull('provider').whereNull('refund_of').where('amount', '>', 0).first('id', 'amount', 'provider', 'provider_ref');
  if (!p) return undefined;
  const back = (await db('invoices_payments').where({ workspace_id: workspaceId, refund_of: paymentId }).sum({ s: 'amount' }).first()) as { s: number | string | null };
  return { id: String(p.id), amount: Number(p.amount), provider: String(p.provider), providerRef: String(p.provider_ref), refundable: Number(p.amount) + Number(back?.s ?? 0) };
}

/** Thrown when the provider refused or failed a refund: nothing was recorded. */
export class RefundFailed extends Error {}

/**
 * Give an online payment back through its provider, in full or what is left of it: the provider
 * first (outside any transaction; the attempt id is its idempotency key), then the refund is
 * recorded as a negative payment with its receipt, like a refund staff record by hand.
 */
export async function refundOnline(deps: OnlineDeps, ws: Ws, actor: Actor, inv: InvoiceRow, payment: OnlinePayment): Promise<{ paymentId: string; receipt: string }> {
  const provider = deps.payments.provider(payment.provider);
  if (!provider?.refund) throw new Refusal('This payment cannot be refunded through its provider here: refund it at the provider and record the refund by hand.');
  if (payment.refundable <= 0) throw new Refusal('This payment has already been refunded in full.');
  if (payment.refundable > inv.paid_total) throw new Refusal('Less than this payment is recorded as paid on the invoice: refund by hand.');
  let refunded: { providerRef: string };
  try {
    refunded = await provider.refund({ providerRef: payment.providerRef, amountMinor: payment.refundable, currency: inv.currency, attemptId: newId() });
  } catch (err) {
    deps.logger.warn({ provider: payment.provider, invoiceId: inv.id, err: { message: (err as Error).message, code: (err as { code?: string }).code, type: (err as { type?: string }).type } }, 'refund failed at the provider');
    throw new RefundFailed('refund failed');
  }
  try {
    return await transaction(deps.db, (trx) =>
      recordPaymentIn(deps, trx, ws, actor, inv.id, { amount: -payment.refundable, method: 'online', reference: provider.label, receivedAt: deps.clock.now() }, {
        provider: payment.provider,
        providerRef: refunded.providerRef,
        refundOf: payment.id,
        action: 'invoices.invoice.refundOnline',
        detail: { provider: payment.provider, providerLabel: provider.label, refundOf: payment.id },
      }),
    );
  } catch (err) {
    // The money went back but the invoice does not say so: loud, for the firm to record by hand.
    deps.logger.error({ provider: payment.provider, invoiceId: inv.id, paymentId: payment.id, amount: payment.refundable, err }, 'refunded at the provider but not recorded: record the refund by hand');
    throw err;
  }
}

/** "EUR 1,416.00 with Card (Stripe)": for pages. */
export function describeCheckout(row: CheckoutRow, label: string): string {
  return `${formatMoney(row.amount, row.currency)} with ${label}`;
}
