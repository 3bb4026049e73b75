// Plugin `approvals`: approval requests on any approvable subject (core/approvables.ts: the files
// plugin registers file versions; any plugin can register its own type). Parallel or sequential
// approvers, one-click decisions in the portal or from a single-use emailed link, re-opening on a
// new version, reminders and the agreed "approved if no answer by the due date" rule, a staff
// queue across workspaces, and each person's requests "waiting on you" (waiting.ts: the home card,
// /inbox and the header count). It imports no other plugin.
//   service.ts  the workflow and the due-date job      repo.ts    scoped reads
//   routes.ts   /w/:workspace/approvals                staff.ts   /staff/approvals
//   link.ts     /l/approvals/:token                    models.ts  view models, field by field
import { definePlugin, Tokens, type BootstrapContext, type RoutesContext } from '../../core/index.ts';
import { visibleRequestsFor } from './repo.ts';
import { linkRoutes } from './link.ts';
import { workspaceRoutes } from './routes.ts';
import { staffRoutes } from './staff.ts';
import { reopenOnRevision, runDueWork, type ApprovalsDeps } from './service.ts';
import { settingsSchema, type ApprovalsSettings } from './settings.ts';
import { approvalsWaiting } from './waiting.ts';
import { registerEvidence } from './evidence.ts';
import { needsFirmWidget } from './staff-widget.ts';
import { seedApprovalsDemo } from './demo.ts';

declare module '../../core/events.ts' {
  interface AtriumEvents {
    'approvals.request.created': { workspaceId: string; requestId: string };
    'approvals.request.reopened': { workspaceId: string; requestId: string; round: number };
    'approvals.request.closed': { workspaceId: string; requestId: string; outcome: 'approved' | 'changes_requested' | 'cancelled'; turnaroundMs: number | null };
    'approvals.decision.recorded': { workspaceId: string; requestId: string; userId: string; decision: 'approved' | 'changes_requested'; sequence: 'parallel' | 'sequential' };
  }
}

/** The due-date job of each running instance (tests boot several in one process). */
const running = new WeakMap<object, { stop(): Promise<void> }>();
/** Each instance's services, by its plugin context (the same object in every hook). */
const wired = new WeakMap<object, ApprovalsDeps>();

function depsOf(ctx: RoutesContext<ApprovalsSettings> | BootstrapContext<ApprovalsSettings>): ApprovalsDeps {
  const c = ctx.container;
  return {
    db: ctx.db,
    audit: c.resolve(Tokens.Audit),
    events: c.resolve(Tokens.Events),
    notifications: c.resolve(Tokens.Notifications),
    links: c.resolve(Tokens.Links),
    approvables: c.resolve(Tokens.Approvables),
    clock: c.resolve(Tokens.Clock),
    logger: ctx.logger,
    settings: ctx.settings,
  };
}

export default definePlugin<ApprovalsSettings>({
  id: 'approvals',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'Approval requests on files and any other approvable item: portal and emailed one-click decisions, reminders, due dates and a staff queue.',
  migrations: new URL('./migrations', import.meta.url),
  views: new URL('./views', import.meta.url),
  events: ['approvals.request.created', 'approvals.request.reopened', 'approvals.request.closed', 'approvals.decision.recorded'],
  settings: settingsSchema,
  permissions: {
    // read: the list and a request's page (clients: only requests they are asked, or all shared
    // ones for a client admin; enforced in repo.ts); create: ask for an approval; decide: answer
    // one you are asked (the approver check is per row); cancel: withdraw a waiting request.
    subjects: { Approval: ['read', 'create', 'decide', 'cancel'] },
    // An event about a request is shown to whoever may open the request: the same query as the
    // list and the request's page (repo.ts), so the two can never disagree.
    audit: { Approval: { visible: (v) => visibleRequestsFor(v).select('r.id'), table: 'approvals_requests', path: '/approvals/r/:id', label: 'title', noun: 'approval request' } },
    grants: {
      staff: [{ action: ['read', 'create', 'decide', 'cancel'], subject: 'Approval' }],
      client_admin: [{ action: ['read', 'decide'], subject: 'Approval' }],
      client_member: [{ action: ['read', 'decide'], subject: 'Approval' }],
      // Viewers only view and download: they are never asked to approve.
    },
  },
  // How each event reads on the Activity page ({subject} is the request's title).
  activity: {
    'approvals.request.create': '{actor} asked for approval of {subject}',
    'approvals.request.approve': '{actor} approved {subject}',
    'approvals.request.requestChanges': '{actor} asked for changes to {subject}',
    'approvals.request.cancel': '{actor} withdrew the request {subject}',
    'approvals.request.reopen': '{actor} asked again for approval of {subject}',
    'approvals.request.remind': 'A reminder about {subject} was sent',
    'approvals.request.autoApprove': '{subject} was approved automatically at its due date, as agreed',
    'approvals.document.download': '{actor} downloaded the document of {subject}',
  },
  nav: [
    { area: 'workspace', label: 'Approvals', path: '/approvals', can: ['read', 'Approval'], order: 30 },
    { area: 'staff', label: 'Approvals', path: '/approvals', can: ['read', 'Approval'], order: 30 },
  ],
  // "Request approval" on a file's page. Only the subject name and the registered type are named
  // here (strings, no import): a plugin registering another type adds its own action the same way.
  actions: [{ subject: 'File', label: 'Request approval', path: '/approvals/new?type=files.version&subject=:id', can: ['create', 'Approval'], order: 20 }],
  // The staff overview: requests where the firm must act (the client's own card is the kernel's
  // "waiting on you", fed by waiting.ts).
  widgets: [needsFirmWidget],
  // No widget of its own: the requests waiting for a person's decision reach the kernel's "Waiting
  // on you" card, the /inbox page and the header count through the provider in waiting.ts.

  // Demo data (`atrium demo:seed`, /setup): a request waiting on Ada and one she approved (demo.ts).
  demo: (ctx, demo) => seedApprovalsDemo(depsOf(ctx), demo),

  register(ctx) {
    // Re-open requests when their subject gets a new version, inside the reporter's transaction.
    // The services are resolved when routes are mounted (register only declares).
    ctx.container.resolve(Tokens.Approvables).onRevised(async (trx, revision) => {
      const deps = wired.get(ctx);
      if (deps) await reopenOnRevision(deps, trx, revision);
    });
    // "Waiting on you": the requests waiting for each person's decision (waiting.ts).
    ctx.container.resolve(Tokens.Waiting).register('approvals', approvalsWaiting);
    // Proof of service: decisions on requests shared with the client (evidence.ts).
    registerEvidence(ctx);
  },

  routes({ workspace, staff, link }, ctx) {
    const deps = depsOf(ctx);
    wired.set(ctx, deps);
    workspaceRoutes(workspace, deps);
    staffRoutes(staff, deps);
    linkRoutes(link, deps);
  },

  bootstrap(ctx) {
    // Reminders and the due-date rule, every jobIntervalSeconds. The kernel's job runner lets one
    // process claim each period; inside a run every reminder and every rule decision is claimed
    // again by a unique row or a conditional update, so even two overlapping runs send once.
    const deps = depsOf(ctx);
    const periodMs = ctx.settings.jobIntervalSeconds * 1000;
    running.set(ctx, ctx.container.resolve(Tokens.Jobs).every('approvals.due-work', periodMs, () => runDueWork(deps), { claimMs: Math.max(1000, periodMs - 5_000), runNow: true, onError: (err) => ctx.logger.error({ err }, 'approvals job failed') }));
  },

  async destroy(ctx) {
    await running.get(ctx)?.stop();
  },
});

export { runDueWork };
