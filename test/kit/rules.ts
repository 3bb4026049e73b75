// One rule, two forms: for every grant with conditions on the given owners' subjects, the rows
// the ability allows in memory (`can` on each row) must be exactly the rows its SQL form selects
// (`accessibleBy`), over the same table. Plugins call it from their tests after seeding rows that
// both match and miss each condition. A rule on the person (`'$person.id'`) is checked for every
// person in `users`, each with their own ability, and must match and miss rows for at least one.
import type { Kernel } from '../../core/boot.ts';
import { accessibleBy, canOnRow, PERSON_ID } from '../../core/permissions.ts';
import { FIRM_ROLES, type FirmRole, type WorkspaceRole } from '../../core/plugins/define.ts';

export interface RuleCheck {
  checked: string[];
  violations: string[];
}

export async function checkRuleAgreement(k: Kernel, owners?: string[]): Promise<RuleCheck> {
  const { permissions } = k;
  const ownerOf = new Map(permissions.listSubjects().map((s) => [s.subject, s.owner]));
  const checked: string[] = [];
  const violations: string[] = [];
  for (const { role, action, subject } of permissions.rowFilteringRules()) {
    if (owners && !owners.includes(ownerOf.get(subject) ?? '')) continue;
    const label = `${role} ${action} ${subject}`;
    const table = permissions.tableOf(subject);
    if (!table) {
      violations.push(`${label}: the subject has a row-filtering grant but no permissions.tables entry`);
      continue;
    }
    const firm = (FIRM_ROLES as readonly string[]).includes(role) ? (role as FirmRole) : null;
    const rows = (await k.db(table).select('*')) as Array<Record<string, unknown>>;
    const onPerson = JSON.stringify(permissions.abilityFor(firm, firm ? null : (role as WorkspaceRole)).rulesFor(action, subject).map((r) => r.conditions ?? null)).includes(`"${PERSON_ID}"`);
    const people = onPerson ? ((await k.db('users').pluck('id')) as unknown[]).map(String) : [undefined];
    let discriminates = false;
    for (const person of people) {
      const ability = permissions.abilityFor(firm, firm ? null : (role as WorkspaceRole), person ? { id: person } : undefined);
      const memory = rows.filter((r) => canOnRow(ability, action, subject, r)).map((r) => String(r.id)).sort();
      const sql = ((await k.db(table).modify(accessibleBy(ability, action, subject)).pluck('id')) as unknown[]).map(String).sort();
      if (JSON.stringify(memory) !== JSON.stringify(sql)) violations.push(`${label}${person ? ` (person ${person})` : ''}: memory allows ${memory.length} rows, SQL selects ${sql.length}`);
      if (memory.length > 0 && memory.length < rows.length) discriminates = true;
    }
    if (!discriminates) violations.push(`${label}: seed rows that both match and miss the condition${onPerson ? ' for some person' : ''} (${rows.length} rows)`);
    checked.push(onPerson ? `${label} (per person, ${people.length} people)` : label);
  }
  return { checked, violations };
}
