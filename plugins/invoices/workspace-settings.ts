// Each workspace's defaults for new drafts (`invoices_settings`, one row at most): currency, payment
// terms, tax mode, the tax rate a new line starts with, notes and terms. A value left empty falls
// back to the firm's setting from the configuration file (settings.ts), so a firm that never opens
// the page keeps today's behaviour. They apply when a draft is made; an existing draft or an issued
// invoice never changes when they do.
import { z } from 'zod';
import { fieldErrors, multiLine, newId, type Db, type Trx } from '../../core/index.ts';
import { CURRENCY_CODES, formatRate, parseDecimal, type TaxMode } from './money.ts';
import type { Actor, InvoicesDeps, Ws } from './service.ts';
import type { InvoicesSettings } from './settings.ts';

/** What a workspace stored: null means the firm's setting. */
export interface WorkspaceSettingsRow {
  currency: string | null;
  termsDays: number | null;
  taxMode: TaxMode | null;
  defaultTaxRate: number | null;
  notes: string | null;
  terms: string | null;
  updatedAt: number | null;
}

/** What a new draft in this workspace starts with. */
export interface DraftDefaults {
  currency: string;
  termsDays: number;
  taxMode: TaxMode;
  /** Basis points. */
  defaultTaxRate: number;
  notes: string;
  terms: string;
}

const EMPTY: WorkspaceSettingsRow = { currency: null, termsDays: null, taxMode: null, defaultTaxRate: null, notes: null, terms: null, updatedAt: null };
const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function workspaceSettings(db: Db | Trx, workspaceId: string): Promise<WorkspaceSettingsRow> {
  const r = (await db('invoices_settings').where({ workspace_id: workspaceId }).first('currency', 'terms_days', 'tax_mode', 'default_tax_rate', 'notes', 'terms', 'updated_at')) as Record<string, unknown> | undefined;
  if (!r) return EMPTY;
  return {
    currency: r.currency == null ? null : String(r.currency),
    termsDays: n(r.terms_days),
    taxMode: r.tax_mode == null ? null : (String(r.tax_mode) as TaxMode),
    defaultTaxRate: n(r.default_tax_rate),
    notes: r.notes == null ? null : String(r.notes),
    terms: r.terms == null ? null : String(r.terms),
    updatedAt: n(r.updated_at),
  };
}

/** The workspace's values over the firm's: what a new draft starts with. */
export function effectiveDefaults(row: WorkspaceSettingsRow, firm: InvoicesSettings): DraftDefaults {
  return {
    currency: row.currency ?? firm.currency,
    termsDays: row.termsDays ?? firm.termsDays,
    taxMode: row.taxMode ?? firm.taxMode,
    defaultTaxRate: row.defaultTaxRate ?? Math.round(firm.defaultTaxRate * 100),
    notes: row.notes ?? '',
    terms: row.terms ?? '',
  };
}

export async function draftDefaults(db: Db | Trx, workspaceId: string, firm: InvoicesSettings): Promise<DraftDefaults> {
  return effectiveDefaults(await workspaceSettings(db, workspaceId), firm);
}

// ---- the form (every field may be left as "the firm's setting")

/** The form's values as typed. */
export interface SettingsValues {
  currency: string;
  termsDays: string;
  customDays: string;
  taxMode: string;
  defaultTaxRate: string;
  notes: string;
  terms: string;
}

const settingsForm = z.strictObject({
  currency: z.enum(['', ...CURRENCY_CODES] as [string, ...string[]], { error: 'Choose a currency' }),
  termsDays: z.enum(['', '0', '15', '30', 'custom'], { error: 'Choose the payment terms' }),
  customDays: z.string().max(10).optional().default(''), // not free text: a number of days, checked below
  taxMode: z.enum(['', 'exclusive', 'inclusive'], { error: 'Choose how prices are typed' }),
  defaultTaxRate: z.string().max(10).optional().default(''), // not free text: a percentage, checked below
  notes: multiLine({ max: 2000 }).optional().default(''),
  terms: multiLine({ max: 2000 }).optional().default(''),
});

export function valuesOf(row: WorkspaceSettingsRow): SettingsValues {
  const preset = row.termsDays !== null && [0, 15, 30].includes(row.termsDays);
  return {
    currency: row.currency ?? '',
    termsDays: row.termsDays === null ? '' : preset ? String(row.termsDays) : 'custom',
    customDays: row.termsDays !== null && !preset ? String(row.termsDays) : '',
    taxMode: row.taxMode ?? '',
    defaultTaxRate: row.defaultTaxRate === null ? '' : formatRate(row.defaultTaxRate),
    notes: row.notes ?? '',
    terms: row.terms ?? '',
  };
}

export type ParsedSettings = { ok: true; value: Omit<WorkspaceSettingsRow, 'updatedAt'> } | { ok: false; errors: Record<string, string>; values: SettingsValues };

export function parseSettings(body: Record<string, unknown>): ParsedSettings {
  const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
  const values: SettingsValues = { currency: str('currency'), termsDays: str('termsDays'), customDays: str('customDays'), taxMode: str('taxMode'), defaultTaxRate: str('defaultTaxRate'), notes: str('notes'), terms: str('terms') };
  const r = settingsForm.safeParse(body);
  const errors: Record<string, string> = r.success ? {} : fieldErrors(r.error);
  let termsDays: number | null = null;
  let rate: number | null = null;
  if (r.success) {
    if (r.data.termsDays === 'custom') {
      const d = r.data.customDays.trim();
      const v = Number(d);
      if (!/^\d{1,3}$/.test(d) || v < 1 || v > 365) errors.customDays = 'Use a number of days from 1 to 365';
      else termsDays = v;
    } else if (r.data.termsDays !== '') termsDays = Number(r.data.termsDays);
    if (r.data.defaultTaxRate.trim() !== '') {
      const t = parseDecimal(r.data.defaultTaxRate, 2);
      if (t === null || t > 10_000n) errors.defaultTaxRate = 'Use a rate from 0 to 100, like 20 or 7.5, or leave it empty';
      else rate = Number(t);
    }
  }
  if (!r.success || Object.keys(errors).length) return { ok: false, errors, values };
  return {
    ok: true,
    value: {
      currency: r.data.currency || null,
      termsDays,
      taxMode: (r.data.taxMode || null) as TaxMode | null,
      defaultTaxRate: rate,
      notes: r.data.notes.trim() ? r.data.notes : null,
      terms: r.data.terms.trim() ? r.data.terms : null,
    },
  };
}

/** Save a workspace's defaults (insert or replace its one row); audited in the same transaction. */
export async function saveWorkspaceSettings(deps: Pick<InvoicesDeps, 'audit' | 'clock'>, trx: Trx, ws: Ws, actor: Actor, value: Omit<WorkspaceSettingsRow, 'updatedAt'>): Promise<void> {
  const now = deps.clock.now();
  const row = { currency: value.currency, terms_days: value.termsDays, tax_mode: value.taxMode, default_tax_rate: value.defaultTaxRate, notes: value.notes, terms: value.terms, updated_by: actor.actorId ?? null, updated_at: now };
  const n = await trx('invoices_settings').where({ workspace_id: ws.id }).update(row);
  if (!n) await trx('invoices_settings').insert({ id: newId(), workspace_id: ws.id, ...row });
  await deps.audit.record(trx, {
    ...actor,
    workspaceId: ws.id,
    action: 'invoices.settings.update',
    subjectType: 'InvoiceSettings',
    subjectId: ws.id,
    detail: { currency: value.currency, termsDays: value.termsDays, taxMode: value.taxMode, defaultTaxRate: value.defaultTaxRate },
  });
}
