// The approval workflow, independent of HTTP: create a request, ask approvers (a notice by each
// person's preference, with a single-use decision link), record a decision, close a round, re-open
// on a new version of the subject, cancel. Every change runs in the caller's transaction with its
// audit event; decisions are inserted once and never updated (a correction is a new request).
import type { Logger } from 'pino';
import {
  WorkspaceScope,
  type ApprovableRegistry,
  type ApprovableRevision,
  type ApprovableSubject,
  type AuditEntry,
  type Db,
  type LinkService,
  type Token,
  type Tokens,
  type Trx,
  isPostgresClient,
  newId,
  toBool,
  transaction,
} from '../../core/index.ts';
import type { ApprovalsSettings } from './settings.ts';

type Service<K extends keyof typeof Tokens> = (typeof Tokens)[K] extends Token<infer U> ? U : never;

export const DAY = 86_400_000;
export const STATUSES = ['pending', 'approved', 'changes_requested', 'cancelled'] as const;
export type Status = (typeof STATUSES)[number];
export type Decision = 'approved' | 'changes_requested';
export type Via = 'portal' | 'link' | 'rule';

export interface ApprovalsDeps {
  db: Db;
  audit: Service<'Audit'>;
  events: Service<'Events'>;
  notifications: Service<'Notifications'>;
  links: LinkService;
  approvables: ApprovableRegistry;
  clock: { now(): number };
  logger: Logger;
  settings: ApprovalsSettings;
}

export type Actor = Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;
export type Ws = { id: string; slug: string; name: string };

export interface RequestRow {
  id: string;
  workspace_id: string;
  subject_type: string;
  subject_id: string;
  subject_title: string;
  version_id: string;
  version_number: number;
  sha256: string;
  client_visible: boolean;
  title: string;
  message: string;
  sequence: 'parallel' | 'sequential';
  current_position: number | null;
  due_at: number | null;
  auto_approve: boolean;
  status: Status;
  round: number;
  round_opened_at: number;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  decided_at: number | null;
  turnaround_ms: number | null;
}

export const REQUEST_COLS = [
  'id', 'workspace_id', 'subject_type', 'subject_id', 'subject_title', 'version_id', 'version_number', 'sha256', 'client_visible', 'title', 'message', 'sequence',
  'current_position', 'due_at', 'auto_approve', 'status', 'round', 'round_opened_at', 'created_by', 'created_at', 'updated_at', 'decided_at', 'turnaround_ms',
];

const num = (v: unknown) => (v == null ? null : Number(v));

/** One place where both drivers' types become ours (booleans, bigints). */
export function normRequest(r: Record<string, unknown>): RequestRow {
  return {
    ...(r as unknown as RequestRow),
    version_number: Number(r.version_number),
    client_visible: toBool(r.client_visible),
    auto_approve: toBool(r.auto_approve),
    current_position: num(r.current_position),
    due_at: num(r.due_at),
    round: Number(r.round),
    round_opened_at: Number(r.round_opened_at),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    decided_at: num(r.decided_at),
    turnaround_ms: num(r.turnaround_ms),
  };
}

export interface ApproverRow {
  userId: string;
  name: string;
  email: string;
  position: number;
  notifiedAt: number | null;
}

export async function approversOf(db: Db | Trx, workspaceId: string, requestId: string): Promise<ApproverRow[]> {
  const rows = (await db('approvals_approvers as a')
    .join('users as u', 'u.id', 'a.user_id')
    .where({ 'a.workspace_id': workspaceId, 'a.request_id': requestId })
    .orderBy('a.position')
    .select('a.user_id', 'a.position', 'a.notified_at', 'u.name', 'u.email')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ userId: String(r.user_id), name: String(r.name), email: String(r.email), position: Number(r.position), notifiedAt: num(r.notified_at) }));
}

export interface DecisionRow {
  round: number;
  approverId: string;
  decidedBy: string | null;
  decision: Decision;
  comment: string;
  versionId: string;
  versionNumber: number;
  sha256: string;
  via: Via;
  createdAt: number;
}

export async function decisionsOf(db: Db | Trx, workspaceId: string, requestId: string, round?: number): Promise<DecisionRow[]> {
  const q = db('approvals_decisions').where({ workspace_id: workspaceId, request_id: requestId }).orderBy('created_at').orderBy('id');
  if (round !== undefined) q.andWhere('round', round);
  const rows = (await q.select('round', 'approver_id', 'decided_by', 'decision', 'comment', 'version_id', 'version_number', 'sha256', 'via', 'created_at')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    round: Number(r.round),
    approverId: String(r.approver_id),
    decidedBy: r.decided_by == null ? null : String(r.decided_by),
    decision: r.decision as Decision,
    comment: String(r.comment ?? ''),
    versionId: String(r.version_id),
    versionNumber: Number(r.version_number),
    sha256: String(r.sha256),
    via: r.via as Via,
    createdAt: Number(r.created_at),
  }));
}

/** Whose answer the current round still waits for: everyone undecided (parallel) or the one whose turn it is. */
export function awaiting(r: Pick<RequestRow, 'status' | 'sequence' | 'current_position'>, approvers: ApproverRow[], decided: Set<string>): ApproverRow[] {
  if (r.status !== 'pending') return [];
  const open = approvers.filter((a) => !decided.has(a.userId));
  if (r.sequence === 'parallel') return open;
  return open.filter((a) => a.position === r.current_position);
}

const lockRequest = async (trx: Trx, workspaceId: string, id: string): Promise<RequestRow | undefined> => {
  const q = trx('approvals_requests').where({ workspace_id: workspaceId, id }).first(REQUEST_COLS);
  const row = await (isPostgresClient(trx) ? q.forUpdate() : q);
  return row ? normRequest(row) : undefined;
};

/** A request's title as a name in a sentence: “Approve Q1 brand guidelines”. */
const quoted = (title: string) => `“${title}”`;

/** Notify `userIds` (with a fresh single-use decision link each), by their own preference. */
async function ask(deps: ApprovalsDeps, trx: Trx, ws: Ws, r: RequestRow, userIds: string[], kind: 'new' | 'next' | 'reopened' | 'reminder', note = ''): Promise<void> {
  if (!userIds.length) return;
  const now = deps.clock.now();
  const due = r.due_at ? ` It is due on ${dayString(r.due_at)} (UTC)${r.auto_approve ? ', and if no answer is given by then it counts as approved, as agreed' : ''}.` : '';
  // The title is the requester's words and often starts with a verb ("Approve Q1 brand
  // guidelines"): it is always quoted, as a name, never the object of our own verb.
  const t = quoted(r.title);
  const lead = {
    new: `Your approval is requested: ${t} (${r.subject_title}, version ${r.version_number}).`,
    next: `It is your turn to decide on ${t} (${r.subject_title}, version ${r.version_number}).`,
    reopened: `A new version of ${r.subject_title} (version ${r.version_number}) was uploaded, so ${t} needs your decision again.`,
    reminder: `A reminder: ${t} (${r.subject_title}, version ${r.version_number}) is waiting for your decision.`,
  }[kind];
  const subject = { new: `Approval requested: ${t}`, next: `Your approval is needed: ${t}`, reopened: `New version to approve: ${t}`, reminder: `Reminder: ${t} is waiting for your decision` }[kind];
  const notices = [];
  for (const userId of userIds) {
    const url = await deps.links.issue(trx, { plugin: 'approvals', purpose: 'decide', workspaceId: ws.id, userId, subjectId: r.id, ttlMs: deps.settings.linkDays * DAY });
    notices.push({
      userId,
      workspaceId: ws.id,
      kind: `approvals.${kind}`,
      subject,
      text: `${lead}${r.message ? ` Message: ${r.message}` : ''}${note}${due} Open the link to see the document and approve or request changes.`,
      // The notice on record (and a digest) points at the request in the portal; only the mail
      // sent at once carries the single-use decision link, which is never stored readable.
      link: `/w/${ws.slug}/approvals/r/${r.id}`,
      mailLink: { url, label: 'Review and decide' },
    });
  }
  await trx('approvals_approvers').where({ workspace_id: ws.id, request_id: r.id }).whereIn('user_id', userIds).update({ notified_at: now });
  await deps.notifications.notify(trx, notices);
}

/** Tell the person who asked (and, for a final answer, nobody else) what happened. */
async function tellRequester(deps: ApprovalsDeps, trx: Trx, ws: Ws, r: RequestRow, subject: string, text: string): Promise<void> {
  if (!r.created_by) return;
  await deps.notifications.notify(trx, [{ userId: r.created_by, workspaceId: ws.id, kind: 'approvals.outcome', subject, text, link: `/w/${ws.slug}/approvals/r/${r.id}` }]);
}

export interface CreateInput {
  subject: ApprovableSubject;
  title: string;
  message: string;
  sequence: 'parallel' | 'sequential';
  dueAt: number | null;
  autoApprove: boolean;
  approverIds: string[];
}

export async function createRequest(deps: ApprovalsDeps, trx: Trx, ws: Ws, actor: Actor, input: CreateInput): Promise<string> {
  const id = newId();
  const now = deps.clock.now();
  const scope = new WorkspaceScope(trx, ws.id);
  const s = input.subject;
  const row: RequestRow = {
    id,
    workspace_id: ws.id,
    subject_type: s.type,
    subject_id: s.subjectId,
    subject_title: s.title.slice(0, 255),
    version_id: s.versionId,
    version_number: s.versionNumber,
    sha256: s.sha256,
    client_visible: s.clientVisible,
    title: input.title,
    message: input.message,
    sequence: input.sequence,
    current_position: input.sequence === 'sequential' ? 1 : null,
    due_at: input.dueAt,
    auto_approve: input.dueAt !== null && input.autoApprove,
    status: 'pending',
    round: 1,
    round_opened_at: now,
    created_by: actor.actorId ?? null,
    created_at: now,
    updated_at: now,
    decided_at: null,
    turnaround_ms: null,
  };
  await scope.insert('approvals_requests', { ...row });
  await scope.insert('approvals_approvers', input.approverIds.map((userId, i) => ({ id: newId(now), request_id: id, user_id: userId, position: i + 1, notified_at: null })));
  await scope.insert('approvals_rounds', { id: newId(now), request_id: id, round: 1, version_id: s.versionId, version_number: s.versionNumber, sha256: s.sha256, opened_at: now, closed_at: null, outcome: null });
  await deps.audit.record(trx, {
    ...actor,
    workspaceId: ws.id,
    action: 'approvals.request.create',
    subjectType: 'Approval',
    subjectId: id,
    detail: { title: input.title, subjectType: s.type, subjectId: s.subjectId, versionId: s.versionId, sha256: s.sha256, sequence: input.sequence, approvers: input.approverIds, dueAt: row.due_at, autoApprove: row.auto_approve },
  });
  await ask(deps, trx, ws, row, input.sequence === 'sequential' ? input.approverIds.slice(0, 1) : input.approverIds, 'new');
  deps.events.publish(trx, 'approvals.request.created', { workspaceId: ws.id, requestId: id });
  return id;
}

/** Close the current round with a final outcome. */
async function close(deps: ApprovalsDeps, trx: Trx, ws: Ws, r: RequestRow, outcome: 'approved' | 'changes_requested' | 'cancelled', now: number): Promise<void> {
  const final = outcome !== 'cancelled';
  await trx('approvals_requests')
    .where({ workspace_id: ws.id, id: r.id })
    .update({ status: outcome, current_position: null, updated_at: now, decided_at: final ? now : null, turnaround_ms: final ? now - r.created_at : null });
  await trx('approvals_rounds').where({ workspace_id: ws.id, request_id: r.id, round: r.round }).update({ closed_at: now, outcome });
  // Nothing is left to decide: every unused link for this request dies.
  await deps.links.revoke(trx, { plugin: 'approvals', subjectId: r.id });
  deps.events.publish(trx, 'approvals.request.closed', { workspaceId: ws.id, requestId: r.id, outcome, turnaroundMs: final ? now - r.created_at : null });
}

export type DecideResult = { ok: true; status: Status } | { ok: false; reason: 'closed' | 'stale' | 'not_approver' | 'already_decided' | 'not_your_turn' };

export interface DecideInput {
  /** The approver whose answer this is (the link's person, or the signed-in user). */
  approverId: string;
  decision: Decision;
  comment: string;
  via: Via;
  /** The version the person was shown: a newer one since means the page is stale. */
  versionId: string;
  ip: string | null;
  userAgent: string | null;
}

/** Record one approver's decision in `trx` and move the request on. */
export async function decide(deps: ApprovalsDeps, trx: Trx, ws: Ws, requestId: string, input: DecideInput): Promise<DecideResult> {
  const r = await lockRequest(trx, ws.id, requestId);
  if (!r || r.status !== 'pending') return { ok: false, reason: 'closed' };
  if (input.versionId !== r.version_id) return { ok: false, reason: 'stale' };
  const approvers = await approversOf(trx, ws.id, r.id);
  const me = approvers.find((a) => a.userId === input.approverId);
  if (!me) return { ok: false, reason: 'not_approver' };
  const decided = await decisionsOf(trx, ws.id, r.id, r.round);
  const done = new Set(decided.map((d) => d.approverId));
  if (done.has(me.userId)) return { ok: false, reason: 'already_decided' };
  if (!awaiting(r, approvers, done).some((a) => a.userId === me.userId)) return { ok: false, reason: 'not_your_turn' };
  const now = deps.clock.now();
  await new WorkspaceScope(trx, ws.id).insert('approvals_decisions', {
    id: newId(now),
    request_id: r.id,
    round: r.round,
    approver_id: me.userId,
    decided_by: me.userId,
    decision: input.decision,
    comment: input.comment,
    version_id: r.version_id,
    version_number: r.version_number,
    sha256: r.sha256,
    via: input.via,
    ip: input.ip?.slice(0, 64) ?? null,
    user_agent: input.userAgent?.slice(0, 400) ?? null,
    created_at: now,
  });
  await deps.audit.record(trx, {
    actorId: me.userId,
    ip: input.ip,
    userAgent: input.userAgent,
    workspaceId: ws.id,
    action: input.decision === 'approved' ? 'approvals.request.approve' : 'approvals.request.requestChanges',
    subjectType: 'Approval',
    subjectId: r.id,
    detail: { round: r.round, versionId: r.version_id, versionNumber: r.version_number, sha256: r.sha256, via: input.via, ...(input.comment ? { comment: input.comment.slice(0, 2000) } : {}) },
  });
  deps.events.publish(trx, 'approvals.decision.recorded', { workspaceId: ws.id, requestId: r.id, userId: me.userId, decision: input.decision, sequence: r.sequence });

  if (input.decision === 'changes_requested') {
    await close(deps, trx, ws, r, 'changes_requested', now);
    await tellRequester(deps, trx, ws, r, `Changes requested on ${quoted(r.title)}`, `${me.name} asked for changes to ${r.subject_title} (version ${r.version_number}): ${input.comment}`);
    return { ok: true, status: 'changes_requested' };
  }
  done.add(me.userId);
  if (approvers.every((a) => done.has(a.userId))) {
    await close(deps, trx, ws, r, 'approved', now);
    await tellRequester(deps, trx, ws, r, `${quoted(r.title)} was approved`, `${r.subject_title} (version ${r.version_number}) was approved by everyone asked.`);
    return { ok: true, status: 'approved' };
  }
  if (r.sequence === 'sequential') {
    const next = approvers.find((a) => !done.has(a.userId))!;
    await trx('approvals_requests').where({ workspace_id: ws.id, id: r.id }).update({ current_position: next.position, updated_at: now });
    await ask(deps, trx, ws, { ...r, current_position: next.position }, [next.userId], 'next', ` ${me.name} has approved it.`);
  } else {
    await trx('approvals_requests').where({ workspace_id: ws.id, id: r.id }).update({ updated_at: now });
  }
  return { ok: true, status: 'pending' };
}

/** Staff withdraw a pending request; the approvers still asked are told. */
export async function cancelRequest(deps: ApprovalsDeps, trx: Trx, ws: Ws, requestId: string, actor: Actor): Promise<boolean> {
  const r = await lockRequest(trx, ws.id, requestId);
  if (!r || r.status !== 'pending') return false;
  const now = deps.clock.now();
  const approvers = await approversOf(trx, ws.id, r.id);
  const done = new Set((await decisionsOf(trx, ws.id, r.id, r.round)).map((d) => d.approverId));
  const asked = awaiting(r, approvers, done);
  await close(deps, trx, ws, r, 'cancelled', now);
  await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'approvals.request.cancel', subjectType: 'Approval', subjectId: r.id, detail: { round: r.round } });
  await deps.notifications.notify(
    trx,
    asked.map((a) => ({ userId: a.userId, workspaceId: ws.id, kind: 'approvals.cancelled', subject: `${quoted(r.title)} was withdrawn`, text: `The request ${quoted(r.title)} was withdrawn. Nothing more is needed from you.` })),
  );
  return true;
}

/**
 * A subject got a new current version (reported through the kernel's approvables registry, in the
 * reporter's transaction): every request on it that is not cancelled re-opens against the new
 * version in a new round; old links die and the approvers are asked again.
 */
export async function reopenOnRevision(deps: ApprovalsDeps, trx: Trx, rev: ApprovableRevision): Promise<number> {
  const rows = ((await trx('approvals_requests')
    .where({ workspace_id: rev.workspaceId, subject_type: rev.type, subject_id: rev.subjectId })
    .whereIn('status', ['pending', 'approved', 'changes_requested'])
    .whereNot('version_id', rev.versionId)
    .select(REQUEST_COLS)) as Array<Record<string, unknown>>).map(normRequest);
  if (!rows.length) return 0;
  const wsRow = (await trx('workspaces').where({ id: rev.workspaceId }).first('id', 'slug', 'name')) as Ws | undefined;
  if (!wsRow) return 0;
  const ws: Ws = { id: String(wsRow.id), slug: String(wsRow.slug), name: String(wsRow.name) };
  const subject = await deps.approvables.describe(new WorkspaceScope(trx, ws.id), rev.type, rev.subjectId, { versionId: rev.versionId });
  if (!subject) return 0;
  const now = deps.clock.now();
  for (const r of rows) {
    const round = r.round + 1;
    // A due date that has passed would make the new round overdue at once (and approve it by the
    // rule unseen): the new round gets the time the last one had.
    const dueAt = r.due_at !== null && r.due_at <= now ? now + Math.max(DAY, r.due_at - r.round_opened_at) : r.due_at;
    if (r.status === 'pending') await trx('approvals_rounds').where({ workspace_id: ws.id, request_id: r.id, round: r.round }).update({ closed_at: now, outcome: 'superseded' });
    await deps.links.revoke(trx, { plugin: 'approvals', subjectId: r.id });
    const next: RequestRow = {
      ...r,
      subject_title: subject.title.slice(0, 255),
      version_id: subject.versionId,
      version_number: subject.versionNumber,
      sha256: subject.sha256,
      client_visible: subject.clientVisible,
      status: 'pending',
      round,
      round_opened_at: now,
      current_position: r.sequence === 'sequential' ? 1 : null,
      due_at: dueAt,
      updated_at: now,
      decided_at: null,
      turnaround_ms: null,
    };
    await trx('approvals_requests').where({ workspace_id: ws.id, id: r.id }).update({
      subject_title: next.subject_title,
      version_id: next.version_id,
      version_number: next.version_number,
      sha256: next.sha256,
      client_visible: next.client_visible,
      status: 'pending',
      round,
      round_opened_at: now,
      current_position: next.current_position,
      due_at: dueAt,
      updated_at: now,
      decided_at: null,
      turnaround_ms: null,
    });
    await new WorkspaceScope(trx, ws.id).insert('approvals_rounds', { id: newId(now), request_id: r.id, round, version_id: subject.versionId, version_number: subject.versionNumber, sha256: subject.sha256, opened_at: now, closed_at: null, outcome: null });
    await deps.audit.record(trx, {
      actorId: null,
      workspaceId: ws.id,
      action: 'approvals.request.reopen',
      subjectType: 'Approval',
      subjectId: r.id,
      detail: { round, previousStatus: r.status, fromVersion: r.version_number, toVersion: subject.versionNumber, versionId: subject.versionId, sha256: subject.sha256, dueAt },
    });
    const approvers = await approversOf(trx, ws.id, r.id);
    await ask(deps, trx, ws, next, (r.sequence === 'sequential' ? approvers.slice(0, 1) : approvers).map((a) => a.userId), 'reopened');
    deps.events.publish(trx, 'approvals.request.reopened', { workspaceId: ws.id, requestId: r.id, round });
  }
  return rows.length;
}

// ---- days (UTC)

export const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY;
export const dayString = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** A due date typed as YYYY-MM-DD means "by the end of that day" (UTC). */
export const endOfDay = (day: string) => Date.parse(`${day}T00:00:00.000Z`) + DAY - 1;

/** The days (start, UTC) on which the early and the due-date reminder go out; weekends skipped if configured. */
export function reminderDays(dueAt: number, s: Pick<ApprovalsSettings, 'remindDaysBefore' | 'remindOnDueDate' | 'skipWeekends' | 'weekendDays'>): { before: number | null; due: number | null } {
  const off = (d: number) => s.skipWeekends && s.weekendDays.includes(new Date(d).getUTCDay());
  const dueDay = dayStart(dueAt);
  let due: number | null = null;
  if (s.remindOnDueDate) {
    due = dueDay;
    for (let i = 0; i < 7 && off(due); i++) due -= DAY;
  }
  let before: number | null = null;
  if (s.remindDaysBefore > 0) {
    let d = dueDay;
    for (let n = 0, i = 0; n < s.remindDaysBefore && i < 400; i++) {
      d -= DAY;
      if (!off(d)) n++;
    }
    before = d;
  }
  if (before !== null && due !== null && before >= due) before = null;
  return { before, due };
}

// ---- the due-date job: reminders and the agreed rule, safe with several processes

export interface JobResult {
  reminded: number;
  autoApproved: number;
}

export async function runDueWork(deps: ApprovalsDeps): Promise<JobResult> {
  const now = deps.clock.now();
  const { settings } = deps;
  const horizon = now + (settings.remindDaysBefore * 3 + 7) * DAY;
  // A firm-wide job: each row carries its workspace, and everything below is keyed by it.
  const due = ((await deps.db('approvals_requests').where('status', 'pending').whereNotNull('due_at').andWhere('due_at', '<=', horizon).orderBy('due_at').limit(500).select(REQUEST_COLS)) as Array<Record<string, unknown>>).map(normRequest);
  const result: JobResult = { reminded: 0, autoApproved: 0 };
  const today = dayStart(now);
  const weekend = settings.skipWeekends && settings.weekendDays.includes(new Date(today).getUTCDay());
  for (const r of due) {
    try {
      if (r.auto_approve && r.due_at! < now) {
        if (await autoApprove(deps, r, now)) result.autoApproved++;
        continue;
      }
      if (weekend || r.due_at! < now) continue;
      const days = reminderDays(r.due_at!, settings);
      const kind = days.due !== null && today >= days.due ? 'due' : days.before !== null && today >= days.before ? 'before' : null;
      if (!kind) continue;
      result.reminded += await remind(deps, r, kind, now);
    } catch (err) {
      deps.logger.error({ err, requestId: r.id }, 'approval due-date work failed');
    }
  }
  return result;
}

async function wsOf(trx: Db | Trx, id: string): Promise<Ws> {
  const w = (await trx('workspaces').where({ id }).first('id', 'slug', 'name')) as Ws;
  return { id: String(w.id), slug: String(w.slug), name: String(w.name) };
}

/** Remind whoever the round still waits for, once per person, kind and round (the unique claim). */
async function remind(deps: ApprovalsDeps, seen: RequestRow, kind: 'before' | 'due', now: number): Promise<number> {
  const { db } = deps;
  const today = dayStart(now);
  return transaction(db, async (trx) => {
    const r = await lockRequest(trx, seen.workspace_id, seen.id);
    if (!r || r.status !== 'pending' || r.round !== seen.round) return 0;
    const approvers = await approversOf(trx, r.workspace_id, r.id);
    const done = new Set((await decisionsOf(trx, r.workspace_id, r.id, r.round)).map((d) => d.approverId));
    // Asked today already (a new request, the next in line, a re-opened round): no reminder yet.
    const targets = awaiting(r, approvers, done).filter((a) => a.notifiedAt === null || dayStart(a.notifiedAt) < today);
    const claimed: string[] = [];
    for (const a of targets) {
      const id = newId(now);
      await trx('approvals_reminders')
        .insert({ id, workspace_id: r.workspace_id, request_id: r.id, round: r.round, user_id: a.userId, kind, sent_at: now })
        .onConflict(['request_id', 'round', 'user_id', 'kind'])
        .ignore();
      const won = await trx('approvals_reminders').where({ workspace_id: r.workspace_id, request_id: r.id, round: r.round, user_id: a.userId, kind }).first('id');
      if (won && String(won.id) === id) claimed.push(a.userId);
    }
    if (!claimed.length) return 0;
    const ws = await wsOf(trx, r.workspace_id);
    await ask(deps, trx, ws, r, claimed, 'reminder');
    await deps.audit.record(trx, { actorId: null, workspaceId: ws.id, action: 'approvals.request.remind', subjectType: 'Approval', subjectId: r.id, detail: { round: r.round, kind, to: claimed } });
    return claimed.length;
  });
}

/** The agreed rule: no answer by the due date counts as approved, for everyone still undecided. */
async function autoApprove(deps: ApprovalsDeps, seen: RequestRow, now: number): Promise<boolean> {
  return transaction(deps.db, async (trx) => {
    const r = await lockRequest(trx, seen.workspace_id, seen.id);
    if (!r || r.status !== 'pending' || r.round !== seen.round || !r.auto_approve || r.due_at === null || r.due_at >= now) return false;
    // The claim: only one process turns this round's status; the others find it closed.
    const n = await trx('approvals_requests').where({ workspace_id: r.workspace_id, id: r.id, status: 'pending', round: r.round }).update({ updated_at: now });
    if (Number(n) !== 1) return false;
    const ws = await wsOf(trx, r.workspace_id);
    const approvers = await approversOf(trx, ws.id, r.id);
    const done = new Set((await decisionsOf(trx, ws.id, r.id, r.round)).map((d) => d.approverId));
    const silent = approvers.filter((a) => !done.has(a.userId));
    await new WorkspaceScope(trx, ws.id).insert(
      'approvals_decisions',
      silent.map((a) => ({
        id: newId(now),
        request_id: r.id,
        round: r.round,
        approver_id: a.userId,
        decided_by: null,
        decision: 'approved',
        comment: '',
        version_id: r.version_id,
        version_number: r.version_number,
        sha256: r.sha256,
        via: 'rule',
        ip: null,
        user_agent: 'atrium approvals job',
        created_at: now,
      })),
    );
    await deps.audit.record(trx, {
      actorId: null,
      userAgent: 'atrium approvals job',
      workspaceId: ws.id,
      action: 'approvals.request.autoApprove',
      subjectType: 'Approval',
      subjectId: r.id,
      detail: { round: r.round, dueAt: r.due_at, versionId: r.version_id, sha256: r.sha256, approvers: silent.map((a) => a.userId) },
    });
    await close(deps, trx, ws, r, 'approved', now);
    await tellRequester(deps, trx, ws, r, `${quoted(r.title)} was approved by the agreed rule`, `No answer was given for ${r.subject_title} (version ${r.version_number}) by the due date, so it counts as approved, as agreed.`);
    return true;
  });
}

