// How the kernel says things to people: possessives of names, role names and permission rules in
// words. Pages and mails use these instead of building text from raw keys (`client_admin`,
// `{"$in":[…]}`) or gluing "’s" onto a name ("Partners’s").

/**
 * The possessive of a name: "Harbor & Vale’s", and for a name ending in s, "Partners’" (not
 * "Partners’s"). Typographic apostrophe, as in the rest of the product's text.
 */
export function possessive(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) return '';
  return /s$/i.test(trimmed) ? `${trimmed}’` : `${trimmed}’s`;
}

/** Built-in roles in words, firm roles and workspace roles alike (`client_admin` → "Client admin"). */
export const ROLE_NAMES: Record<string, string> = {
  owner: 'Owner',
  admin: 'Firm admin',
  staff: 'Staff',
  client_admin: 'Client admin',
  client_member: 'Client member',
  client_viewer: 'Client viewer',
};

/**
 * A role in words. `custom` names the firm's custom roles by key; anything else unknown is shown
 * with its underscores as spaces rather than raw. `null` is a person with no firm role: a client.
 */
export function roleName(role: string | null | undefined, custom: Record<string, string> = {}): string {
  if (!role) return 'Client';
  return ROLE_NAMES[role] ?? custom[role] ?? sentenceCase(role.replace(/^custom-/, '').replace(/[_-]+/g, ' '));
}

/** A workspace membership's role in words: a firm person's `staff` membership is the account team. */
export function membershipRoleName(role: string, custom: Record<string, string> = {}): string {
  return role === 'staff' ? 'Account team' : roleName(role, custom);
}

function sentenceCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The placeholder a rule uses for "the person asking" (core/permissions.ts PERSON_ID). */
const PERSON = '$person.id';

/** A field of a rule in words: `client_access` → "client access", `workspace_id` → "workspace". */
function fieldWords(field: string): string {
  return field.replace(/_id$/, '').replace(/_/g, ' ');
}

function valueWords(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return v.replace(/_/g, ' ');
  return String(v);
}

function listWords(values: unknown[], joiner: 'or' | 'nor'): string {
  const words = values.map(valueWords);
  if (words.length <= 1) return words[0] ?? 'nothing';
  return `${words.slice(0, -1).join(', ')} ${joiner} ${words.at(-1)}`;
}

/** One field's condition in words; operators CASL's Mongo conditions use, never raw JSON. */
function conditionWords(field: string, cond: unknown): string {
  const f = fieldWords(field);
  if (cond === PERSON) return 'it is their own';
  if (cond === true) return f;
  if (cond === false) return `not ${f}`;
  if (cond === null) return `${f} is not set`;
  if (typeof cond !== 'object' || Array.isArray(cond)) return `${f} is ${Array.isArray(cond) ? listWords(cond, 'or') : valueWords(cond)}`;
  const parts = Object.entries(cond as Record<string, unknown>).map(([op, v]) => {
    switch (op) {
      case '$eq':
        return conditionWords(field, v);
      case '$ne':
        return v === PERSON ? 'it is not their own' : `${f} is not ${valueWords(v)}`;
      case '$in':
        return `${f} is ${listWords(([] as unknown[]).concat(v), 'or')}`;
      case '$nin': {
        const list = ([] as unknown[]).concat(v);
        return list.length > 1 ? `${f} is neither ${listWords(list, 'nor')}` : `${f} is not ${listWords(list, 'or')}`;
      }
      case '$exists':
        return v ? `${f} is set` : `${f} is not set`;
      case '$gt':
        return `${f} is more than ${valueWords(v)}`;
      case '$gte':
        return `${f} is at least ${valueWords(v)}`;
      case '$lt':
        return `${f} is less than ${valueWords(v)}`;
      case '$lte':
        return `${f} is at most ${valueWords(v)}`;
      default:
        return `${f} meets a further condition`;
    }
  });
  return parts.join(' and ');
}

/**
 * A rule's conditions in words: `{ area: 'shared', client_access: { $in: ['upload', 'manage'] } }`
 * → "area is shared and client access is upload or manage"; `{ user_id: '$person.id' }` → "it is
 * their own". Empty conditions: ''.
 */
export function conditionsInWords(conditions: unknown): string {
  if (!conditions || typeof conditions !== 'object') return '';
  return Object.entries(conditions as Record<string, unknown>)
    .map(([field, cond]) => conditionWords(field, cond))
    .join(' and ');
}
