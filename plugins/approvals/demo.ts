// The approvals plugin's demo data (the `demo` hook, core/demo.ts): in Northwind, one request
// waiting on Ada (due in a week) and one she has approved, asked by the firm's staff member through
// service.ts (rows, audit events, the mail with her one-click links in the outbox, the notice of
// the outcome). Approvals requires no plugin, so what to approve comes from whatever other plugins'
// demos offer as `approvable` (files offers file versions), read once every demo hook has run.
import { AtriumError, transaction, WorkspaceScope, type ApprovableSubject, type DemoContext } from '../../core/index.ts';
import { DAY, createRequest, dayString, decide, endOfDay, type ApprovalsDeps } from './service.ts';

export function seedApprovalsDemo(deps: ApprovalsDeps, demo: DemoContext): void {
  demo.later(async () => {
    const ws = demo.workspaces.northwind;
    const sam = demo.people['sam.staff'];
    const ada = demo.people.ada;
    if (!ws || !sam || !ada) throw new AtriumError('ATR_NOT_FOUND', 'the demo workspaces and people are missing');
    const offered = demo.offers('approvable').filter((o) => o.workspace === 'northwind');
    const asSam = { actorId: sam.id, ip: null, userAgent: null };
    // Offers are kept from earlier runs too (approvals enabled after files): skip what is gone since.
    const subjects: Array<{ subject: ApprovableSubject; title: string }> = [];
    for (const o of offered) {
      const subject = await deps.approvables.describe(new WorkspaceScope(deps.db, ws.id), String(o.type), String(o.subjectId));
      if (subject) subjects.push({ subject, title: String(o.title) });
    }
    const ask = (s: (typeof subjects)[number], message: string, dueAt: number | null) =>
      transaction(deps.db, async (trx) => {
        const id = await createRequest(deps, trx, ws, asSam, { subject: s.subject, title: s.title, message, sequence: 'parallel', dueAt, autoApprove: false, approverIds: [ada.id] });
        return { id, versionId: s.subject.versionId };
      });
    const [first, second] = subjects;
    if (first) {
      await ask(first, 'This is the scope we discussed on Tuesday. Please approve it, or tell us what to change, by the end of next week.', endOfDay(dayString(demo.clock.now() + 7 * DAY)));
    }
    if (second) {
      const done = await ask(second, 'Our review of the first quarter, for your board pack.', null);
      await transaction(deps.db, (trx) => decide(deps, trx, ws, done.id, { approverId: ada.id, decision: 'approved', comment: 'Looks good, thank you. Approved for the board pack.', via: 'portal', versionId: done.versionId, ip: null, userAgent: null }));
    }
  });
}
