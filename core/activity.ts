// Activity in sentences: "Ada Lindqvist downloaded Q1-Brand-Guidelines.pdf". Each plugin gives a
// sentence per audit action it records (`activity` in its definition) and, in its audit rule
// (`permissions.audit`), the column that names a subject (`label`) and a noun for one that is
// gone (`noun`). The kernel fills the sentences in: names of subjects come from one query per
// subject type on the page, only for events the reader may already see (core/audit-visibility.ts).
// An action without a sentence still reads as words ("Ada renamed a file"), never as a code.
import Handlebars from 'handlebars';
import { z } from 'zod';
import { AtriumError } from './errors.ts';
import type { Db, Trx } from './db/index.ts';
import type { AuditSubjects } from './audit-visibility.ts';

/**
 * A sentence with placeholders: `{actor}` (the person's name), `{subject}` (the subject's name,
 * a link to its page when it has one), `{detail.key}` (a value from the event's detail) and
 * `{person.key}` (the name of the person whose id is `detail.key`, "someone" when unknown).
 */
export type ActivitySentence = string;

export const activitySchema = z.record(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9_]*\.[a-z][a-zA-Z0-9_]*$/), z.string().min(1).max(200));

/** An audit row as the activity pages read it. */
export interface ActivityRow {
  action: string;
  workspace_id?: unknown;
  actor_id: unknown;
  actor_name?: unknown;
  subject_type: unknown;
  subject_id: unknown;
  detail?: unknown;
}

// The kernel's own sentences, for the events a workspace's people can see.
export const KERNEL_SENTENCES: Record<string, ActivitySentence> = {
  'core.workspace.create': '{actor} opened this workspace',
  'core.workspace.rename': '{actor} renamed the workspace to “{detail.to}”',
  'core.workspace.archive': '{actor} archived the workspace',
  'core.workspace.unarchive': '{actor} brought the workspace back from the archive',
  'core.workspace.mfa_policy': '{actor} changed the two-step sign-in rule for this workspace',
  'core.membership.create': '{actor} added {person.userId} to the workspace',
  'core.membership.remove': '{actor} removed {person.userId} from the workspace',
  'core.invitation.create': '{actor} invited someone to the workspace',
  'core.invitation.revoke': '{actor} withdrew an invitation',
  'core.invitation.accept': '{actor} accepted an invitation and joined',
  'core.audit.export': '{actor} exported the activity',
};

const IRREGULAR: Record<string, string> = { send: 'sent', resend: 'sent again', make: 'made', begin: 'began', get: 'got', set: 'set', read: 'read', put: 'put', run: 'ran', do: 'did', give: 'gave', take: 'took', sign: 'signed' };

/** "rename" -> "renamed", "copy" -> "copied", "requestChanges" -> "requested changes" (fallback wording). */
export function pastTense(verb: string): string {
  const words = verb.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase().split(/[\s_]+/);
  const head = words[0]!;
  const past = IRREGULAR[head] ?? (head.endsWith('e') ? `${head}d` : /[^aeiou]y$/.test(head) ? `${head.slice(0, -1)}ied` : `${head}ed`);
  return [past, ...words.slice(1)].join(' ');
}

const article = (noun: string) => (/^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`);
const esc = Handlebars.escapeExpression;

export class ActivitySentences {
  private readonly sentences = new Map<string, { owner: string; text: string }>();

  seed(owner: string, map: Record<string, ActivitySentence>): void {
    for (const [action, text] of Object.entries(map)) {
      if (owner !== 'core' && !action.startsWith(`${owner}.`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: activity sentence for "${action}" must be for its own actions ("${owner}.…")`);
      const prev = this.sentences.get(action);
      if (prev) throw new AtriumError('ATR_PLUGIN_INVALID', `activity sentence for "${action}" given by ${prev.owner} and ${owner}`);
      this.sentences.set(action, { owner, text });
    }
  }

  has(action: string): boolean {
    return this.sentences.has(action);
  }

  /**
   * The sentences of `rows` (events the reader may see, of one workspace or of several), as HTML:
   * names escaped, subjects linked to their pages under `/w/<slug>`. One query per subject type
   * on the page. `ws` is the one workspace, or each row's workspace by id. An event with no person
   * behind it (a job, the signing order, the CLI) reads as done by the firm (`opts.firmName`).
   */
  async describe(db: Db | Trx, audit: AuditSubjects, ws: { id: string; slug: string } | Map<string, string>, rows: ActivityRow[], opts: { firmName?: string } = {}): Promise<Handlebars.SafeString[]> {
    const slugs = ws instanceof Map ? ws : new Map([[ws.id, ws.slug]]);
    const one = ws instanceof Map ? undefined : ws;
    const labels = await subjectLabels(db, audit, [...slugs.keys()], rows);
    const people = await personNames(db, rows, (action) => this.sentences.get(action)?.text);
    return rows.map((r) => {
      const slug = one ? one.slug : slugs.get(String(r.workspace_id));
      const type = r.subject_type == null ? '' : String(r.subject_type);
      const id = r.subject_id == null ? '' : String(r.subject_id);
      const rule = type ? audit.get(type) : undefined;
      const found = labels.get(`${type}:${id}`);
      const detail = parseDetail(r.detail);
      const noun = rule?.noun ?? (type ? type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() : 'something');
      const subjectText = found?.label ?? (typeof detail.name === 'string' && detail.name ? detail.name : article(noun));
      const subject = found?.href && slug ? `<a href="${esc(`/w/${slug}${found.href}`)}">${esc(subjectText)}</a>` : esc(subjectText);
      const actor = r.actor_id ? esc(String(r.actor_name ?? '') || 'A former member') : esc(opts.firmName || 'The firm');
      const template = this.sentences.get(r.action)?.text ?? fallback(r.action);
      const html = esc(template)
        .replace(/\{actor\}/g, () => `<strong>${actor}</strong>`)
        .replace(/\{subject\}/g, () => subject)
        .replace(/\{detail\.([A-Za-z0-9_]+)\}/g, (_m, key: string) => esc(detail[key] == null ? '' : String(detail[key]).slice(0, 200)))
        .replace(/\{person\.([A-Za-z0-9_]+)\}/g, (_m, key: string) => esc(people.get(String(detail[key] ?? '')) ?? 'someone'));
      return new Handlebars.SafeString(html.charAt(0).toUpperCase() + html.slice(1));
    });
  }
}

/** Names of the people `{person.key}` placeholders name, in one query for the page. */
async function personNames(db: Db | Trx, rows: ActivityRow[], sentenceOf: (action: string) => string | undefined): Promise<Map<string, string>> {
  const ids = new Set<string>();
  for (const r of rows) {
    const text = sentenceOf(r.action);
    if (!text || !text.includes('{person.')) continue;
    const detail = parseDetail(r.detail);
    for (const m of text.matchAll(/\{person\.([A-Za-z0-9_]+)\}/g)) if (typeof detail[m[1]!] === 'string') ids.add(detail[m[1]!] as string);
  }
  if (!ids.size) return new Map();
  const found = (await db('users').whereIn('id', [...ids]).select('id', 'name')) as Array<{ id: unknown; name: unknown }>;
  return new Map(found.map((u) => [String(u.id), String(u.name)]));
}

/** "files.file.rename" -> "{actor} renamed {subject}": words, never the code. */
function fallback(action: string): string {
  const verb = action.split('.').at(-1) ?? 'change';
  return `{actor} ${pastTense(verb)} {subject}`;
}

function parseDetail(v: unknown): Record<string, unknown> {
  if (v && typeof v === 'object') return v as Record<string, unknown>;
  if (typeof v !== 'string') return {};
  try {
    const parsed = JSON.parse(v) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Names (and page paths) of the subjects of `rows`, by `type:id`, in one query per type. */
async function subjectLabels(db: Db | Trx, audit: AuditSubjects, workspaceIds: string[], rows: ActivityRow[]): Promise<Map<string, { label: string; href?: string }>> {
  const byType = new Map<string, Set<string>>();
  for (const r of rows) {
    if (r.subject_type == null || r.subject_id == null) continue;
    const set = byType.get(String(r.subject_type)) ?? new Set<string>();
    set.add(String(r.subject_id));
    byType.set(String(r.subject_type), set);
  }
  const out = new Map<string, { label: string; href?: string }>();
  for (const [type, idSet] of byType) {
    const rule = audit.get(type);
    if (!rule?.label || !rule.rowsTable) continue;
    const ids = [...idSet];
    const found = rule.via
      ? ((await db(`${rule.via.table} as av`)
          .join(`${rule.rowsTable} as s`, function (this: import('knex').Knex.JoinClause) {
            this.on('s.id', '=', `av.${rule.via!.column}`).andOn('s.workspace_id', '=', 'av.workspace_id');
          })
          .whereIn('av.workspace_id', workspaceIds)
          .whereIn('av.id', ids)
          .select('av.id as id', 's.id as parent', `s.${rule.label} as label`)) as Array<{ id: unknown; parent: unknown; label: unknown }>)
      : ((await db(rule.rowsTable).whereIn('workspace_id', workspaceIds).whereIn('id', ids).select('id', 'id as parent', `${rule.label} as label`)) as Array<{ id: unknown; parent: unknown; label: unknown }>);
    for (const f of found) {
      const label = f.label == null ? '' : String(f.label);
      if (!label) continue;
      out.set(`${type}:${String(f.id)}`, { label, href: rule.path ? rule.path.replace(':id', encodeURIComponent(String(f.parent))) : undefined });
    }
  }
  return out;
}
