// Reads for the approvals plugin. Every workspace query starts from the request's workspace scope;
// a client sees only requests on subjects shared with clients, and (unless they administer the
// workspace) only those they were asked to approve. Anything else answers 404 like a missing row.
import type { Request } from 'express';
import type { Knex } from 'knex';
import type { AppAbility, Db, Trx, WorkspaceScope } from '../../core/index.ts';
import { REQUEST_COLS, normRequest, type RequestRow } from './service.ts';

/** Staff (and owners/admins) see every request of the workspace; they are the ones who ask. */
export const seesAll = (req: Request) => req.ctx.ability.can('create', 'Approval');

/** Requests this person may read in the current workspace (alias `r`). */
export function visibleRequests(req: Request, trx?: Trx): Knex.QueryBuilder {
  const scope = trx ? req.ctx.scope!.in(trx) : req.ctx.scope!;
  return visibleRequestsFor({ scope, ability: req.ctx.ability, workspaceRole: req.ctx.workspaceRole, userId: req.ctx.user!.id });
}

/** The same, for a person described without a request (the audit log's visibility rule). */
export function visibleRequestsFor(v: { scope: Pick<WorkspaceScope, 'table'>; ability: AppAbility; workspaceRole: string | null; userId: string }): Knex.QueryBuilder {
  const q = v.scope.table('approvals_requests', 'r');
  if (!v.ability.can('create', 'Approval')) {
    q.where('r.client_visible', true);
    if (v.workspaceRole !== 'client_admin') {
      const userId = v.userId;
      q.whereExists(function (this: Knex.QueryBuilder) {
        this.select(1).from('approvals_approvers as ap').whereRaw('ap.request_id = r.id').andWhereRaw('ap.workspace_id = r.workspace_id').andWhere('ap.user_id', userId);
      });
    }
  }
  return q;
}

export async function findRequest(req: Request, id: string): Promise<RequestRow | undefined> {
  const row = await visibleRequests(req).where('r.id', id).first(REQUEST_COLS.map((c) => `r.${c}`));
  return row ? normRequest(row) : undefined;
}

/**
 * Limit `q` (requests aliased `r`) to those waiting for `userId` now: pending, asked of them, not
 * yet answered this round, and (sequential) their turn.
 */
export function awaitingUser(q: Knex.QueryBuilder, userId: string): Knex.QueryBuilder {
  return q.where('r.status', 'pending').whereExists(function (this: Knex.QueryBuilder) {
    this.select(1)
      .from('approvals_approvers as aw')
      .whereRaw('aw.request_id = r.id')
      .andWhereRaw('aw.workspace_id = r.workspace_id')
      .andWhere('aw.user_id', userId)
      .andWhere(function (this: Knex.QueryBuilder) {
        this.where('r.sequence', 'parallel').orWhereRaw('aw.position = r.current_position');
      })
      .whereNotExists(function (this: Knex.QueryBuilder) {
        this.select(1).from('approvals_decisions as dw').whereRaw('dw.request_id = r.id').andWhereRaw('dw.round = r.round').andWhereRaw('dw.approver_id = aw.user_id');
      });
  });
}

/** Names of people by id (for history rows), in one query. */
export async function namesOf(db: Db | Trx, ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids.filter(Boolean))];
  if (!unique.length) return new Map();
  const rows = (await db('users').whereIn('id', unique).select('id', 'name')) as Array<{ id: string; name: string }>;
  return new Map(rows.map((r) => [String(r.id), String(r.name)]));
}
