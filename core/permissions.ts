// Roles and permissions. Each plugin declares CASL subjects with their actions and default grants
// per built-in role; the kernel seeds them at boot into one registry. An ability is built per
// request from the user's firm role and workspace role and cached per (roles, registry version),
// so building one costs a map lookup.
import { createMongoAbility, subject as asSubject, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { permittedFieldsOf, rulesToCondition } from '@casl/ability/extra';
import type { Knex } from 'knex';
import { AtriumError } from './errors.ts';
import type { FirmRole, PermissionRule, Role, WorkspaceRole } from './plugins/define.ts';
import { AuditSubjects, type AuditSubjectRule } from './audit-visibility.ts';
import { ActivitySentences, KERNEL_SENTENCES } from './activity.ts';

export type AppAbility = MongoAbility;

/** The kernel's own subjects and grants, declared exactly as a plugin declares its own. */
export const KERNEL_PERMISSIONS: { subjects: Record<string, string[]>; grants: Partial<Record<Role, PermissionRule[]>>; audit: Record<string, AuditSubjectRule> } = {
  // The kernel's own subjects in a workspace's activity (core/audit-visibility.ts).
  audit: {
    Workspace: { read: ['read', 'Workspace'], noun: 'workspace' },
    Membership: { read: ['read', 'Member'], noun: 'membership' },
    Invitation: { read: ['read', 'Invitation'], noun: 'invitation' },
    AuditLog: { read: ['read', 'AuditLog'], noun: 'activity log' },
  },
  subjects: {
    Workspace: ['read', 'create', 'update', 'archive'],
    StaffArea: ['read'],
    AdminArea: ['read'],
    Branding: ['read', 'update'],
    Member: ['read', 'create', 'update', 'delete'],
    Invitation: ['read', 'create', 'revoke'],
    AuditLog: ['read', 'export'],
    Person: ['read', 'create', 'update', 'disable'],
    Role: ['read', 'create', 'update'],
    Mail: ['read'],
  },
  grants: {
    owner: [{ action: 'manage', subject: 'all' }],
    admin: [{ action: 'manage', subject: 'all' }],
    staff: [
      // AuditLog: the activity page of the workspaces they are assigned to (what each event shows
      // is filtered per subject by core/audit-visibility.ts).
      { action: 'read', subject: ['StaffArea', 'Workspace', 'Member', 'Invitation', 'AuditLog'] },
      // The account team invites the client's people into the workspaces it is assigned to.
      { action: ['create', 'revoke'], subject: 'Invitation' },
    ],
    client_admin: [
      { action: 'read', subject: ['Workspace', 'Member', 'Invitation', 'AuditLog'] },
      { action: ['create', 'revoke'], subject: 'Invitation' },
    ],
    client_member: [{ action: 'read', subject: 'Workspace' }],
    client_viewer: [{ action: 'read', subject: 'Workspace' }],
  },
};

export class PermissionRegistry {
  private readonly subjects = new Map<string, { owner: string; actions: string[] }>();
  private readonly grants = new Map<Role, RawRuleOf<MongoAbility>[]>();
  private readonly cache = new Map<string, AppAbility>();
  /** Abilities whose rules name the person ('$person.id'), by role key and person. */
  private readonly personCache = new Map<string, AppAbility>();
  private readonly tables = new Map<string, string>();
  /** Who may see audit events about each subject type (core/audit-visibility.ts). */
  readonly audit = new AuditSubjects();
  /** Activity sentences per audit action (core/activity.ts): the kernel's, then each plugin's. */
  readonly activity = new ActivitySentences();
  private custom = new Map<string, { name: string; rules: RawRuleOf<MongoAbility>[] }>();
  private customLoadedAt = -Infinity;
  private version = 0;

  constructor() {
    this.activity.seed('core', KERNEL_SENTENCES);
  }

  /** Seed one owner's declarations (the kernel's, then each plugin's in dependency order). */
  seed(owner: string, decl: { subjects: Record<string, string[]>; grants?: Partial<Record<Role, PermissionRule[]>>; tables?: Record<string, string>; audit?: Record<string, AuditSubjectRule> }): void {
    for (const [subject, table] of Object.entries(decl.tables ?? {})) {
      if (!decl.subjects[subject]) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: permissions.tables names "${subject}", which it does not declare`);
      this.tables.set(subject, table);
    }
    for (const [subject, actions] of Object.entries(decl.subjects)) {
      const prev = this.subjects.get(subject);
      if (prev) throw new AtriumError('ATR_PLUGIN_DUPLICATE_SUBJECT', `"${subject}" declared by ${prev.owner} and ${owner}`);
      this.subjects.set(subject, { owner, actions: [...new Set(['manage', ...actions])] });
    }
    for (const [role, rules] of Object.entries(decl.grants ?? {}) as Array<[Role, PermissionRule[]]>) {
      for (const rule of rules) this.checkRule(owner, rule);
      this.grants.set(role, [...(this.grants.get(role) ?? []), ...(rules as RawRuleOf<MongoAbility>[])]);
    }
    this.audit.seed(owner, decl.audit ?? {}, (subject) => this.tables.get(subject));
    this.version++;
    this.cache.clear();
    this.personCache.clear();
  }

  private checkRule(owner: string, rule: PermissionRule): void {
    const subjects = Array.isArray(rule.subject) ? rule.subject : [rule.subject];
    const actions = Array.isArray(rule.action) ? rule.action : [rule.action];
    for (const s of subjects) {
      if (s === 'all') continue;
      const known = this.subjects.get(s);
      if (!known) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: grant names subject "${s}", which no plugin declares`);
      for (const a of actions) {
        if (!known.actions.includes(a)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: grant names action "${a}" on ${s}, which ${known.owner} does not declare`);
      }
    }
  }

  /**
   * The ability for a firm role plus a workspace role (built-in or custom). Deny by default.
   * A rule whose conditions name the person (`'$person.id'`, e.g. "the signer row is mine") needs
   * `person`: it is then filled in, and that ability is cached per person. Without a person such a
   * condition matches nothing, in memory and in SQL (no id equals the placeholder): fail closed.
   */
  abilityFor(firmRole: FirmRole | null, workspaceRole: WorkspaceRole | string | null, person?: { id: string }): AppAbility {
    const key = `${firmRole ?? '-'}|${workspaceRole ?? '-'}|${this.version}`;
    let ability = this.cache.get(key);
    if (!ability) {
      const rules: RawRuleOf<MongoAbility>[] = [];
      if (firmRole) rules.push(...(this.grants.get(firmRole) ?? []));
      if (workspaceRole && workspaceRole !== 'staff') {
        rules.push(...((this.grants.get(workspaceRole as Role) ?? this.custom.get(workspaceRole)?.rules) ?? []));
      }
      ability = createMongoAbility(rules);
      this.cache.set(key, ability);
    }
    if (!person || !namesPerson(ability.rules)) return ability;
    const personal = `${key}|${person.id}`;
    let mine = this.personCache.get(personal);
    if (!mine) {
      // A small cache: an ability costs a few microseconds to build, a person's requests come in runs.
      if (this.personCache.size >= 5000) this.personCache.clear();
      mine = createMongoAbility(ability.rules.map((r) => (r.conditions ? { ...r, conditions: withPerson(r.conditions, person.id) } : r)) as RawRuleOf<MongoAbility>[]);
      this.personCache.set(personal, mine);
    }
    return mine;
  }

  /**
   * What a custom workspace role may be made of: the (action, subject) pairs the highest client
   * role holds, each with that role's own rule (conditions included). A custom role can narrow
   * what clients get, never widen it: an internal-only row stays internal.
   */
  grantableToClients(): Array<{ action: string; subject: string; rules: RawRuleOf<MongoAbility>[] }> {
    const out = new Map<string, { action: string; subject: string; rules: RawRuleOf<MongoAbility>[] }>();
    for (const rule of this.grants.get('client_admin') ?? []) {
      if (rule.inverted) continue;
      for (const action of ([] as string[]).concat(rule.action as string | string[])) {
        for (const subject of ([] as string[]).concat(rule.subject as string | string[])) {
          const key = `${action} ${subject}`;
          const entry = out.get(key) ?? { action, subject, rules: [] };
          entry.rules.push({ ...rule, action, subject });
          out.set(key, entry);
        }
      }
    }
    return [...out.values()].sort((a, b) => a.subject.localeCompare(b.subject) || a.action.localeCompare(b.action));
  }

  /** Load custom roles (from the `roles` table) if the copy in memory is older than `maxAgeMs`. */
  async refreshCustomRoles(db: Knex, now: number, maxAgeMs = 5000): Promise<void> {
    if (now - this.customLoadedAt < maxAgeMs) return;
    const rows = (await db('roles').select('key', 'name', 'permissions')) as Array<{ key: string; name: string; permissions: string }>;
    const allowed = new Map(this.grantableToClients().map((g) => [`${g.action} ${g.subject}`, g.rules]));
    const next = new Map<string, { name: string; rules: RawRuleOf<MongoAbility>[] }>();
    for (const r of rows) {
      let pairs: Array<[string, string]> = [];
      try {
        pairs = JSON.parse(r.permissions) as Array<[string, string]>;
      } catch {
        pairs = [];
      }
      // A pair that is no longer grantable (plugin disabled, grant removed) simply drops out.
      next.set(r.key, { name: r.name, rules: pairs.flatMap(([a, s]) => allowed.get(`${a} ${s}`) ?? []) });
    }
    const changed = JSON.stringify([...next]) !== JSON.stringify([...this.custom]);
    this.custom = next;
    this.customLoadedAt = now;
    if (changed) {
      this.version++;
      this.cache.clear();
      this.personCache.clear();
    }
  }

  /** Force the next refreshCustomRoles() to read the table (after a role was saved here). */
  invalidateCustomRoles(): void {
    this.customLoadedAt = -Infinity;
  }

  customRoles(): Array<{ key: string; name: string }> {
    return [...this.custom].map(([key, v]) => ({ key, name: v.name }));
  }

  isWorkspaceRole(role: string): boolean {
    return ['client_admin', 'client_member', 'client_viewer', 'staff'].includes(role) || this.custom.has(role);
  }

  /** The table of a subject's rows, when its owner declared one. */
  tableOf(subject: string): string | undefined {
    return this.tables.get(subject);
  }

  /** Every (role, action, subject) whose grant has conditions: each must have an agreement test. */
  rowFilteringRules(): Array<{ role: Role; action: string; subject: string }> {
    const out: Array<{ role: Role; action: string; subject: string }> = [];
    for (const [role, rules] of this.grants) {
      for (const rule of rules) {
        if (!rule.conditions) continue;
        const actions = ([] as string[]).concat(rule.action as string | string[]);
        const subjects = ([] as string[]).concat(rule.subject as string | string[]);
        for (const a of actions) for (const s of subjects) out.push({ role, action: a, subject: s });
      }
    }
    return out;
  }

  listSubjects(): Array<{ subject: string; owner: string; actions: string[] }> {
    return [...this.subjects].map(([subject, v]) => ({ subject, ...v }));
  }
}

// ---- conditions on the person

/** The one person placeholder a condition may use: the id of the person the ability is for. */
export const PERSON_ID = '$person.id';

function namesPerson(rules: ReadonlyArray<{ conditions?: unknown }>): boolean {
  return rules.some((r) => r.conditions !== undefined && JSON.stringify(r.conditions).includes(`"${PERSON_ID}"`));
}

/** `conditions` with every `'$person.id'` value (at any depth, in arrays too) replaced by `id`. */
function withPerson(value: unknown, id: string): unknown {
  if (value === PERSON_ID) return id;
  if (Array.isArray(value)) return value.map((v) => withPerson(v, id));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPerson(v, id)]));
  return value;
}

// ---- one rule, two forms: the ability in memory and as SQL

type Ast = { operator: string; field?: string; value: unknown };

const AND = (value: Ast[]): Ast => ({ operator: 'and', value });
const OR = (value: Ast[]): Ast => ({ operator: 'or', value });

/**
 * The row filter for `action` on `subjectType` as a condition tree, or null when nothing is
 * allowed. Field-restricted rules are left out: they limit columns, not rows (a field rule
 * without conditions would otherwise open the row filter to everything).
 */
export function rowConditionFor(ability: AppAbility, action: string, subjectType: string): Ast | null {
  const rules = ability.rulesFor(action, subjectType).filter((r) => !r.fields);
  return rulesToCondition(
    rules,
    (rule) => {
      const ast = (rule as unknown as { ast: Ast }).ast;
      return rule.inverted ? { operator: 'not', value: [ast] } : ast;
    },
    { and: AND, or: OR, empty: () => AND([]) },
  ) as Ast | null;
}

/**
 * A knex filter for the rows `ability` may `action` on `subjectType`, as one where() group so a
 * rule's OR can never escape into the caller's own filter. Nothing allowed -> `1 = 0`.
 * `column` maps a condition field to a (qualified) column; by default the field is the column.
 */
export function accessibleBy(ability: AppAbility, action: string, subjectType: string, column: (field: string) => string = (f) => f) {
  const ast = rowConditionFor(ability, action, subjectType);
  return (qb: Knex.QueryBuilder): void => {
    if (!ast) {
      qb.whereRaw('1 = 0');
      return;
    }
    qb.where(function (this: Knex.QueryBuilder) {
      apply(this, ast, column);
    });
  };
}

const FIELD = /^[a-z_][a-z0-9_]*$/;

function apply(qb: Knex.QueryBuilder, ast: Ast, column: (field: string) => string): void {
  const col = () => {
    if (!ast.field || !FIELD.test(ast.field)) throw new Error(`permission condition on unsupported field "${ast.field}"`);
    return column(ast.field);
  };
  switch (ast.operator) {
    case 'and':
      for (const child of ast.value as Ast[]) qb.where(function (this: Knex.QueryBuilder) {
        apply(this, child, column);
      });
      return;
    case 'or':
      if ((ast.value as Ast[]).length === 0) {
        qb.whereRaw('1 = 0');
        return;
      }
      for (const child of ast.value as Ast[]) qb.orWhere(function (this: Knex.QueryBuilder) {
        apply(this, child, column);
      });
      return;
    case 'not':
      qb.whereNot(function (this: Knex.QueryBuilder) {
        for (const child of ast.value as Ast[]) apply(this, child, column);
      });
      return;
    case 'eq':
      if (ast.value === null) qb.whereNull(col());
      else qb.where(col(), ast.value as Knex.Value);
      return;
    case 'ne':
      if (ast.value === null) qb.whereNotNull(col());
      else qb.whereNot(col(), ast.value as Knex.Value);
      return;
    case 'in':
      qb.whereIn(col(), ast.value as Knex.Value[]);
      return;
    case 'nin':
      qb.whereNotIn(col(), ast.value as Knex.Value[]);
      return;
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      qb.where(col(), { lt: '<', lte: '<=', gt: '>', gte: '>=' }[ast.operator]!, ast.value as Knex.Value);
      return;
    default:
      // Fail closed: a rule we cannot express in SQL must not silently widen a list.
      throw new Error(`permission operator "${ast.operator}" has no SQL form`);
  }
}

/** The in-memory check on a row: `can(action, subject(type, row))`, never a bare type string. */
export function canOnRow(ability: AppAbility, action: string, subjectType: string, row: Record<string, unknown>): boolean {
  return ability.can(action, asSubject(subjectType, { ...row }));
}

/** Field-level read: the fields of `row` that `ability` may `action`, from a declared list. */
export function permittedFields(ability: AppAbility, action: string, subjectType: string, row: Record<string, unknown>, allFields: string[]): string[] {
  return permittedFieldsOf(ability, action, asSubject(subjectType, { ...row }), { fieldsFrom: (rule) => rule.fields ?? allFields });
}
