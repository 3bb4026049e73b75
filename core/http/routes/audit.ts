// The audit log in the browser. Firm admins browse, filter and export the whole log at
// /admin/audit; a workspace's own log is at /w/:workspace/audit for whoever may read AuditLog
// there (client admins). Pages are newest first and page by keyset on seq, never OFFSET, so the
// hundredth page of a million rows costs what the first does. Filters are a plain GET form that
// htmx upgrades to swap only the results. Exports stream in batches and are themselves audited.
import { Router, type Request, type Response } from 'express';
import Handlebars from 'handlebars';
import { z } from 'zod';
import { transaction, type Db } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { slugSchema } from '../../identity/users.ts';
import { fieldErrors, type FieldErrors } from '../forms.ts';
import { contentDisposition } from '../../names.ts';
import { singleLine } from '../../text.ts';
import type { HttpDeps } from '../deps.ts';
import type { Knex } from 'knex';
import { renderData } from '../render-data.ts';
import { startOfDay } from '../../time.ts';

const PAGE = 50;
const EXPORT_BATCH = 1000;
const WORKSPACE_OPTIONS = 500; // above this many workspaces the admin filter is a text field

const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
const empty = z.literal('');
const date = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'Use a date like 2026-11-27')
  .refine((v) => {
    const ms = Date.parse(`${v}T00:00:00Z`);
    return Number.isFinite(ms) && new Date(ms).toISOString().startsWith(v);
  }, 'That date does not exist');
// Actions are `<plugin>.<subject>.<verb>`; a prefix such as `core.session.` matches all of one kind.
const actionPrefix = z.string().trim().max(120, 'Use at most 120 characters').regex(/^[A-Za-z0-9._-]+$/, 'Use letters, digits, dots, dashes and underscores, like core.session.');
const cursor = z.string().regex(/^[1-9][0-9]{0,14}$/, 'Not a page of this log');
const commonQuery = {
  action: z.union([empty, actionPrefix]).optional(),
  from: z.union([empty, date]).optional(),
  to: z.union([empty, date]).optional(),
};
const adminQuery = z.strictObject({
  ...commonQuery,
  workspace: z.union([empty, slugSchema]).optional(),
  actor: z.union([empty, singleLine({ max: 320 }).toLowerCase()]).optional(),
  before: cursor.optional(),
  after: cursor.optional(),
});
// In a workspace the page cursor is an event's opaque id, not its seq: seq counts the whole
// firm's activity, and its gaps would tell one client how busy the firm is with the others.
const eventId = z.string().regex(/^[0-9a-f-]{36}$/, 'Not a page of this log');
const workspaceQuery = z.strictObject({
  ...commonQuery,
  actor: z.union([empty, z.string().regex(/^[0-9a-f-]{36}$/, 'Choose a person from the list')]).optional(),
  before: eventId.optional(),
  after: eventId.optional(),
});

/**
 * Whose log: the firm's, or one workspace's as one person may see it. `visible` limits a
 * workspace's rows to events whose subject that person may read (core/audit-visibility.ts).
 */
type Scope = { kind: 'admin' } | { kind: 'workspace'; id: string; slug: string; visible: (qb: Knex.QueryBuilder) => void };

/** A parsed filter in database terms. `none`: a filter value matched nothing, so no rows. */
interface Filter {
  workspaceId?: string;
  actorId?: string;
  action?: string;
  fromMs?: number;
  toMs?: number; // exclusive: the day after `to`
  none?: boolean;
}

interface Parsed {
  filter: Filter;
  /** The filter as the person wrote it (for the form, links and the export's audit detail). */
  values: Record<string, string>;
  before?: number;
  after?: number;
  errors: FieldErrors;
}

const DAY = 86_400_000;
/** The day after `yyyy-mm-dd`, as `yyyy-mm-dd`. */
const nextDay = (ymd: string) => new Date(Date.parse(`${ymd}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
const FILTER_KEYS = ['workspace', 'actor', 'action', 'from', 'to'] as const;

function stringValues(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** `tz`: the zone a workspace's dates are read in (the reader's); the firm's log is in UTC. */
async function parseQuery(db: Db, scope: Scope, query: unknown, tz = 'UTC'): Promise<Parsed> {
  const raw = stringValues(query);
  const values: Record<string, string> = {};
  for (const k of FILTER_KEYS) if (raw[k] && (k !== 'workspace' || scope.kind === 'admin')) values[k] = raw[k].trim();
  const parsed = (scope.kind === 'admin' ? adminQuery : workspaceQuery).safeParse(query ?? {});
  if (!parsed.success) return { filter: { none: true }, values, errors: fieldErrors(parsed.error) };
  const q = parsed.data as z.infer<typeof adminQuery> & z.infer<typeof workspaceQuery>;
  const errors: FieldErrors = {};
  const filter: Filter = {};
  if (q.action) filter.action = q.action;
  const dayStart = (ymd: string) => (scope.kind === 'admin' ? Date.parse(`${ymd}T00:00:00Z`) : startOfDay(ymd, tz));
  if (q.from) filter.fromMs = dayStart(q.from);
  if (q.to) filter.toMs = scope.kind === 'admin' ? dayStart(q.to) + DAY : startOfDay(nextDay(q.to), tz);
  if (filter.fromMs !== undefined && filter.toMs !== undefined && filter.toMs <= filter.fromMs) errors.to = 'The end date is before the start date';
  if (scope.kind === 'admin') {
    if (q.workspace) {
      const ws = await db('workspaces').where({ slug: q.workspace }).first('id');
      if (ws) filter.workspaceId = String(ws.id);
      else errors.workspace = `No workspace has the address “${q.workspace}”`;
    }
    if (q.actor) {
      const user = await db('users').where({ email: q.actor }).first('id');
      if (user) filter.actorId = String(user.id);
      else errors.actor = `No one has the email address “${q.actor}”`;
    }
  } else if (q.actor) {
    // Any id is accepted and simply matches nothing outside this workspace: telling "no such
    // person" from "no events" would let a client probe for other people's accounts.
    filter.actorId = q.actor;
  }
  const out: Parsed = { filter, values, errors };
  if (Object.keys(errors).length) filter.none = true;
  else if (scope.kind === 'admin') {
    if (q.before) out.before = Number(q.before);
    else if (q.after) out.after = Number(q.after);
  } else {
    // An id from another workspace (or none) is no cursor here: the first page is shown.
    const resolve = async (id?: string) => (id ? ((await db('audit_events').where({ id, workspace_id: scope.id }).first('seq'))?.seq as number | undefined) : undefined);
    out.before = await resolve(q.before);
    out.after = out.before === undefined ? await resolve(q.after) : undefined;
  }
  return out;
}

/** The filter as SQL. In a workspace the workspace condition always comes first and alone decides scope. */
function applyFilter(q: Knex.QueryBuilder, scope: Scope, f: Filter): Knex.QueryBuilder {
  if (scope.kind === 'workspace') q.where('e.workspace_id', scope.id).modify(scope.visible);
  else if (f.workspaceId) q.where('e.workspace_id', f.workspaceId);
  if (f.none) q.whereRaw('1 = 0');
  if (f.actorId) q.where('e.actor_id', f.actorId);
  // substr, not LIKE: LIKE is case-insensitive on SQLite and sensitive on PostgreSQL, and `_` is a wildcard.
  if (f.action) q.whereRaw('substr(e.action, 1, ?) = ?', [f.action.length, f.action]);
  if (f.fromMs !== undefined) q.where('e.created_at', '>=', f.fromMs);
  if (f.toMs !== undefined) q.where('e.created_at', '<', f.toMs);
  return q;
}

// What each audience reads. A client admin needs who did what to which thing, and when. They do
// not get: IP addresses and user agents (personal data about firm staff and other people, and
// the firm's network, none of which a client needs to follow activity in their workspace); email
// addresses (people are shown by name, as elsewhere in the workspace); the JSON detail (written
// by the kernel and plugins for the firm, and it may name things a client does not see); nor seq
// (see the cursor above). Every client-facing row is built field by field from this list.
const ADMIN_COLUMNS = [
  'e.seq', 'e.id', 'e.created_at', 'e.action', 'e.subject_type', 'e.subject_id', 'e.ip', 'e.user_agent', 'e.detail', 'e.actor_id', 'e.workspace_id',
  'u.name as actor_name', 'u.email as actor_email', 'w.name as workspace_name',
];
// The detail is read for the sentence only (the keys a plugin's sentence names, core/activity.ts);
// it is never put in a client's row as it is.
const CLIENT_COLUMNS = ['e.seq', 'e.id', 'e.created_at', 'e.action', 'e.subject_type', 'e.subject_id', 'e.actor_id', 'u.name as actor_name', 'e.detail'];

type EventRow = Record<string, unknown> & { seq: number };

function eventsQuery(db: Db, scope: Scope, f: Filter): Knex.QueryBuilder {
  const q = db('audit_events as e').leftJoin('users as u', 'u.id', 'e.actor_id');
  if (scope.kind === 'admin') q.leftJoin('workspaces as w', 'w.id', 'e.workspace_id');
  return applyFilter(q.select(scope.kind === 'admin' ? ADMIN_COLUMNS : CLIENT_COLUMNS), scope, f);
}

const iso = (ms: unknown) => new Date(Number(ms)).toISOString();
const shownTime = (ms: unknown) => iso(ms).slice(0, 19).replace('T', ' ') + ' UTC';
const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));
const actorLabel = (r: Record<string, unknown>) => (r.actor_id ? str(r.actor_name) || 'A deleted account' : 'System');

/** A row for the page, built field by field for its audience. */
function viewRow(scope: Scope, r: Record<string, unknown>) {
  const common = {
    // The event's opaque id (the workspace pages' cursor too): lets a test tie a row to its event.
    id: str(r.id),
    at: Number(r.created_at),
    iso: iso(r.created_at),
    time: shownTime(r.created_at),
    actor: actorLabel(r),
    action: str(r.action),
    subject: [str(r.subject_type), str(r.subject_id)].filter(Boolean).join(' '),
  };
  if (scope.kind === 'workspace') return { id: common.id, at: common.at, iso: common.iso, actor: common.actor };
  const detail = str(r.detail);
  return {
    ...common,
    seq: Number(r.seq),
    actorEmail: str(r.actor_email),
    workspace: r.workspace_id ? str(r.workspace_name) || 'A deleted workspace' : '',
    ip: str(r.ip),
    detail: detail === '{}' ? '' : detail.length > 600 ? `${detail.slice(0, 600)}…` : detail,
  };
}

/** A row for an export, built field by field for its audience. */
function exportRow(scope: Scope, r: Record<string, unknown>): Record<string, unknown> {
  const common = {
    id: str(r.id),
    time_utc: iso(r.created_at),
    actor_name: r.actor_id ? str(r.actor_name) : 'System',
    action: str(r.action),
    subject_type: str(r.subject_type),
    subject_id: str(r.subject_id),
  };
  if (scope.kind === 'workspace') return common;
  return {
    seq: Number(r.seq),
    ...common,
    actor_id: str(r.actor_id),
    actor_email: str(r.actor_email),
    workspace_id: str(r.workspace_id),
    workspace_name: str(r.workspace_name),
    ip: str(r.ip),
    user_agent: str(r.user_agent),
    detail: detailValue(r.detail),
  };
}

/** The detail as JSON; text that does not parse (a damaged row) is exported as it is, not hidden. */
function detailValue(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? {};
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/**
 * One CSV cell, always quoted. A cell that a spreadsheet would run as a formula (starting with
 * =, +, -, @, tab or CR) gets a leading apostrophe, so `=HYPERLINK(...)` stays text (SECURITY.md 44).
 */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

function query(values: Record<string, string>, extra: Record<string, string | number> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...values, ...extra })) if (v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Write, and wait when the client is slower than the database (never for a closed socket). */
function write(res: Response, chunk: string): Promise<void> | void {
  if (res.write(chunk)) return;
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function auditRoutes(deps: HttpDeps): Router {
  const r = Router();
  const { db } = deps;

  const scopeOf = (req: Request): Scope => {
    if (req.ctx.area === 'admin') return { kind: 'admin' };
    const { ability, user, workspace, workspaceRole, scope } = req.ctx;
    const visible = deps.permissions.audit.filter({ ability, userId: user!.id, workspaceId: workspace!.id, workspaceRole, scope: scope!, db });
    return { kind: 'workspace', id: workspace!.id, slug: workspace!.slug, visible };
  };
  const basePath = (scope: Scope) => (scope.kind === 'admin' ? '/admin/audit' : `/w/${scope.slug}/audit`);

  /** Rows for the page; a workspace's read as sentences ("Ada downloaded Q1.pdf"). */
  async function viewRows(scope: Scope, rows: EventRow[]) {
    const out = rows.map((row) => viewRow(scope, row));
    if (scope.kind === 'admin') return out;
    const sentences = await deps.permissions.activity.describe(db, deps.permissions.audit, scope, rows as never, { firmName: (await deps.branding.get()).firmName });
    return out.map((row, i) => ({ ...row, sentence: sentences[i] }));
  }

  async function page(req: Request, res: Response): Promise<void> {
    const scope = scopeOf(req);
    const data = await renderData(deps, req);
    const p = await parseQuery(db, scope, req.query, data.timeZone);
    const base = basePath(scope);
    let rows: EventRow[] = [];
    let older = false;
    let newer = false;
    if (!p.filter.none) {
      // PAGE + 1 rows tell whether a page lies further in the direction read; the other direction
      // takes one indexed look-up, so a link is shown only where there is a page behind it.
      const exists = async (op: '<' | '>', seq: number) => Boolean(await applyFilter(db('audit_events as e'), scope, p.filter).where('e.seq', op, seq).first('e.seq'));
      if (p.after !== undefined) {
        rows = (await eventsQuery(db, scope, p.filter).where('e.seq', '>', p.after).orderBy('e.seq', 'asc').limit(PAGE + 1)) as EventRow[];
        newer = rows.length > PAGE;
        rows = rows.slice(0, PAGE).reverse();
        older = rows.length > 0 && (await exists('<', Number(rows.at(-1)!.seq)));
      } else {
        const q = eventsQuery(db, scope, p.filter).orderBy('e.seq', 'desc').limit(PAGE + 1);
        if (p.before !== undefined) q.where('e.seq', '<', p.before);
        rows = (await q) as EventRow[];
        older = rows.length > PAGE;
        rows = rows.slice(0, PAGE);
        newer = p.before !== undefined && rows.length > 0 && (await exists('>', Number(rows[0]!.seq)));
      }
    }
    // The workspace cursor is the event id; the admin one is seq.
    const key = (row: EventRow) => (scope.kind === 'admin' ? Number(row.seq) : String(row.id));
    const hasErrors = Object.keys(p.errors).length > 0;
    const filtered = Object.keys(p.values).length > 0;
    const canExport = req.ctx.ability.can('export', 'AuditLog');
    const model = {
      admin: scope.kind === 'admin',
      base,
      rows: await viewRows(scope, rows),
      filtered,
      hasErrors,
      errorList: Object.entries(p.errors).map(([field, message]) => ({ field: (FILTER_KEYS as readonly string[]).includes(field) ? field : 'audit-filters', message })),
      newerHref: newer && rows.length ? `${base}${query(p.values, { after: key(rows[0]!) })}` : '',
      olderHref: older && rows.length ? `${base}${query(p.values, { before: key(rows.at(-1)!) })}` : '',
      newestHref: p.before !== undefined || p.after !== undefined ? `${base}${query(p.values)}` : '',
      csvHref: canExport && !hasErrors ? `${base}/export.csv${query(p.values)}` : '',
      jsonHref: canExport && !hasErrors ? `${base}/export.json${query(p.values)}` : '',
      // Firm admins looking at a workspace's activity get a way to the full entries.
      adminHref: scope.kind === 'workspace' && req.ctx.ability.can('read', 'AdminArea') ? `/admin/audit${query({ ...p.values, workspace: scope.slug })}` : '',
    };
    // htmx swaps the results only. It does not swap a 4xx by default, so a filter it cannot use
    // comes back as 200 with the problems listed in the results; without JavaScript it is a 400 page.
    if (req.get('hx-request') && !req.get('hx-history-restore-request')) {
      return req.ctx.render('core/audit-results', { ...model, fragment: true }, { title: 'Audit log' });
    }
    const results = deps.views.render('core/audit-results', { ...model, fragment: false }, data);
    let workspaces: Array<{ slug: string; name: string; selected: boolean }> | null = null;
    let people: Array<{ id: string; name: string; selected: boolean }> = [];
    if (scope.kind === 'admin') {
      const all = (await db('workspaces').orderBy('name').limit(WORKSPACE_OPTIONS + 1).select('slug', 'name')) as Array<{ slug: string; name: string }>;
      workspaces = all.length > WORKSPACE_OPTIONS ? null : all.map((w) => ({ slug: w.slug, name: w.name, selected: w.slug === p.values.workspace }));
    } else {
      const members = (await db('memberships as m').join('users as u', 'u.id', 'm.user_id').where('m.workspace_id', scope.id).orderBy('u.name').limit(500).select('u.id', 'u.name')) as Array<{ id: string; name: string }>;
      people = members.map((m) => ({ id: m.id, name: m.name, selected: m.id === p.values.actor }));
    }
    await req.ctx.render(
      'core/audit',
      { ...model, results: new Handlebars.SafeString(results), values: p.values, errors: p.errors, workspaces, people, workspaceText: workspaces === null },
      { title: scope.kind === 'admin' ? 'Audit log' : 'Activity', status: hasErrors ? 400 : 200 },
    );
  }

  async function exportLog(req: Request, res: Response, format: 'csv' | 'json'): Promise<void> {
    const scope = scopeOf(req);
    const p = await parseQuery(db, scope, req.query, (await renderData(deps, req)).timeZone);
    if (Object.keys(p.errors).length) throw new AtriumError('ATR_VALIDATION', Object.values(p.errors).join('; '), { status: 400 });
    // An export starts a download and writes an audit row: a link on another site must not be
    // able to do either on an admin's behalf (SameSite=Lax still sends cookies on top-level GETs).
    const site = req.get('sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') throw new AtriumError('ATR_FORBIDDEN', 'cross-site export', { status: 403 });
    const stamp = new Date(deps.clock.now()).toISOString().replace(/[-:]/g, '').slice(0, 15);
    const headers = () => {
      res.status(200).type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
      res.setHeader('Content-Disposition', contentDisposition(`audit-${scope.kind === 'admin' ? 'all' : scope.slug}-${stamp}Z.${format}`));
      res.setHeader('Cache-Control', 'no-store');
    };
    // Express answers HEAD with the GET handler: a link checker must not export or leave a record.
    if (req.method === 'HEAD') return void (headers(), res.end());
    await transaction(db, (trx) =>
      deps.audit.record(trx, {
        ...req.ctx.actor(),
        workspaceId: scope.kind === 'workspace' ? scope.id : null,
        action: 'core.audit.export',
        subjectType: 'AuditLog',
        detail: { format, filter: p.values },
      }),
    );
    headers(); // only now: had the audit write failed, the error page must not arrive as a download
    let closed = false;
    res.on('close', () => (closed = true));
    try {
      let before: number | undefined;
      let first = true;
      let header: string[] | null = null;
      if (format === 'json') await write(res, '[');
      for (;;) {
        const q = eventsQuery(db, scope, p.filter).orderBy('e.seq', 'desc').limit(EXPORT_BATCH);
        if (before !== undefined) q.where('e.seq', '<', before);
        const rows = (await q) as EventRow[];
        if (closed) return;
        let chunk = '';
        for (const row of rows) {
          const out = exportRow(scope, row);
          if (format === 'csv') {
            if (!header) {
              header = Object.keys(out);
              chunk += header.map(csvCell).join(',') + '\r\n';
            }
            chunk += header.map((k) => csvCell(out[k])).join(',') + '\r\n';
          } else {
            chunk += (first ? '\n' : ',\n') + JSON.stringify(out);
            first = false;
          }
        }
        if (format === 'csv' && !header) {
          header = Object.keys(exportRow(scope, { seq: 0, created_at: 0 }));
          chunk += header.map(csvCell).join(',') + '\r\n';
        }
        if (chunk) await write(res, chunk);
        if (rows.length < EXPORT_BATCH) break;
        const next = Number(rows.at(-1)!.seq);
        if (before !== undefined && !(next < before)) throw new Error('audit export did not move past seq ' + before);
        before = next;
      }
      if (format === 'json') await write(res, '\n]\n');
      res.end();
    } catch (err) {
      // Half a file must not look like a whole one: the connection is cut, never ended cleanly.
      req.ctx.log.error({ err }, 'audit export failed');
      res.destroy();
    }
  }

  // Area guards in app.ts have already refused a stranger; each handler still asks the ability
  // and answers 404, so a page a person may not see looks like one that does not exist.
  const readable = (req: Request) => req.ctx.ability.can('read', 'AuditLog');
  const exportable = (req: Request) => readable(req) && req.ctx.ability.can('export', 'AuditLog');

  r.get(['/admin/audit', '/w/:workspace/audit'], async (req, res, next) => {
    if (!readable(req)) return next(notFound());
    await page(req, res);
  });
  r.get(['/admin/audit/export.csv', '/w/:workspace/audit/export.csv'], async (req, res, next) => {
    if (!exportable(req)) return next(notFound());
    await exportLog(req, res, 'csv');
  });
  r.get(['/admin/audit/export.json', '/w/:workspace/audit/export.json'], async (req, res, next) => {
    if (!exportable(req)) return next(notFound());
    await exportLog(req, res, 'json');
  });
  return r;
}
