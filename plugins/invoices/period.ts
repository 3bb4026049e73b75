// The client list's period filter: invoices by issue date, from a preset (this month, last month,
// this year, last year) or two days typed by the reader, each day read in the reader's time zone.
// A bad day is no filter (a GET filter never answers with an error page).
import { z } from 'zod';
import { startOfDay } from '../../core/index.ts';

export const PRESETS = ['this-month', 'last-month', 'this-quarter', 'this-year', 'last-year'] as const;
export type Preset = (typeof PRESETS)[number];
const PRESET_LABELS: Record<Preset, string> = { 'this-month': 'This month', 'last-month': 'Last month', 'this-quarter': 'This quarter', 'this-year': 'This year', 'last-year': 'Last year' };

export const periodQuery = {
  period: z.enum(['', ...PRESETS, 'custom']).catch('').default(''),
  from: z.iso.date().catch(''),
  to: z.iso.date().catch(''),
};

export interface Period {
  /** [from, to) in epoch ms; either end may be open. */
  from: number | null;
  to: number | null;
  /** The days as the form shows them (yyyy-mm-dd). */
  fromDay: string;
  toDay: string;
  preset: string;
  /** "issued from 1 Dec 2026 to 31 Dec 2026", or null when there is no period. */
  label: string | null;
}

const ymd = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10);
const human = (day: string) => new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(Date.parse(`${day}T00:00:00Z`));

/** The days [first, last] of a preset, for `today` (yyyy-mm-dd in the reader's zone). */
export function presetDays(preset: Preset, today: string): [string, string] {
  const [y, m] = today.split('-').map(Number) as [number, number];
  switch (preset) {
    case 'this-month':
      return [ymd(y, m, 1), ymd(y, m + 1, 0)];
    case 'last-month':
      return [ymd(y, m - 1, 1), ymd(y, m, 0)];
    case 'this-quarter': {
      const q = Math.floor((m - 1) / 3) * 3 + 1;
      return [ymd(y, q, 1), ymd(y, q + 3, 0)];
    }
    case 'this-year':
      return [ymd(y, 1, 1), ymd(y, 12, 31)];
    case 'last-year':
      return [ymd(y - 1, 1, 1), ymd(y - 1, 12, 31)];
  }
}

export function resolvePeriod(q: { period: string; from: string; to: string }, now: number, timeZone: string): Period {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone }).format(now);
  let [fromDay, toDay] = [q.from, q.to];
  if ((PRESETS as readonly string[]).includes(q.period)) [fromDay, toDay] = presetDays(q.period as Preset, today);
  if (fromDay && toDay && fromDay > toDay) [fromDay, toDay] = [toDay, fromDay];
  const next = (day: string) => ymd(...(day.split('-').map(Number) as [number, number, number]).map((v, i) => (i === 2 ? v + 1 : v)) as [number, number, number]);
  const label = fromDay && toDay ? `issued from ${human(fromDay)} to ${human(toDay)}` : fromDay ? `issued from ${human(fromDay)}` : toDay ? `issued up to ${human(toDay)}` : null;
  return {
    from: fromDay ? startOfDay(fromDay, timeZone) : null,
    to: toDay ? startOfDay(next(toDay), timeZone) : null,
    fromDay,
    toDay,
    preset: (PRESETS as readonly string[]).includes(q.period) ? q.period : fromDay || toDay ? 'custom' : '',
    label,
  };
}

export function periodOptions(current: string) {
  return [{ value: '', label: 'Any time' }, ...PRESETS.map((p) => ({ value: p, label: PRESET_LABELS[p] })), { value: 'custom', label: 'The days below' }].map((o) => ({ ...o, selected: o.value === current }));
}
