// Plugin `invoices`: invoices per client workspace. Staff write drafts (lines with quantities to
// three decimals, tax per line, discounts), issue them (a number from the firm's gap-free series,
// a PDF in the firm's colour stored encrypted, its SHA-256 on the page), record payments and
// refunds with receipts, and void; the client's people who may read invoices see them, what is
// owed and overdue, and download the PDF. See docs/invoices.md.
//   index.ts    this definition             routes.ts  the pages under /w/:workspace/invoices
//   service.ts  the workflow and its audit  forms.ts   editor, payment and void forms
//   money.ts    minor units and rounding    numbering.ts  the number series (locked counters)
//   pdf.ts      the issued PDF              views.ts   view models     waiting.ts  "invoices to pay"
//   widget.ts   the home card               staff-widget.ts  the staff overview's overdue card
//   demo.ts     demo data
//   credit-notes.ts, credit-forms.ts, credit-routes.ts  credit notes (their own series and PDF)
//   recurring.ts, schedule.ts, recurring-forms.ts, recurring-routes.ts  recurring invoices
//   reminders.ts  payment reminders   jobs.ts  the recurring and reminder jobs
//   workspace-settings.ts + routes/settings.ts   each workspace's defaults for new drafts
//   receivables.ts + routes/receivables.ts       /staff/invoices: what clients owe, CSV
//   preview.ts  a draft as a PDF, never stored   logo.ts  the firm's logo, checked before pdf-lib
//   pack.ts     the period pack (zip), with pack-routes.ts, pack-period.ts, ledger.ts, statement.ts, proof.ts,
//               receipt-pdf.ts, report-pdf.ts, csv.ts
import { definePlugin, Tokens, type RoutesContext } from '../../core/index.ts';
import { workspaceRoutes } from './routes.ts';
import { packRoutes } from './pack-routes.ts';
import type { InvoicesDeps } from './service.ts';
import { settingsSchema, type InvoicesSettings } from './settings.ts';
import { invoicesWaiting } from './waiting.ts';
import { toPayWidget } from './widget.ts';
import { overdueWidget } from './staff-widget.ts';
import { seedInvoicesDemo } from './demo.ts';
import { invoicesPayable, type OnlineDeps } from './online.ts';
import { onlineRoutes, payOptions, refundOptions } from './online-routes.ts';
import { creditNoteRoutes } from './credit-routes.ts';
import { recurringRoutes } from './recurring-routes.ts';
import { startBillingJobs, stopBillingJobs } from './jobs.ts';
import { settingsRoutes } from './routes/settings.ts';
import { receivablesRoutes } from './routes/receivables.ts';

declare module '../../core/events.ts' {
  interface AtriumEvents {
    'invoices.invoice.created': { workspaceId: string; invoiceId: string };
    'invoices.invoice.updated': { workspaceId: string; invoiceId: string };
    'invoices.invoice.issued': { workspaceId: string; invoiceId: string };
    'invoices.invoice.viewed': { workspaceId: string; invoiceId: string };
    'invoices.invoice.voided': { workspaceId: string; invoiceId: string };
    'invoices.payment.recorded': { workspaceId: string; invoiceId: string; paymentId: string; status: string };
    'invoices.checkout.started': { workspaceId: string; invoiceId: string; checkoutId: string };
    'invoices.checkout.ended': { workspaceId: string; invoiceId: string; checkoutId: string };
    'invoices.paymentMethods.updated': { workspaceId: string; providers: string[] };
    'invoices.creditNote.issued': { workspaceId: string; invoiceId: string; creditNoteId: string; status: string };
    'invoices.invoice.reminded': { workspaceId: string; invoiceId: string; step: string };
    'invoices.template.created': { workspaceId: string; templateId: string };
    'invoices.template.updated': { workspaceId: string; templateId: string };
    'invoices.template.paused': { workspaceId: string; templateId: string };
    'invoices.template.resumed': { workspaceId: string; templateId: string };
    'invoices.template.ran': { workspaceId: string; templateId: string; invoiceId: string };
  }
}

/** The deps of online payment (online.ts): made on first use, once the server knows its address. */
function onlineDepsOf(ctx: RoutesContext<InvoicesSettings>): () => OnlineDeps {
  let made: OnlineDeps | undefined;
  return () => (made ??= { ...depsOf(ctx), payments: ctx.container.resolve(Tokens.Payments), config: ctx.config });
}

export function depsOf(ctx: RoutesContext<InvoicesSettings>): InvoicesDeps {
  const c = ctx.container;
  return {
    db: ctx.db,
    audit: c.resolve(Tokens.Audit),
    events: c.resolve(Tokens.Events),
    storage: c.resolve(Tokens.Storage),
    branding: c.resolve(Tokens.Branding),
    notifications: c.resolve(Tokens.Notifications),
    approvables: c.resolve(Tokens.Approvables),
    clock: c.resolve(Tokens.Clock),
    logger: ctx.logger,
    settings: ctx.settings,
  };
}

/** What a client may read: every invoice once issued, never a draft. */
export const CLIENT_VISIBLE = ['issued', 'viewed', 'partially_paid', 'paid', 'void'];

export default definePlugin<InvoicesSettings>({
  id: 'invoices',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'Invoices for each client: drafts, numbered issue with a PDF, payments and receipts, what is owed and overdue.',
  migrations: new URL('./migrations', import.meta.url),
  views: new URL('./views', import.meta.url),
  events: ['invoices.invoice.created', 'invoices.invoice.updated', 'invoices.invoice.issued', 'invoices.invoice.viewed', 'invoices.invoice.voided', 'invoices.payment.recorded',
    'invoices.creditNote.issued', 'invoices.invoice.reminded', 'invoices.template.created', 'invoices.template.updated', 'invoices.template.paused', 'invoices.template.resumed', 'invoices.template.ran',
    'invoices.checkout.started', 'invoices.checkout.ended', 'invoices.paymentMethods.updated'],
  settings: settingsSchema,
  permissions: {
    // read: the list, an invoice, its PDF and receipts; create/update: drafts; issue: number and
    // send; void: cancel an unpaid issued invoice; record: payments and refunds received.
    subjects: { Invoice: ['read', 'create', 'update', 'issue', 'void', 'record'] },
    tables: { Invoice: 'invoices_invoices' },
    audit: {
      Invoice: { read: ['read', 'Invoice'], table: 'invoices_invoices', path: '/invoices/i/:id', label: 'label', noun: 'invoice' },
      // Recurring templates are the firm's: only those who may issue invoices read their events.
      InvoiceTemplate: { read: ['issue', 'Invoice'], table: 'invoices_templates', path: '/invoices/recurring/:id', label: 'name', noun: 'recurring invoice' },
      // A workspace's invoice settings: the firm's side only (no client role may issue).
      InvoiceSettings: { read: ['issue', 'Invoice'], noun: 'invoice settings' },
      // A period pack downloaded (subject: the workspace): seen by whoever may read invoices there.
      // The workspace has no invoice row to test, so the subjects are the viewer's own workspaces,
      // none when their role may not read invoices.
      InvoicePack: {
        visible: (v) =>
          v.scope
            .table('memberships')
            .where('user_id', v.userId)
            .modify((q) => {
              if (!v.ability.can('read', 'Invoice')) q.whereRaw('1 = 0');
            })
            .select('workspace_id'),
        noun: 'invoices pack',
      },
    },
    grants: {
      staff: [{ action: ['read', 'create', 'update', 'issue', 'void', 'record'], subject: 'Invoice' }],
      // The client's admin reads issued invoices; other client roles see no invoice and no amount
      // unless the firm gives a custom role (a "Billing" role at /admin/roles) the same grant.
      client_admin: [{ action: 'read', subject: 'Invoice', conditions: { status: { $in: CLIENT_VISIBLE } } }],
    },
  },
  activity: {
    'invoices.invoice.create': '{actor} started {subject}',
    'invoices.invoice.update': '{actor} edited {subject}',
    'invoices.invoice.issue': '{actor} issued invoice {subject}',
    'invoices.invoice.view': '{actor} opened invoice {subject}',
    'invoices.invoice.void': '{actor} voided invoice {subject}',
    'invoices.invoice.pay': '{actor} recorded a payment on invoice {subject} (receipt {detail.receipt})',
    'invoices.invoice.refund': '{actor} recorded a refund on invoice {subject} (receipt {detail.receipt})',
    // Online payment (online.ts)
    'invoices.invoice.checkout': '{actor} went to pay invoice {subject} online with {detail.providerLabel}',
    'invoices.invoice.checkoutEnded': 'A payment page for invoice {subject} closed unused',
    'invoices.invoice.payOnline': '{actor} paid invoice {subject} online with {detail.providerLabel} (receipt {detail.receipt})',
    'invoices.invoice.refundOnline': '{actor} refunded a payment on invoice {subject} through {detail.providerLabel} (receipt {detail.receipt})',
    'invoices.invoice.paymentRefused': 'A payment for invoice {subject} through {detail.providerLabel} was not recorded: {detail.why}',
    'invoices.paymentMethods.update': '{actor} changed how invoices can be paid online',
    'invoices.invoice.credit': '{actor} issued credit note {detail.number} on invoice {subject}',
    'invoices.invoice.remind': '{actor} sent a payment reminder for invoice {subject}',
    'invoices.template.create': '{actor} set up the recurring invoice {subject}',
    'invoices.template.update': '{actor} changed the recurring invoice {subject}',
    'invoices.template.pause': '{actor} paused the recurring invoice {subject}',
    'invoices.template.resume': '{actor} resumed the recurring invoice {subject}',
    'invoices.template.run': '{actor} made the {detail.period} invoice of the recurring invoice {subject}',
    'invoices.settings.update': '{actor} changed the invoice settings',
    'invoices.pack.download': '{actor} downloaded the invoices pack for {detail.from} to {detail.to}',
  },
  nav: [
    { area: 'workspace', label: 'Invoices', path: '/invoices', can: ['read', 'Invoice'], order: 50 },
    { area: 'staff', label: 'Receivables', path: '/invoices', can: ['issue', 'Invoice'], order: 40 },
  ],
  widgets: [toPayWidget, overdueWidget],

  // Demo data (`atrium demo:seed`, /setup): Northwind's retainer to pay, a partly paid project, a draft (demo.ts).
  demo: (ctx, demo) => seedInvoicesDemo(depsOf(ctx), demo),

  register(ctx) {
    // "Waiting on you": invoices to pay, for the client's people who may read invoices (waiting.ts).
    ctx.container.resolve(Tokens.Waiting).register('invoices', invoicesWaiting);
    // Online payment: invoices are what providers' confirmations pay (online.ts, core/payments.ts).
    const online = onlineDepsOf({ ...ctx, db: ctx.container.resolve(Tokens.Db) });
    ctx.container.resolve(Tokens.Payments).registerPayable('invoices', invoicesPayable(online, ctx.logger));
  },

  routes({ workspace, staff }, ctx) {
    const deps = depsOf(ctx);
    const online = onlineDepsOf(ctx);
    settingsRoutes(workspace, deps);
    workspaceRoutes(workspace, deps, (req, inv) => payOptions(online(), req, inv), (req, inv, paymentId) => refundOptions(online(), req, inv, paymentId));
    onlineRoutes(workspace, online());
    creditNoteRoutes(workspace, deps);
    recurringRoutes(workspace, deps);
    // The CFO's period pack: a streamed zip of PDFs, statement and proof of service (pack.ts).
    packRoutes(workspace, deps, ctx.container.resolve(Tokens.Evidence));
    receivablesRoutes(staff, deps);
  },

  bootstrap(ctx) {
    // Recurring invoices and payment reminders, every jobIntervalSeconds (jobs.ts).
    startBillingJobs(ctx, depsOf(ctx));
  },

  async destroy(ctx) {
    await stopBillingJobs(ctx);
  },
});
