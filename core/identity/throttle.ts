// Brute-force limits kept in the database (`throttle` table), so they hold across processes and
// restarts (SECURITY.md controls 10, 15, 17, 18 and section 3). Each key is a fixed-window counter
// with an optional lock: when `count` reaches `max` the key is blocked until the window ends, or
// for `blockMs` (doubled on each repeat lockout when `doubling`, up to `maxBlockMs`).
// Any error reaching the store fails closed: ATR_THROTTLE_UNAVAILABLE, answered with 503.
import { isIPv4, isIPv6 } from 'node:net';
import type { Clock } from '../clock.ts';
import { isPostgresClient, type Db, type Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { sha256Hex } from '../ids.ts';

export interface Limit {
  max: number;
  windowMs: number;
  /** Lock length once `max` is reached; default: until the window ends. */
  blockMs?: number;
  /** Double `blockMs` on every lockout after the first (reset by `reset`). */
  doubling?: boolean;
  maxBlockMs?: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The numbers of SECURITY.md section 3. */
export const LIMITS = {
  /** 10 consecutive failures for one (account, IP) -> 15 min, doubling up to 24 h. */
  loginPair: { max: 10, windowMs: DAY, blockMs: 15 * MINUTE, doubling: true, maxBlockMs: DAY },
  /** 100 failed sign-ins per IP per day. */
  loginIp: { max: 100, windowMs: DAY },
  /** At most 100 failed sign-ins per account per hour, whatever the IPs. */
  loginAccount: { max: 100, windowMs: HOUR },
  /** 5 wrong codes per MFA challenge (a challenge lives as long as its half-signed-in session). */
  mfaChallenge: { max: 5, windowMs: 12 * HOUR },
  /** 10 wrong codes per account in 15 minutes -> 15 min lock. */
  mfaAccount: { max: 10, windowMs: 15 * MINUTE, blockMs: 15 * MINUTE },
  /** Reset and invitation requests: 3 an hour per email, 20 an hour per IP. */
  requestEmail: { max: 3, windowMs: HOUR },
  requestIp: { max: 20, windowMs: HOUR },
} satisfies Record<string, Limit>;

/** Lock applied to an account's MFA when one challenge runs out of attempts. */
export const MFA_CHALLENGE_LOCK_MS = 15 * MINUTE;

interface Row {
  key: string;
  count: number;
  window_start: number;
  blocked_until: number;
  level: number;
}

export class Throttle {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Milliseconds until the longest block among `keys` ends; 0 when none is blocked. */
  async retryAfter(keys: string[]): Promise<number> {
    return this.guard(async () => {
      if (!keys.length) return 0;
      const rows = (await this.db('throttle').whereIn('key', keys).select('blocked_until')) as Array<{ blocked_until: number }>;
      const now = this.clock.now();
      return Math.max(0, ...rows.map((r) => Number(r.blocked_until) - now));
    });
  }

  /** Count one event against `key`. Returns the block (ms) now in force for it, 0 if none. */
  async hit(key: string, limit: Limit): Promise<number> {
    return this.guard(() =>
      this.db.transaction(async (trx) => {
        const now = this.clock.now();
        const row = await this.lockRow(trx, key, now);
        let count = Number(row.count);
        let windowStart = Number(row.window_start);
        let blockedUntil = Number(row.blocked_until);
        let level = Number(row.level);
        if (now - windowStart >= limit.windowMs) {
          count = 0;
          windowStart = now;
        }
        count++;
        if (count >= limit.max) {
          const base = limit.blockMs ?? windowStart + limit.windowMs - now;
          const length = limit.doubling ? Math.min(base * 2 ** level, limit.maxBlockMs ?? Number.MAX_SAFE_INTEGER) : base;
          blockedUntil = Math.max(blockedUntil, now + length);
          if (limit.doubling) level++;
          // A lock with its own length starts a fresh count once it ends.
          if (limit.blockMs !== undefined) {
            count = 0;
            windowStart = now;
          }
        }
        await trx('throttle').where({ key }).update({ count, window_start: windowStart, blocked_until: blockedUntil, level, updated_at: now });
        return Math.max(0, blockedUntil - now);
      }),
    );
  }

  /** Block `key` for `ms` from now (keeps a longer block already in force). */
  async block(key: string, ms: number): Promise<void> {
    await this.guard(() =>
      this.db.transaction(async (trx) => {
        const now = this.clock.now();
        const row = await this.lockRow(trx, key, now);
        await trx('throttle')
          .where({ key })
          .update({ blocked_until: Math.max(Number(row.blocked_until), now + ms), updated_at: now });
      }),
    );
  }

  /** Forget the count and the doubling level (a success); a block in force stays. */
  async reset(key: string): Promise<void> {
    await this.guard(() => this.db('throttle').where({ key }).update({ count: 0, level: 0, updated_at: this.clock.now() }));
  }

  /** Delete rows that are neither blocked nor counting. Safe from any process. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    return this.db('throttle').where('blocked_until', '<', now).andWhere('updated_at', '<', now - 2 * DAY).delete();
  }

  private async lockRow(trx: Trx, key: string, now: number): Promise<Row> {
    await trx('throttle').insert({ key, count: 0, window_start: now, blocked_until: 0, level: 0, updated_at: now }).onConflict('key').ignore();
    const q = trx('throttle').where({ key }).first('key', 'count', 'window_start', 'blocked_until', 'level');
    return (await (isPostgresClient(trx) ? q.forUpdate() : q)) as Row;
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // Fail closed: a limit that cannot be checked is a limit that is not there (CVE-2021-41177).
      throw new AtriumError('ATR_THROTTLE_UNAVAILABLE', (err as Error).message, { status: 503, cause: err });
    }
  }
}

/** The key of a client address: IPv4 as is, IPv6 by its /56 (one customer's whole allocation). */
export function ipKey(ip: string): string {
  let a = ip.trim();
  if (a.startsWith('::ffff:') && isIPv4(a.slice(7))) a = a.slice(7);
  if (isIPv4(a)) return a;
  const bare = a.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!isIPv6(bare)) return `other:${bare.slice(0, 64)}`;
  const g = expandIPv6(bare);
  return `${g[0]!.toString(16)}:${g[1]!.toString(16)}:${g[2]!.toString(16)}:${(g[3]! & 0xff00).toString(16)}::/56`;
}

function expandIPv6(ip: string): number[] {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((x) => Number.parseInt(x || '0', 16));
}

/** An account's key: the case-folded email's hash, so known and unknown emails are throttled alike. */
export function accountKey(email: string): string {
  return sha256Hex(email.trim().toLowerCase()).slice(0, 32);
}

/** `Retry-After` in whole seconds (at least 1). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** "3 minutes", "1 hour": for messages. */
export function humanDuration(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / MINUTE));
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.ceil(minutes / 60);
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}
