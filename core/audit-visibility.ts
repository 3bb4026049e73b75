// Who may see an audit event. An event shown to a person passes the same permission test as its
// subject: the plugin that records events about a subject type declares, in its definition
// (`permissions.audit`), how to tell whether a person may read that subject, and every activity
// view asks here, in SQL, for the rows it lists. A subject type nobody declared is seen only by
// those who may manage everything (firm owners and admins): fail closed, never open.
//
// Three forms, from the simplest:
//   { read: ['read', 'Workspace'] }                     the type as a whole (no row to test)
//   { read: ['read', 'File'], table?: 'files_files' }   the subject's row, through accessibleBy
//   { read: ['history', 'File'], via: { table: 'files_versions', column: 'file_id' } }
//                                                       a child row whose column names the subject's row
//   { visible: (viewer) => query selecting the ids }    the owner's own visibility query (approvals)
// `path` (under /w/<slug>) is the subject's page; the isolation kit opens it for every event a
// person can see and expects it to answer 200 (test/kit/isolation.ts).
import type { Knex } from 'knex';
import { z } from 'zod';
import { AtriumError } from './errors.ts';
import type { Db, Trx } from './db/index.ts';
import { accessibleBy, rowConditionFor, type AppAbility } from './permissions.ts';
import type { WorkspaceScope } from './tenancy.ts';

/**
 * The person reading the activity of one workspace, or of several (a staff member's feed across
 * their clients: the same role in each, and a scope whose `table()` covers all of them).
 */
export interface AuditViewer {
  ability: AppAbility;
  userId: string;
  workspaceId: string;
  workspaceRole: string | null;
  /** Queries already filtered to the workspace (or workspaces). */
  scope: Pick<WorkspaceScope, 'table'>;
  db: Db | Trx;
}

export interface AuditSubjectRule {
  /** The (action, permission subject) a person needs on the subject. */
  read?: [string, string];
  /**
   * The subject's table when it is not `permissions.tables[read[1]]`. With `visible`, it names
   * the table whose rows the isolation kit writes test events about.
   */
  table?: string;
  /** The event's subject_id is a row of `via.table` whose `via.column` is the subject's id. */
  via?: { table: string; column: string };
  /**
   * A query selecting the ids of the subjects this viewer may read (one column). `subjects` is
   * the registry itself, for a rule that depends on other subjects' rules (a thread about a file).
   */
  visible?: (viewer: AuditViewer, subjects: AuditSubjects) => Knex.QueryBuilder;
  /** The subject's page under the workspace, with `:id` (e.g. `/files/f/:id`; with `via`, the parent's id). */
  path?: string;
  /** The subject's column that names it in activity sentences (`name`, `title`). */
  label?: string;
  /** What to call one when its name is unknown or it is gone: "file" reads "a file". */
  noun?: string;
}

const ident = z.string().regex(/^[a-z][a-z0-9_]*$/);
export const auditRuleSchema = z
  .strictObject({
    read: z.tuple([z.string().min(1), z.string().regex(/^[A-Z][A-Za-z0-9]*$/)]).optional(),
    table: ident.optional(),
    via: z.strictObject({ table: ident, column: ident }).optional(),
    visible: z.custom<(v: AuditViewer, subjects: AuditSubjects) => Knex.QueryBuilder>((v) => typeof v === 'function', 'must be a function').optional(),
    path: z.string().regex(/^\/[A-Za-z0-9/_-]*:id[A-Za-z0-9/_-]*$/, 'must be a path under the workspace with :id').optional(),
    label: ident.optional(),
    noun: z.string().min(1).max(40).optional(),
  })
  .refine((r) => Boolean(r.read) !== Boolean(r.visible), 'declare either `read` or `visible`')
  .refine((r) => !(r.via && !r.read), '`via` needs `read`');
export const auditRulesSchema = z.record(z.string().regex(/^[A-Z][A-Za-z0-9]*$/), auditRuleSchema);

interface Entry extends AuditSubjectRule {
  owner: string;
  /** The resolved table of the subject's rows (read form), when it has rows. */
  rowsTable?: string;
}

/** The registry: one rule per subject type, from the kernel and each plugin. */
export class AuditSubjects {
  private readonly rules = new Map<string, Entry>();

  seed(owner: string, rules: Record<string, AuditSubjectRule>, tableOf: (subject: string) => string | undefined): void {
    for (const [type, rule] of Object.entries(rules)) {
      const prev = this.rules.get(type);
      if (prev) throw new AtriumError('ATR_PLUGIN_DUPLICATE_SUBJECT', `audit subject "${type}" declared by ${prev.owner} and ${owner}`);
      const rowsTable = rule.read ? (rule.table ?? tableOf(rule.read[1])) : rule.table;
      if (rule.via && !rowsTable) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: audit subject "${type}" uses via, but ${rule.read![1]} has no table`);
      this.rules.set(type, { ...rule, owner, rowsTable });
    }
  }

  /** Which plugin declared the rule of `type`. */
  ownerOf(type: string): string | undefined {
    return this.rules.get(type)?.owner;
  }

  get(type: string): (Entry & AuditSubjectRule) | undefined {
    return this.rules.get(type);
  }

  types(): string[] {
    return [...this.rules.keys()];
  }

  /**
   * The rows of `audit_events as e` this viewer may see, as one where() group (`alias` names another
   * table with the same three columns, subject_type, subject_id and workspace_id: a thread about a
   * subject is listed to whoever may read its subject, by the same rule). Firm owners and
   * admins (manage all) see every row; anyone else sees an event only when its subject type is
   * declared and its subject passes the declared test. Nothing passes -> `1 = 0`.
   */
  filter(viewer: AuditViewer, alias = 'e', only?: (type: string) => boolean): (qb: Knex.QueryBuilder) => void {
    if (!/^[a-z][a-z0-9_]*$/.test(alias)) throw new Error(`audit filter: bad alias ${alias}`);
    const e = alias;
    const { ability } = viewer;
    if (ability.can('manage', 'all')) return () => {};
    const rules = [...this.rules].filter(([type]) => !only || only(type));
    const registry = this;
    return (qb) => {
      qb.where(function (this: Knex.QueryBuilder) {
        this.whereRaw('1 = 0');
        for (const [type, rule] of rules) {
          if (rule.visible) {
            const ids = rule.visible(viewer, registry);
            this.orWhere(function (this: Knex.QueryBuilder) {
              this.where(`${e}.subject_type`, type).whereIn(`${e}.subject_id`, ids);
            });
            continue;
          }
          const [action, subject] = rule.read!;
          if (!rule.rowsTable) {
            // A type as a whole (the workspace, its members, its log): no row to test.
            if (ability.can(action, subject)) this.orWhere(`${e}.subject_type`, type);
            continue;
          }
          const cond = rowConditionFor(ability, action, subject);
          if (!cond) continue;
          const table = rule.rowsTable;
          const via = rule.via;
          this.orWhere(function (this: Knex.QueryBuilder) {
            this.where(`${e}.subject_type`, type).whereExists(function (this: Knex.QueryBuilder) {
              if (via) {
                this.select(1)
                  .from(`${via.table} as av`)
                  .join(`${table} as s`, function (this: Knex.JoinClause) {
                    this.on('s.id', '=', `av.${via.column}`).andOn('s.workspace_id', '=', 'av.workspace_id');
                  })
                  .whereRaw(`av.id = ${e}.subject_id`)
                  .andWhereRaw(`av.workspace_id = ${e}.workspace_id`);
              } else {
                this.select(1).from(`${table} as s`).whereRaw(`s.id = ${e}.subject_id`);
              }
              // The event's own workspace: one viewer's filter also serves a feed across several.
              this.andWhereRaw(`s.workspace_id = ${e}.workspace_id`).modify(accessibleBy(ability, action, subject, (c) => `s.${c}`));
            });
          });
          // An event about "all of them" (no subject id, e.g. a zip of a selection) only for
          // those whose right on the subject has no condition at all.
          if (cond.operator === 'and' && Array.isArray(cond.value) && cond.value.length === 0) {
            this.orWhere(function (this: Knex.QueryBuilder) {
              this.where(`${e}.subject_type`, type).whereNull(`${e}.subject_id`);
            });
          }
        }
      });
    };
  }
}
