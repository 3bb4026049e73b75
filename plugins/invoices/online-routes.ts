// The online-payment pages under /w/:workspace/invoices (online.ts does the work):
//   POST /i/:invoiceId/pay                       a reader presses "Pay with …": a checkout for what
//                                                the server says is owed, then the page below
//   GET  /i/:invoiceId/checkout/:checkoutId      "Continue to the payment page" (a link, not a
//                                                redirect after a form: the CSP's form-action
//                                                would stop a form from landing on the provider)
//   GET  /i/:invoiceId/checkout/:checkoutId/done       where the provider sends the person back
//   GET  /i/:invoiceId/checkout/:checkoutId/cancelled  ... or when they gave up
//   POST /i/:invoiceId/receipts/:paymentId/refund  staff give an online payment back through its provider
//   GET/POST /payment-methods                    the firm's choice of providers for this workspace
// Every route finds the invoice through the workspace scope and the ability's row filter, so
// another workspace's invoice (or a draft, for a client) is 404.
import type { Request, Response } from 'express';
import type { Router } from 'express';
import { z } from 'zod';
import { accessibleBy, AtriumError, authorize, formBody, notFound } from '../../core/index.ts';
import { formatMoney } from './money.ts';
import { allowedProviders, CheckoutFailed, findCheckout, onlinePayment, owed, RefundFailed, refundOnline, setAllowedProviders, startCheckout, type CheckoutRow, type OnlineDeps } from './online.ts';
import { INVOICE_COLS, normInvoice, paymentsOf, Refusal, type InvoiceRow } from './service.ts';

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invoices`;
const wsOf = (req: Request) => ({ id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name });
const idParam = z.string().regex(/^[0-9a-f-]{36}$/);
/** The Pay button's form: which provider, and nothing else (an amount sent along is refused). */
const payForm = z.strictObject({ provider: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/) });
const providerId = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/);
const methodsForm = z.strictObject({ providers: z.union([providerId, z.array(providerId).max(20)]).optional() });

export function onlineRoutes(workspace: Router, deps: OnlineDeps): void {
  const { db } = deps;

  async function find(req: Request): Promise<InvoiceRow> {
    const id = idParam.safeParse(req.params.invoiceId);
    if (!id.success) throw notFound();
    const r = await req.ctx.scope!.table('invoices_invoices').modify(accessibleBy(req.ctx.ability, 'read', 'Invoice')).where({ id: id.data }).first(INVOICE_COLS);
    if (!r) throw notFound();
    return normInvoice(r);
  }

  async function checkoutOf(req: Request): Promise<{ inv: InvoiceRow; co: CheckoutRow }> {
    const inv = await find(req);
    const co = await findCheckout(db, inv.workspace_id, inv.id, String(req.params.checkoutId ?? ''));
    if (!co) throw notFound();
    return { inv, co };
  }

  // ---- pay

  workspace.post('/i/:invoiceId/pay', authorize('read', 'Invoice'), async (req: Request, res: Response) => {
    const inv = await find(req);
    const parsed = payForm.safeParse(formBody(req.body));
    if (!parsed.success) throw new AtriumError('ATR_VALIDATION', 'pay form', { status: 400 });
    // Only a provider the firm allows for this workspace (and that is installed): else 404.
    const allowed = await allowedProviders(deps, db, inv.workspace_id);
    const provider = allowed.find((p) => p.id === parsed.data.provider);
    if (!provider) throw notFound();
    const back = `${base(req)}/i/${inv.id}`;
    if (owed(inv) <= 0) {
      await req.ctx.flash('info', 'This invoice has nothing left to pay.');
      return res.redirect(303, back);
    }
    try {
      const co = await startCheckout(deps, wsOf(req), req.ctx.actor(), inv, provider.id, req.ctx.user!.email);
      res.redirect(303, `${back}/checkout/${co.id}`);
    } catch (err) {
      if (err instanceof CheckoutFailed) {
        await req.ctx.flash('error', `The payment page of ${provider.label} could not be opened, and nothing was charged. Try again in a few minutes, or pay by bank transfer.`);
        return res.redirect(303, back);
      }
      if (err instanceof Refusal) {
        await req.ctx.flash('info', err.message);
        return res.redirect(303, back);
      }
      throw err;
    }
  });

  // ---- the checkout's pages (GET: they never change anything)

  async function checkoutPage(req: Request, state: 'continue' | 'done' | 'cancelled') {
    const { inv, co } = await checkoutOf(req);
    const label = deps.payments.provider(co.provider)?.label ?? 'the payment provider';
    const payment = co.payment_id ? (await paymentsOf(db, inv.workspace_id, inv.id)).find((p) => p.id === co.payment_id) : undefined;
    const invoiceHref = `${base(req)}/i/${inv.id}`;
    await req.ctx.render(
      'invoices/checkout',
      {
        state,
        open: co.status === 'open',
        paid: co.status === 'paid',
        expired: co.status === 'expired',
        continue: state === 'continue',
        done: state === 'done',
        cancelled: state === 'cancelled',
        label,
        number: inv.number,
        amount: formatMoney(co.amount, co.currency),
        // The provider's page, only while it can still be paid.
        url: co.status === 'open' && owed(inv) > 0 ? co.url : null,
        receipt: payment ? { number: payment.receipt_number, href: `${invoiceHref}/receipts/${payment.id}` } : null,
        stillOwed: owed(inv) > 0 ? formatMoney(owed(inv), inv.currency) : null,
        invoiceHref,
        listHref: `${base(req)}/`,
        selfHref: `${invoiceHref}/checkout/${co.id}/done`,
      },
      { title: state === 'cancelled' ? 'Payment not made' : state === 'done' ? 'Thank you' : `Pay invoice ${inv.number}` },
    );
  }

  workspace.get('/i/:invoiceId/checkout/:checkoutId', authorize('read', 'Invoice'), (req) => checkoutPage(req, 'continue'));
  workspace.get('/i/:invoiceId/checkout/:checkoutId/done', authorize('read', 'Invoice'), (req) => checkoutPage(req, 'done'));
  workspace.get('/i/:invoiceId/checkout/:checkoutId/cancelled', authorize('read', 'Invoice'), (req) => checkoutPage(req, 'cancelled'));

  // ---- refund an online payment through its provider (staff who record payments)

  workspace.post('/i/:invoiceId/receipts/:paymentId/refund', authorize('record', 'Invoice'), async (req: Request, res: Response) => {
    const inv = await find(req);
    const payment = await onlinePayment(db, inv.workspace_id, inv.id, String(req.params.paymentId ?? ''));
    if (!payment) throw notFound();
    if (Object.keys(formBody(req.body)).length) throw new AtriumError('ATR_VALIDATION', 'refund form', { status: 400 });
    const receiptHref = `${base(req)}/i/${inv.id}/receipts/${payment.id}`;
    try {
      const r = await refundOnline(deps, wsOf(req), req.ctx.actor(), inv, payment);
      await req.ctx.flash('success', `Refunded through ${deps.payments.provider(payment.provider)?.label ?? 'the provider'}: receipt ${r.receipt}.`);
      res.redirect(303, `${base(req)}/i/${inv.id}/receipts/${r.paymentId}`);
    } catch (err) {
      if (err instanceof RefundFailed) {
        await req.ctx.flash('error', 'The provider did not make the refund, and nothing was recorded. Try again later, or refund at the provider and record it by hand.');
        return res.redirect(303, receiptHref);
      }
      if (err instanceof Refusal) {
        await req.ctx.flash('error', err.message);
        return res.redirect(303, receiptHref);
      }
      throw err;
    }
  });

  // ---- the firm's choice of providers for this workspace

  async function methodsPage(req: Request, status = 200) {
    const chosen = new Set((await allowedProviders(deps, db, req.ctx.workspace!.id)).map((p) => p.id));
    await req.ctx.render(
      'invoices/payment-methods',
      {
        action: `${base(req)}/payment-methods`,
        listHref: `${base(req)}/`,
        providers: deps.payments.providers().map((p, i) => ({ i, id: p.id, label: p.label, checked: chosen.has(p.id) })),
        paymentDetails: deps.settings.paymentDetails,
      },
      { title: 'Online payment', status },
    );
  }

  workspace.get('/payment-methods', authorize('update', 'Invoice'), (req) => methodsPage(req));

  workspace.post('/payment-methods', authorize('update', 'Invoice'), async (req: Request, res: Response) => {
    const parsed = methodsForm.safeParse(formBody(req.body));
    if (!parsed.success) return methodsPage(req, 400);
    const wanted = ([] as string[]).concat(parsed.data.providers ?? []);
    const known = new Set(deps.payments.providers().map((p) => p.id));
    if (wanted.some((p) => !known.has(p))) return methodsPage(req, 400);
    const kept = await setAllowedProviders(deps, wsOf(req), req.ctx.actor(), wanted);
    await req.ctx.flash('success', kept.length ? 'Saved. Clients of this workspace can pay their invoices online.' : 'Saved. Clients of this workspace pay by bank transfer only.');
    res.redirect(303, `${base(req)}/payment-methods`);
  });
}

/** The Pay buttons on an invoice's page (routes.ts merges this into its model). */
export async function payOptions(deps: OnlineDeps, req: Request, inv: InvoiceRow): Promise<Record<string, unknown>> {
  if (owed(inv) <= 0 || req.ctx.ability.can('issue', 'Invoice')) return { payOnline: null };
  const providers = await allowedProviders(deps, deps.db, inv.workspace_id);
  return { payOnline: providers.length ? { action: `/w/${req.ctx.workspace!.slug}/invoices/i/${inv.id}/pay`, amount: formatMoney(owed(inv), inv.currency), providers } : null };
}

/** The "Refund through …" dialog on an online payment's receipt, for staff who record payments. */
export async function refundOptions(deps: OnlineDeps, req: Request, inv: InvoiceRow, paymentId: string): Promise<Record<string, unknown>> {
  if (!req.ctx.ability.can('record', 'Invoice')) return { refundOnline: null };
  const p = await onlinePayment(deps.db, inv.workspace_id, inv.id, paymentId);
  const provider = p ? deps.payments.provider(p.provider) : undefined;
  if (!p || !provider?.refund || p.refundable <= 0) return { refundOnline: null };
  return { refundOnline: { action: `/w/${req.ctx.workspace!.slug}/invoices/i/${inv.id}/receipts/${p.id}/refund`, amount: formatMoney(p.refundable, inv.currency), label: provider.label } };
}
