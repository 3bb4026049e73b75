// Roles and permissions. Each plugin declares CASL subjects with their actions and default grants
// per built-in role; the kernel seeds them at boot into one registry. An ability is built per
// request from the user's firm role and workspace role and cached per (roles, registry version),
// so building one costs a map lookup.
import { createMongoAbility, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { AtriumError } from './errors.ts';
import type { FirmRole, PermissionRule, Role, WorkspaceRole } from './plugins/define.ts';

export type AppAbility = MongoAbility;

/** The kernel's own subjects and grants, declared exactly as a plugin declares its own. */
export const KERNEL_PERMISSIONS: { subjects: Record<string, string[]>; grants: Partial<Record<Role, PermissionRule[]>> } = {
  subjects: {
    Workspace: ['read', 'create', 'update', 'archive'],
    StaffArea: ['read'],
    AdminArea: ['read'],
    Branding: ['read', 'update'],
    Member: ['read', 'create', 'update', 'delete'],
    Invitation: ['read', 'create', 'revoke'],
    AuditLog: ['read', 'export'],
    Person: ['read', 'update', 'disable'],
    Role: ['read', 'create', 'update'],
    Mail: ['read'],
  },
  grants: {
    owner: [{ action: 'manage', subject: 'all' }],
    admin: [{ action: 'manage', subject: 'all' }],
    staff: [
      { action: 'read', subject: ['StaffArea', 'Workspace', 'Member'] },
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
  private version = 0;

  /** Seed one owner's declarations (the kernel's, then each plugin's in dependency order). */
  seed(owner: string, decl: { subjects: Record<string, string[]>; grants?: Partial<Record<Role, PermissionRule[]>> }): void {
    for (const [subject, actions] of Object.entries(decl.subjects)) {
      const prev = this.subjects.get(subject);
      if (prev) throw new AtriumError('ATR_PLUGIN_DUPLICATE_SUBJECT', `"${subject}" declared by ${prev.owner} and ${owner}`);
      this.subjects.set(subject, { owner, actions: [...new Set(['manage', ...actions])] });
    }
    for (const [role, rules] of Object.entries(decl.grants ?? {}) as Array<[Role, PermissionRule[]]>) {
      for (const rule of rules) this.checkRule(owner, rule);
      this.grants.set(role, [...(this.grants.get(role) ?? []), ...(rules as RawRuleOf<MongoAbility>[])]);
    }
    this.version++;
    this.cache.clear();
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

  /** The ability for a firm role plus a workspace role. Deny by default. */
  abilityFor(firmRole: FirmRole | null, workspaceRole: WorkspaceRole | null): AppAbility {
    const key = `${firmRole ?? '-'}|${workspaceRole ?? '-'}|${this.version}`;
    let ability = this.cache.get(key);
    if (!ability) {
      const rules: RawRuleOf<MongoAbility>[] = [];
      if (firmRole) rules.push(...(this.grants.get(firmRole) ?? []));
      if (workspaceRole && workspaceRole !== 'staff') rules.push(...(this.grants.get(workspaceRole) ?? []));
      ability = createMongoAbility(rules);
      this.cache.set(key, ability);
    }
    return ability;
  }

  listSubjects(): Array<{ subject: string; owner: string; actions: string[] }> {
    return [...this.subjects].map(([subject, v]) => ({ subject, ...v }));
  }
}
