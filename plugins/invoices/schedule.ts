// The calendar of a recurring invoice: every `interval` months (1 monthly, 3 quarterly, 12 yearly)
// from its first month, on a day of the month; a day past the month's end is its last day (the
// 31st is Feb 28, or 29 in a leap year, then Mar 31: each period is computed from the first month,
// never from the previous date, so a short month does not pull later ones earlier). Days are UTC
// calendar days; a period is named by its month (`2027-02`), which the template's runs are unique on.

export const FREQUENCIES = { monthly: 1, quarterly: 3, yearly: 12 } as const;
export type Frequency = keyof typeof FREQUENCIES;
export const FREQUENCY_LABELS: Record<Frequency, string> = { monthly: 'Every month', quarterly: 'Every quarter (3 months)', yearly: 'Every year' };

export const frequencyOf = (interval: number): Frequency => (interval === 12 ? 'yearly' : interval === 3 ? 'quarterly' : 'monthly');

export interface Schedule {
  /** The first period's month: year * 12 + month (0-11). */
  anchorMonth: number;
  intervalMonths: number;
  dayOfMonth: number;
}

export interface Period {
  index: number;
  /** The period's day, UTC midnight. */
  at: number;
  /** `YYYY-MM`. */
  key: string;
  /** "January 2027", for `{period}` in a template's lines and notes. */
  label: string;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export const monthOf = (year: number, month0: number) => year * 12 + month0;
export const DAY_MS = 86_400_000;
export const dayStart = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;

export function periodAt(s: Schedule, index: number): Period {
  const m = s.anchorMonth + index * s.intervalMonths;
  const year = Math.floor(m / 12);
  const month = m - year * 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const at = Date.UTC(year, month, Math.min(s.dayOfMonth, last));
  return { index, at, key: `${year}-${String(month + 1).padStart(2, '0')}`, label: `${MONTHS[month]} ${year}` };
}

/** The first period on or after the day of `t` (a new template's, or a resumed one's, next period). */
export function firstOnOrAfter(s: Schedule, t: number): Period {
  const today = dayStart(t);
  const d = new Date(today);
  // Start a little before today's month and walk forward: at most a year of steps.
  let index = Math.max(0, Math.floor((monthOf(d.getUTCFullYear(), d.getUTCMonth()) - 1 - s.anchorMonth) / s.intervalMonths));
  while (periodAt(s, index).at < today) index++;
  return periodAt(s, index);
}

/** `{period}` in a template's text, as the month it is issued for. */
export const withPeriod = (text: string, p: Period) => text.replace(/\{period\}/g, p.label);
