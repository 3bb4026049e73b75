// Subject threads: a discussion attached to any subject (a file, an approval request, an invoice,
// later a ticket), without the subject's plugin knowing who provides discussions. One plugin (the
// messaging plugin) registers as the provider; a subject's page asks `req.ctx.subjectThread(type,
// id)` and renders `{{> core/subject-thread thread=…}}`, which loads the provider's fragment after
// the page (so the page itself pays no query for it).
//
// Who may read a subject's discussion is who may read the subject: the rule its owner already
// declared for the activity log (`permissions.audit`, core/audit-visibility.ts), so the thread,
// the subject's page and its events can never disagree. A subject type can carry a thread when
// that rule names its table, its label column and its page (`path`).
import type { Knex } from 'knex';
import type { AuditSubjects, AuditViewer } from './audit-visibility.ts';
import type { Db, Trx } from './db/index.ts';
import { AtriumError } from './errors.ts';
import { accessibleBy, type AppAbility, type PermissionRegistry } from './permissions.ts';
import { WorkspaceScope } from './tenancy.ts';

/** A person who may read a thread, with the ability their role gives them in its workspace. */
export interface ThreadReader {
  id: string;
  name: string;
  email: string;
  firmRole: string | null;
  /** Their role in the workspace, or null for a firm owner or admin who is not a member. */
  role: string | null;
  ability: AppAbility;
}

export interface SubjectThreadProvider {
  /** The (action, subject) a person needs to read discussions at all (`['read', 'Thread']`). */
  can: [string, string];
  /** The discussion fragment of a subject, under /w/<slug> (`/messaging/on/File/<id>`). */
  path(type: string, id: string): string;
}

/** A subject a thread is about, as its reader may see it. */
export interface ThreadSubject {
  type: string;
  id: string;
  /** Its name (the rule's label column). */
  label: string;
  /** Its page under /w/<slug>. */
  path: string;
  /** What to call one ("file"). */
  noun: string;
}

/** Whether a subject type's audit rule lets it carry a thread: a table, a label and a page. */
function carriesThread(audit: AuditSubjects, type: string): boolean {
  const rule = audit.get(type);
  return Boolean(rule && rule.rowsTable && rule.label && rule.path && !rule.via);
}

/**
 * A where() group for a list of threads (`alias` with subject_type, subject_id, workspace_id):
 * rows about no subject, and rows about a subject the viewer may read. The provider's own types
 * (`provider`, its plugin id) never carry threads, so a rule may call this from its own `visible`.
 */
export function readableThreads(audit: AuditSubjects, viewer: AuditViewer, alias: string, provider: string): (qb: Knex.QueryBuilder) => void {
  const bySubject = audit.filter(viewer, alias, (type) => audit.ownerOf(type) !== provider && carriesThread(audit, type));
  return (qb) => {
    qb.where(function (this: Knex.QueryBuilder) {
      this.whereNull(`${alias}.subject_type`).orWhere(function (this: Knex.QueryBuilder) {
        this.modify(bySubject);
      });
    });
  };
}

export class SubjectThreads {
  private provider: (SubjectThreadProvider & { owner: string }) | undefined;

  constructor(private readonly permissions: PermissionRegistry) {}

  private get audit() {
    return this.permissions.audit;
  }

  /** Called by the plugin that provides discussions, in its `register`. A second provider throws. */
  register(owner: string, provider: SubjectThreadProvider): void {
    if (this.provider) throw new AtriumError('ATR_PLUGIN_INVALID', `subject threads are provided by ${this.provider.owner}; ${owner} cannot provide them too`);
    this.provider = { ...provider, owner };
  }

  get enabled(): boolean {
    return Boolean(this.provider);
  }

  /** Whether a subject type can carry a thread: its audit rule names a table, a label and a page. */
  supports(type: string): boolean {
    return carriesThread(this.audit, type) && this.audit.ownerOf(type) !== this.provider?.owner;
  }

  /** The types that can carry a thread (for the isolation kit and the docs). */
  types(): string[] {
    return this.audit.types().filter((t) => this.supports(t));
  }

  /**
   * The discussion panel of a subject's page, for this reader: the fragment's URL, or undefined
   * when nobody provides discussions, the type cannot carry one or the reader may not read them.
   */
  panel(ability: AppAbility, slug: string, type: string, id: string): { href: string } | undefined {
    const p = this.provider;
    if (!p || !this.supports(type) || !ability.can(p.can[0], p.can[1])) return undefined;
    return { href: `/w/${slug}${p.path(type, id)}` };
  }

  /**
   * The subject `type`/`id` of the viewer's workspace, if the viewer may read it (one query),
   * else undefined: an unknown type, another workspace's id and a subject kept from this reader
   * all look the same.
   */
  async resolve(viewer: AuditViewer, type: string, id: string): Promise<ThreadSubject | undefined> {
    if (!this.supports(type)) return undefined;
    const rule = this.audit.get(type)!;
    const q = viewer.db(`${rule.rowsTable} as s`).where('s.id', id).andWhere('s.workspace_id', viewer.workspaceId).select(`s.${rule.label} as label`).first();
    if (!viewer.ability.can('manage', 'all')) {
      if (rule.visible) q.whereIn('s.id', rule.visible(viewer, this.audit));
      else q.modify(accessibleBy(viewer.ability, rule.read![0], rule.read![1], (c) => `s.${c}`));
    }
    const row = (await q) as { label: unknown } | undefined;
    if (!row) return undefined;
    return { type, id, label: String(row.label ?? ''), path: rule.path!.replace(':id', encodeURIComponent(id)), noun: rule.noun ?? 'item' };
  }

  /**
   * A where() group for a list of threads (`alias` with subject_type, subject_id, workspace_id):
   * rows about no subject, and rows about a subject the viewer may read.
   */
  readable(viewer: AuditViewer, alias: string): (qb: Knex.QueryBuilder) => void {
    return readableThreads(this.audit, viewer, alias, this.provider?.owner ?? '');
  }

  /**
   * Everyone who may read a thread of `workspaceId` about `subject` (or about nothing): its live
   * members and the firm's owners and admins, each with their ability, kept when `may(ability)`
   * (the provider's own test, e.g. "may read an internal note") and, for a subject, when they may
   * read the subject. Live events and mail about a thread go to these people only.
   */
  async readers(db: Db | Trx, workspaceId: string, subject: { type: string; id: string } | null, may: (ability: AppAbility) => boolean): Promise<ThreadReader[]> {
    const rows = (await db('users as u')
      .leftJoin('memberships as m', function (this: Knex.JoinClause) {
        this.on('m.user_id', '=', 'u.id').andOn('m.workspace_id', '=', db.raw('?', [workspaceId]));
      })
      .join('workspaces as w', 'w.id', db.raw('?', [workspaceId]))
      .andWhere('w.archived', false)
      .andWhere('u.disabled', false)
      .andWhere(function (this: Knex.QueryBuilder) {
        this.whereNotNull('m.id').orWhereIn('u.firm_role', ['owner', 'admin']);
      })
      .select('u.id', 'u.name', 'u.email', 'u.firm_role', 'm.role')) as Array<{ id: string; name: string; email: string; firm_role: string | null; role: string | null }>;
    const out: ThreadReader[] = [];
    for (const r of rows) {
      const ability = this.permissions.abilityFor((r.firm_role ?? null) as never, r.role ?? null, { id: r.id });
      if (!may(ability)) continue;
      if (subject) {
        const viewer: AuditViewer = { ability, userId: r.id, workspaceId, workspaceRole: r.role, scope: new WorkspaceScope(db, workspaceId), db };
        if (!(await this.resolve(viewer, subject.type, subject.id))) continue;
      }
      out.push({ id: r.id, name: r.name, email: r.email, firmRole: r.firm_role ?? null, role: r.role ?? null, ability });
    }
    return out;
  }
}
