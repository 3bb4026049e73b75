// The period pack's pages, mounted at /w/:workspace/invoices: a form to choose the period (two
// days in the firm's zone, or a month, quarter or year preset) and the zip itself. Whoever may
// read invoices in the workspace may download it (the client's admin, a "Billing" role, staff);
// everything in it is read through their row filter, so a client never gets a draft. Each
// download is audited (who, which period) before the first byte leaves.
import type { Request, Response } from 'express';
import { accessibleBy, authorize, contentDisposition, fieldErrors, transaction, type EvidenceRegistry } from '../../core/index.ts';
import type { InvoicesDeps } from './service.ts';
import { dayOf, periodForm, periodOf, presets } from './pack-period.ts';
import { streamPack, type PackContext } from './pack.ts';
import type { LedgerQuery } from './ledger.ts';

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invoices`;

export function packRoutes(workspace: import('express').Router, deps: InvoicesDeps, evidence: EvidenceRegistry): void {
  const { db } = deps;

  async function form(req: Request, values: Record<string, string>, errors: Record<string, string> = {}, status = 200) {
    const brand = await deps.branding.get();
    const zip = `${base(req)}/pack.zip`;
    await req.ctx.render(
      'invoices/pack',
      {
        action: zip,
        listHref: `${base(req)}/`,
        values,
        errors,
        hasErrors: Object.keys(errors).length > 0,
        firmName: brand.firmName,
        timeZone: brand.timeZone,
        presets: presets(deps.clock.now(), brand.timeZone).map((p) => ({ label: p.label, range: `${p.from} to ${p.to}`, href: `${zip}?${new URLSearchParams({ from: p.from, to: p.to })}` })),
      },
      { title: 'Download a period pack', status },
    );
  }

  // GET /w/:workspace/invoices/pack: choose the period.
  workspace.get('/pack', authorize('read', 'Invoice'), async (req) => {
    const brand = await deps.branding.get();
    const last = presets(deps.clock.now(), brand.timeZone)[0]!;
    await form(req, { from: last.from, to: last.to });
  });

  // GET /w/:workspace/invoices/pack.zip?from=YYYY-MM-DD&to=YYYY-MM-DD: the zip, streamed.
  workspace.get('/pack.zip', authorize('read', 'Invoice'), async (req: Request, res: Response) => {
    const raw = { from: typeof req.query.from === 'string' ? req.query.from : '', to: typeof req.query.to === 'string' ? req.query.to : '' };
    const parsed = periodForm.safeParse(raw);
    if (!parsed.success) return form(req, raw, fieldErrors(parsed.error), 400);
    const ws = req.ctx.workspace!;
    const brand = await deps.branding.get();
    const period = periodOf(parsed.data.from, parsed.data.to, brand.timeZone);
    const now = deps.clock.now();
    await transaction(db, (trx) =>
      deps.audit.record(trx, { ...req.ctx.actor(), workspaceId: ws.id, action: 'invoices.pack.download', subjectType: 'InvoicePack', subjectId: ws.id, detail: { from: period.fromDay, to: period.toDay } }),
    );
    const invoices = accessibleBy(req.ctx.ability, 'read', 'Invoice', (f) => `i.${f}`);
    const ledger: LedgerQuery = { db, workspaceId: ws.id, period, invoices };
    const viewer = { userId: req.ctx.user!.id, firmRole: req.ctx.user!.firmRole, ability: req.ctx.ability };
    const ctx: PackContext = {
      db,
      storage: deps.storage,
      workspace: { id: ws.id, name: ws.name, slug: ws.slug },
      period,
      firm: { name: brand.firmName, address: deps.settings.firmAddress, colour: brand.primary },
      preparedAt: now,
      preparedDay: dayOf(now, brand.timeZone),
      invoices,
      ledger,
      evidence: () => evidence.items(db, { workspaceId: ws.id, from: period.from, to: period.to, viewer }),
      dayOf: (ms) => dayOf(ms, brand.timeZone),
    };
    res.status(200);
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', contentDisposition(`${ws.name} invoices ${period.fromDay} to ${period.toDay}.zip`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    try {
      await streamPack(res, ctx, req.ctx.log);
    } catch (err) {
      // The headers are gone: all that is left is to cut the download short, so it cannot pass for whole.
      req.ctx.log.error({ err }, 'invoices pack failed');
      res.destroy(err as Error);
    }
  });
}
