// The workspace's invoice settings, /w/:workspace/invoices/settings (the firm's people who may issue
// invoices): the currency, payment terms, tax mode, tax rate, notes and terms a new draft in this
// workspace starts with. Empty fields keep the firm's setting, which the page names. A bad value
// comes back beside its field and nothing is saved; a save is audited in its transaction.
import type { Request, Router } from 'express';
import { authorize, formBody, notFound, transaction } from '../../../core/index.ts';
import { CURRENCY_CODES, formatRate } from '../money.ts';
import type { InvoicesDeps } from '../service.ts';
import { parseSettings, saveWorkspaceSettings, valuesOf, workspaceSettings, type SettingsValues } from '../workspace-settings.ts';

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invoices`;

const TERMS: Record<string, string> = { '0': 'Due on receipt', '15': 'Net 15 (15 days)', '30': 'Net 30 (30 days)' };
const termsLabel = (days: number) => TERMS[String(days)] ?? `${days} days`;

export function settingsRoutes(workspace: Router, deps: InvoicesDeps): void {
  const { db, settings: firm } = deps;

  async function page(req: Request, values: SettingsValues, errors: Record<string, string> = {}, status = 200) {
    const firmTerms = termsLabel(firm.termsDays);
    const choose = (opts: Array<{ value: string; label: string }>, v: string) => opts.map((o) => ({ ...o, selected: o.value === v }));
    await req.ctx.render(
      'invoices/settings',
      {
        action: `${base(req)}/settings`,
        listHref: `${base(req)}/`,
        values,
        errors,
        hasErrors: Object.keys(errors).length > 0,
        currencies: choose([{ value: '', label: `The firm’s currency (${firm.currency})` }, ...CURRENCY_CODES.map((c) => ({ value: c, label: c }))], values.currency),
        terms: choose(
          [{ value: '', label: `The firm’s terms (${firmTerms})` }, { value: '0', label: TERMS['0']! }, { value: '15', label: TERMS['15']! }, { value: '30', label: TERMS['30']! }, { value: 'custom', label: 'Another number of days' }],
          values.termsDays,
        ),
        taxModes: choose(
          [
            { value: '', label: `The firm’s way (${firm.taxMode === 'inclusive' ? 'prices include tax' : 'tax is added to prices'})` },
            { value: 'exclusive', label: 'Tax is added to the unit prices' },
            { value: 'inclusive', label: 'Unit prices include tax' },
          ],
          values.taxMode,
        ),
        rateHint: `A percentage, like 20 or 7.5. Empty: the firm’s rate (${formatRate(Math.round(firm.defaultTaxRate * 100))}%).`,
      },
      { title: 'Invoice settings', status },
    );
  }

  /** Only the firm's side: a client, even one who reads invoices, gets the same 404 as a stranger. */
  const firmOnly = (req: Request) => {
    if (!req.ctx.ability.can('issue', 'Invoice') || !req.ctx.ability.can('update', 'Invoice')) throw notFound();
  };

  workspace.get('/settings', authorize('issue', 'Invoice'), async (req) => {
    firmOnly(req);
    await page(req, valuesOf(await workspaceSettings(db, req.ctx.workspace!.id)));
  });

  workspace.post('/settings', authorize('issue', 'Invoice'), async (req, res) => {
    firmOnly(req);
    const parsed = parseSettings(formBody(req.body) as Record<string, unknown>);
    if (!parsed.ok) return page(req, parsed.values, parsed.errors, 400);
    const ws = { id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name };
    await transaction(db, (trx) => saveWorkspaceSettings(deps, trx, ws, req.ctx.actor(), parsed.value));
    await req.ctx.flash('success', 'Invoice settings saved. New drafts in this workspace start with them.');
    res.redirect(303, `${base(req)}/settings`);
  });
}
