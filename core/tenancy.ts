// Tenancy: the current workspace's scoped query helper, and the schema helpers that make
// plugin tables tenant-safe (workspace_id NOT NULL; children reference their parent together
// with the workspace, so a row can never point at another workspace's parent).
import type { Knex } from 'knex';
import type { Db, Trx } from './db/index.ts';

export class WorkspaceScope {
  constructor(
    private readonly db: Db | Trx,
    readonly workspaceId: string,
  ) {}

  /** The same scope inside a transaction. */
  in(trx: Trx): WorkspaceScope {
    return new WorkspaceScope(trx, this.workspaceId);
  }

  /** A query builder on `table` already filtered to this workspace (`alias` qualifies the column). */
  table(table: string, alias?: string): Knex.QueryBuilder {
    const ref = alias ?? table;
    return this.db(alias ? `${table} as ${alias}` : table).where(`${ref}.workspace_id`, this.workspaceId);
  }

  /** Insert rows into `table` with this workspace's id set; a row naming another workspace is refused. */
  async insert<T extends Record<string, unknown>>(table: string, rows: T | T[]): Promise<void> {
    const list = (Array.isArray(rows) ? rows : [rows]).map((r) => {
      if (r.workspace_id !== undefined && r.workspace_id !== this.workspaceId) {
        throw new Error(`refusing to insert into ${table} for another workspace`);
      }
      return { ...r, workspace_id: this.workspaceId };
    });
    if (list.length) await this.db(table).insert(list);
  }

  /**
   * Insert `row` into `table` with this workspace's id or, when a row with the same `conflict`
   * columns exists, update its `merge` columns. `conflict` must include `workspace_id`, so the
   * update can only reach this workspace's row. Add `.where(…)` to update only when it changes
   * something (a row the WHERE leaves out is not written at all).
   */
  upsert(table: string, row: Record<string, unknown>, conflict: string[], merge: string[]): Knex.QueryBuilder {
    if (!conflict.includes('workspace_id')) throw new Error(`upsert into ${table}: the conflict target must include workspace_id`);
    if (row.workspace_id !== undefined && row.workspace_id !== this.workspaceId) throw new Error(`refusing to upsert into ${table} for another workspace`);
    return this.db(table)
      .insert({ ...row, workspace_id: this.workspaceId })
      .onConflict(conflict)
      .merge(merge) as unknown as Knex.QueryBuilder;
  }
}

/** Migration helper: `workspace_id NOT NULL` referencing workspaces, plus UNIQUE(workspace_id, id) for children. */
export function workspaceOwned(t: Knex.CreateTableBuilder): void {
  t.string('workspace_id', 36).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
  t.unique(['workspace_id', 'id']);
  t.index(['workspace_id']);
}

/** Migration helper: a child's reference to its parent, together with the workspace (composite FK). */
export function workspaceChild(t: Knex.CreateTableBuilder, column: string, parentTable: string): void {
  t.string(column, 36).notNullable();
  t.foreign(['workspace_id', column]).references(['workspace_id', 'id']).inTable(parentTable).onDelete('CASCADE');
}
