// pack-period.ts: the period a pack covers: two calendar days (both included), read in the firm's time zone, and
// the month and quarter presets offered beside the form. An invoice belongs to the period when it
// was issued between the start of the first day and the end of the last, in that zone; a payment,
// recorded by the day it was received (a date, kept as UTC midnight), when that day is in the
// period.
import { z } from 'zod';
import { startOfDay } from '../../core/index.ts';

const DAY = 86_400_000;
/** A pack covers at most about ten years. */
const MAX_DAYS = 3_700;

export interface Period {
  /** `YYYY-MM-DD`, both included. */
  fromDay: string;
  toDay: string;
  /** The firm's zone the days are read in. */
  timeZone: string;
  /** Epoch ms: the start of `fromDay` and of the day after `toDay` in the zone (issue times). */
  from: number;
  to: number;
  /** Epoch ms: the same days as UTC midnights (days received, stored as UTC midnight). */
  dayFrom: number;
  dayTo: number;
}

const ymd = /^\d{4}-\d{2}-\d{2}$/;
const isDay = (s: string) => ymd.test(s) && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;
const dayField = (what: string) => z.string().trim().min(1, `Enter the ${what} day`).regex(ymd, 'Enter a date like 2026-11-30').refine(isDay, 'Enter a date like 2026-11-30');

export const periodForm = z
  .object({ from: dayField('first'), to: dayField('last') })
  .refine((v) => v.from <= v.to, { path: ['to'], message: 'The last day must be on or after the first' })
  .refine((v) => Date.parse(`${v.to}T00:00:00Z`) - Date.parse(`${v.from}T00:00:00Z`) <= MAX_DAYS * DAY, { path: ['to'], message: 'Choose a period of at most ten years' });

export const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);

export function periodOf(fromDay: string, toDay: string, timeZone: string): Period {
  const after = nextDay(toDay);
  return { fromDay, toDay, timeZone, from: startOfDay(fromDay, timeZone), to: startOfDay(after, timeZone), dayFrom: Date.parse(`${fromDay}T00:00:00Z`), dayTo: Date.parse(`${after}T00:00:00Z`) };
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD` of `ms` in `timeZone` (one formatter per zone: building one costs far more than using it). */
export function dayOf(ms: number, timeZone: string): string {
  let f = dayFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    if (dayFormats.size < 100) dayFormats.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const pad = (n: number) => String(n).padStart(2, '0');
const lastOfMonth = (y: number, m: number) => new Date(Date.UTC(y, m + 1, 0)).getUTCDate(); // m: 0-11

/** The presets offered on the form, by today's date in the firm's zone. */
export function presets(now: number, timeZone: string): Array<{ label: string; from: string; to: string }> {
  const today = dayOf(now, timeZone);
  const [y, m] = today.split('-').map(Number) as [number, number];
  const month = (yy: number, mm: number) => {
    const yr = yy + Math.floor(mm / 12);
    const mo = ((mm % 12) + 12) % 12;
    return { label: `${MONTHS[mo]} ${yr}`, from: `${yr}-${pad(mo + 1)}-01`, to: `${yr}-${pad(mo + 1)}-${pad(lastOfMonth(yr, mo))}` };
  };
  const quarter = (yy: number, q: number) => {
    const yr = yy + Math.floor(q / 4);
    const qq = ((q % 4) + 4) % 4;
    return { label: `Q${qq + 1} ${yr}`, from: `${yr}-${pad(qq * 3 + 1)}-01`, to: `${yr}-${pad(qq * 3 + 3)}-${pad(lastOfMonth(yr, qq * 3 + 2))}` };
  };
  const q = Math.floor((m - 1) / 3);
  const thisMonth = month(y, m - 1);
  return [
    { ...month(y, m - 2), label: `Last month (${month(y, m - 2).label})` },
    { ...thisMonth, to: today, label: `This month so far (${thisMonth.label})` },
    { ...quarter(y, q - 1), label: `Last quarter (${quarter(y, q - 1).label})` },
    { label: `Last year (${y - 1})`, from: `${y - 1}-01-01`, to: `${y - 1}-12-31` },
    { label: `This year so far (${y})`, from: `${y}-01-01`, to: today },
  ];
}
