// Times as people read them. Everything is stored in UTC milliseconds; pages show it in the
// reader's own time zone (set on their account, else the firm's), as a relative time ("2 hours
// ago") with the exact time on hover, or as an exact date. Intl does the zone arithmetic; its
// formatters are cached per zone because building one costs far more than using it.

/** The zone every stored time is in, and the default until a firm sets its own. */
export const DEFAULT_TIME_ZONE = 'UTC';

const valid = new Map<string, boolean>();

/** Whether `tz` is an IANA time zone this runtime knows (`Europe/London`, `UTC`). */
export function isTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(tz)) return false;
  let ok = valid.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-GB', { timeZone: tz });
      ok = true;
    } catch {
      ok = false;
    }
    if (valid.size < 1000) valid.set(tz, ok);
  }
  return ok;
}

/** Every zone offered on the account and firm settings pages, in alphabetical order. */
export function timeZones(): string[] {
  const list = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  return list.includes('UTC') ? list : ['UTC', ...list];
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string, kind: 'exact' | 'day' | 'parts'): Intl.DateTimeFormat {
  const key = `${kind}|${tz}`;
  let f = formatters.get(key);
  if (!f) {
    const zone = isTimeZone(tz) ? tz : DEFAULT_TIME_ZONE;
    f =
      kind === 'exact'
        ? new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' })
        : kind === 'day'
          ? new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: 'numeric', month: 'short', year: 'numeric' })
          : new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(key, f);
  }
  return f;
}

/** "4 Dec 2026, 18:03 GMT+1": the exact time in `tz`. */
export function formatExact(ms: number, tz: string): string {
  return formatter(tz, 'exact').format(ms);
}

/** "4 Dec 2026": the day in `tz`. */
export function formatDay(ms: number, tz: string): string {
  return formatter(tz, 'day').format(ms);
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 minutes ago", "in 3 days", "yesterday"; past a month, the day itself. */
export function formatRelative(ms: number, now: number, tz: string): string {
  const diff = ms - now;
  const abs = Math.abs(diff);
  if (abs < 45_000) return 'just now';
  if (abs < HOUR) return relative.format(Math.round(diff / MINUTE), 'minute');
  if (abs < DAY) return relative.format(Math.round(diff / HOUR), 'hour');
  if (abs < 30 * DAY) {
    // Calendar days in the reader's zone, so "yesterday" means their yesterday.
    const days = Math.round((dayNumber(ms, tz) - dayNumber(now, tz)) as number);
    return relative.format(days, 'day');
  }
  return formatDay(ms, tz);
}

/** The offset of `tz` from UTC at `ms`, in milliseconds (positive east of Greenwich). */
export function zoneOffset(ms: number, tz: string): number {
  const parts = Object.fromEntries(formatter(tz, 'parts').formatToParts(ms).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The day count since 1970 of the calendar day `ms` falls on in `tz`. */
function dayNumber(ms: number, tz: string): number {
  return Math.floor((ms + zoneOffset(ms, tz)) / DAY);
}

/** The UTC instant at which the day `yyyy-mm-dd` starts in `tz` (for date filters). */
export function startOfDay(ymd: string, tz: string): number {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  // Two passes settle a day that starts on either side of a daylight-saving change.
  let at = guess - zoneOffset(guess, tz);
  at = guess - zoneOffset(at, tz);
  return at;
}
