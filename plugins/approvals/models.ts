// View models for the approvals pages, built field by field from rows (never by spreading one):
// what a client sees is exactly what is listed here. Staff-only facts (ip, user agent) are added
// only when the caller says the reader is staff.
import type { Db, Trx } from '../../core/index.ts';
import { approversOf, awaiting, dayString, decisionsOf, type RequestRow, type Status, type Via } from './service.ts';
import { namesOf } from './repo.ts';

export const STATUS_LABELS: Record<Status, string> = {
  pending: 'Waiting for decisions',
  approved: 'Approved',
  changes_requested: 'Changes requested',
  cancelled: 'Withdrawn',
};
const OUTCOME_LABELS: Record<string, string> = { ...STATUS_LABELS, cancelled: 'Withdrawn', superseded: 'Replaced by a newer version' };
const VIA_LABELS: Record<Via, string> = { portal: 'in the portal', link: 'from the email link', rule: 'by the agreed due-date rule' };

export function isOverdue(r: Pick<RequestRow, 'status' | 'due_at'>, now: number): boolean {
  return r.status === 'pending' && r.due_at !== null && r.due_at < now;
}

export function formatDuration(ms: number): string {
  const h = ms / 3_600_000;
  if (ms < 60_000) return 'under a minute';
  if (h < 1) return `${Math.round(ms / 60_000)} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} days`;
}

/** One row of a list. */
export function summary(r: RequestRow, href: string, now: number) {
  return {
    id: r.id,
    href,
    title: r.title,
    subjectTitle: r.subject_title,
    versionNumber: r.version_number,
    status: r.status,
    statusLabel: STATUS_LABELS[r.status],
    dueDay: r.due_at !== null ? dayString(r.due_at) : null,
    overdue: isOverdue(r, now),
    createdAt: r.created_at,
  };
}

/**
 * The full request page: the subject, who is asked and where each stands, and every round's
 * decisions (`view`); with the approvers and who decided this round, read once for the page (the
 * route needs them too, to know whether this person may decide now).
 */
export async function detail(db: Db | Trx, r: RequestRow, opts: { staff: boolean; userId: string | null; label: string; subjectHref: string | null; now: number }) {
  const approvers = await approversOf(db, r.workspace_id, r.id);
  const all = await decisionsOf(db, r.workspace_id, r.id);
  const current = all.filter((d) => d.round === r.round);
  const byApprover = new Map(current.map((d) => [d.approverId, d]));
  const waiting = new Set(awaiting(r, approvers, new Set(byApprover.keys())).map((a) => a.userId));
  const names = await namesOf(db, [...all.map((d) => d.approverId), r.created_by ?? '']);
  const rounds = (await db('approvals_rounds').where({ workspace_id: r.workspace_id, request_id: r.id }).orderBy('round', 'desc').select('round', 'version_number', 'sha256', 'opened_at', 'closed_at', 'outcome')) as Array<Record<string, unknown>>;
  const extra = opts.staff
    ? new Map(
        ((await db('approvals_decisions').where({ workspace_id: r.workspace_id, request_id: r.id }).select('round', 'approver_id', 'ip', 'user_agent')) as Array<Record<string, unknown>>).map((d) => [
          `${d.round}:${d.approver_id}`,
          { ip: d.ip == null ? '' : String(d.ip), userAgent: d.user_agent == null ? '' : String(d.user_agent) },
        ]),
      )
    : new Map<string, { ip: string; userAgent: string }>();
  const view = {
    request: {
      id: r.id,
      title: r.title,
      message: r.message,
      status: r.status,
      statusLabel: STATUS_LABELS[r.status],
      sequential: r.sequence === 'sequential',
      dueDay: r.due_at !== null ? dayString(r.due_at) : null,
      overdue: isOverdue(r, opts.now),
      autoApprove: r.auto_approve,
      round: r.round,
      createdBy: r.created_by ? (names.get(r.created_by) ?? 'Someone no longer here') : 'Someone no longer here',
      createdAt: r.created_at,
      decidedAt: r.decided_at,
      turnaround: opts.staff && r.turnaround_ms !== null ? formatDuration(r.turnaround_ms) : null,
    },
    subject: { label: opts.label, title: r.subject_title, href: opts.subjectHref, versionNumber: r.version_number, sha256: r.sha256 },
    approvers: approvers.map((a) => {
      const d = byApprover.get(a.userId);
      return {
        name: a.name,
        position: a.position,
        me: a.userId === opts.userId,
        state: d ? (d.decision === 'approved' ? (d.via === 'rule' ? 'Approved by the agreed rule' : 'Approved') : 'Changes requested') : waiting.has(a.userId) ? 'Waiting for their decision' : r.status === 'pending' ? 'Not their turn yet' : 'No answer',
        at: d?.createdAt ?? null,
      };
    }),
    history: rounds.map((round) => {
      const n = Number(round.round);
      return {
        round: n,
        versionNumber: Number(round.version_number),
        sha256: String(round.sha256),
        openedAt: Number(round.opened_at),
        closedAt: round.closed_at == null ? null : Number(round.closed_at),
        outcome: round.outcome == null ? 'Open' : (OUTCOME_LABELS[String(round.outcome)] ?? String(round.outcome)),
        decisions: all
          .filter((d) => d.round === n)
          .map((d) => ({
            who: names.get(d.approverId) ?? 'Someone no longer here',
            decision: d.decision === 'approved' ? 'Approved' : 'Requested changes',
            changes: d.decision === 'changes_requested',
            comment: d.comment,
            via: VIA_LABELS[d.via],
            at: d.createdAt,
            sha256: d.sha256,
            versionNumber: d.versionNumber,
            ...(opts.staff ? extra.get(`${d.round}:${d.approverId}`) : {}),
          })),
      };
    }),
  };
  return { view, approvers, decided: new Set(byApprover.keys()) };
}
