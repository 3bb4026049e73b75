// Isolation-kit rows for online payment (plugins/invoices/online.ts): the workspace allows a
// provider, and its invoice has a checkout started by the client admin. The checkout's ids carry
// the canary, so a page of A that showed B's checkout would be caught.
import { newId } from '../../../core/ids.ts';
import type { SeedContext } from '../../kit/isolation.ts';

export async function seedOnline({ kernel: k, workspace, canary, users }: SeedContext, invoiceId: string): Promise<{ checkoutId: string }> {
  const checkoutId = newId();
  const inv = await k.db('invoices_invoices').where({ id: invoiceId, workspace_id: workspace.id }).first('total', 'paid_total', 'currency');
  await k.db('invoices_payment_methods').insert({ id: newId(), workspace_id: workspace.id, provider: 'stripe', enabled_by: users.staff, enabled_at: 1 });
  await k.db('invoices_checkouts').insert({
    id: checkoutId,
    workspace_id: workspace.id,
    invoice_id: invoiceId,
    provider: 'stripe',
    provider_ref: `cs_test_${canary || 'a'}_${checkoutId}`,
    url: `https://checkout.example/${canary || 'a'}/${checkoutId}`,
    amount: Number(inv.total) - Number(inv.paid_total),
    currency: String(inv.currency),
    status: 'open',
    payment_id: null,
    started_by: users.client_admin,
    started_at: 1,
    ended_at: null,
  });
  return { checkoutId };
}
