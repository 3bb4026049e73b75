// Server-side sessions in the database, shared by every process. The cookie holds a 256-bit
// random value; the table holds only its SHA-256. Idle and absolute expiry are enforced here.
// Anonymous visitors get a session only when a form needs a CSRF token.
import type { AtriumConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { parseJson, toBool, type Db, type Trx } from '../db/index.ts';
import { newToken, sha256Hex } from '../ids.ts';
import { cacheOf } from '../cache.ts';
import type { FirmRole, WorkspaceRole } from '../plugins/define.ts';

export interface LoadedSession {
  idHash: string;
  userId: string | null;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  authAt: number | null;
  /**
   * The password was right but the second step (TOTP challenge, or forced enrolment) is not done.
   * Such a session has `user: null`, so nothing treats it as signed in; `pendingUser` says who.
   */
  mfaPending?: boolean;
  pendingUser?: { id: string; email: string; name: string; firmRole: FirmRole | null; mfaEnabled: boolean } | null;
  data: Record<string, unknown>;
  /** `timeZone`: the zone the person chose on their account (null: the firm's). */
  user: { id: string; email: string; name: string; firmRole: FirmRole | null; timeZone: string | null } | null;
  /** Present when the request named a workspace (`/w/:slug/`) that exists and is not archived. */
  workspace: { id: string; slug: string; name: string } | null;
  /** The user's membership in that workspace, if any. */
  membershipRole: WorkspaceRole | null;
  /** The user's unread notices when the session was loaded (the header's count). */
  noticeCount?: number;
  /** The stored "waiting on you" count and when it was computed (core/waiting.ts), null when none is stored. */
  waitingCount?: number | null;
  waitingAt?: number | null;
  /** The person's memberships in open workspaces when the session was loaded. */
  workspaceCount?: number;
}

/** What a cached session row was read from (core/cache.ts). */
function sessionTags(idHash: string, row: Record<string, unknown> | undefined): string[] {
  const tags = [`session:${idHash}`, 't:sessions', 't:users', 't:memberships', 't:notifications', 't:waiting_counts', 't:workspaces'];
  if (row?.user_id) tags.push(`user:${String(row.user_id)}`);
  return tags;
}

/** Throttle for last_seen_at writes: idle expiry is minutes, so a write per minute is enough. */
const TOUCH_EVERY_MS = 60_000;

export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly cfg: AtriumConfig['session'],
  ) {}

  get idleMs(): number {
    return this.cfg.idleMinutes * 60_000;
  }
  get absoluteMs(): number {
    return this.cfg.absoluteHours * 3_600_000;
  }

  /** Create a session. Returns the cookie value (never stored) and its row. */
  async create(input: { userId: string | null; ip?: string | null; userAgent?: string | null; authAt?: number | null; mfaPending?: boolean; data?: Record<string, unknown> }) {
    const token = newToken();
    const now = this.clock.now();
    const row = {
      id_hash: sha256Hex(token),
      user_id: input.userId,
      csrf_token: newToken(),
      created_at: now,
      last_seen_at: now,
      expires_at: now + this.absoluteMs,
      auth_at: input.authAt ?? null,
      mfa_pending: input.mfaPending ?? false,
      ip: input.ip?.slice(0, 64) ?? null,
      user_agent: input.userAgent?.slice(0, 400) ?? null,
      data: JSON.stringify(input.data ?? {}),
    };
    await this.db('sessions').insert(row);
    return { token, csrfToken: row.csrf_token, idHash: row.id_hash, expiresAt: row.expires_at };
  }

  /**
   * One indexed query: the session, its user and, when the URL names a workspace, that
   * workspace and the user's membership in it. Expired or disabled sessions are deleted.
   */
  async load(token: string, workspaceSlug?: string): Promise<LoadedSession | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const idHash = sha256Hex(token);
    // Kept in the kernel's cache (core/cache.ts) until a write to one of the rows it was read
    // from: the session's (by id_hash), the person's, their memberships, notices and waiting
    // count (by user id), or any workspace. The expiry checks below run on every request.
    const cache = cacheOf(this.db);
    const row = cache && (await cache.sync())
      ? await cache.read(`session:${idHash}:${workspaceSlug ?? ''}`, (r) => sessionTags(idHash, r), () => this.query(idHash, workspaceSlug))
      : await this.query(idHash, workspaceSlug);
    if (!row) return null;
    return this.check(idHash, row);
  }

  private async query(idHash: string, workspaceSlug: string | undefined): Promise<Record<string, unknown> | undefined> {
    const q = this.db('sessions as s')
      .leftJoin('users as u', 'u.id', 's.user_id')
      .where('s.id_hash', idHash)
      .first(
        's.id_hash',
        's.user_id',
        's.csrf_token',
        's.created_at',
        's.last_seen_at',
        's.expires_at',
        's.auth_at',
        's.mfa_pending',
        's.data',
        'u.email',
        'u.name',
        'u.firm_role',
        'u.time_zone',
        'u.disabled',
        'u.mfa_enabled_at',
        // The header's unread-notice count, in the same round trip (index user_id, read_at).
        this.db.raw('(select count(*) from notifications as n where n.user_id = s.user_id and n.read_at is null) as notice_count'),
        // The header's "waiting on you" count, stored per person (primary key), same round trip.
        'wc.count as waiting_count',
        'wc.computed_at as waiting_at',
        // How many open workspaces the person is a member of: a client on one workspace needs no
        // switcher query on that workspace's pages (index memberships.user_id), same round trip.
        this.db.raw('(select count(*) from memberships as sm join workspaces as sw on sw.id = sm.workspace_id where sm.user_id = s.user_id and sw.archived = ?) as workspace_count', [false]),
      )
      .leftJoin('waiting_counts as wc', 'wc.user_id', 's.user_id');
    if (workspaceSlug) {
      q.leftJoin('workspaces as w', (j) => j.on('w.slug', this.db.raw('?', [workspaceSlug])).andOn('w.archived', this.db.raw('?', [false])))
        .leftJoin('memberships as m', (j) => j.on('m.workspace_id', 'w.id').andOn('m.user_id', 's.user_id'))
        .select('w.id as ws_id', 'w.slug as ws_slug', 'w.name as ws_name', 'm.role as m_role');
    }
    return (await q) as Record<string, unknown> | undefined;
  }

  private async check(idHash: string, row: Record<string, unknown>): Promise<LoadedSession | null> {
    const now = this.clock.now();
    const lastSeen = Number(row.last_seen_at);
    if (now >= Number(row.expires_at) || now - lastSeen >= this.idleMs || (row.user_id && toBool(row.disabled))) {
      await this.db('sessions').where({ id_hash: idHash }).delete();
      return null;
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) {
      await this.db('sessions').where({ id_hash: idHash }).update({ last_seen_at: now });
    }
    const mfaPending = Boolean(row.user_id) && toBool(row.mfa_pending);
    const person = row.user_id
      ? { id: String(row.user_id), email: String(row.email), name: String(row.name), firmRole: (row.firm_role as FirmRole | null) ?? null, timeZone: (row.time_zone as string | null) ?? null }
      : null;
    return {
      idHash,
      userId: (row.user_id as string | null) ?? null,
      csrfToken: String(row.csrf_token),
      createdAt: Number(row.created_at),
      lastSeenAt: lastSeen,
      expiresAt: Number(row.expires_at),
      authAt: row.auth_at == null ? null : Number(row.auth_at),
      mfaPending,
      pendingUser: mfaPending && person ? { ...person, mfaEnabled: row.mfa_enabled_at != null } : null,
      data: parseJson<Record<string, unknown>>(row.data, {}),
      user: mfaPending ? null : person,
      // A half-signed-in session sees no workspace and no membership.
      workspace: !mfaPending && row.ws_id ? { id: String(row.ws_id), slug: String(row.ws_slug), name: String(row.ws_name) } : null,
      membershipRole: mfaPending ? null : ((row.m_role as WorkspaceRole | null) ?? null),
      noticeCount: Number(row.notice_count ?? 0),
      waitingCount: row.waiting_count == null ? null : Number(row.waiting_count),
      waitingAt: row.waiting_at == null ? null : Number(row.waiting_at),
      workspaceCount: Number(row.workspace_count ?? 0),
    };
  }

  async setData(idHash: string, data: Record<string, unknown>): Promise<void> {
    await this.db('sessions').where({ id_hash: idHash }).update({ data: JSON.stringify(data) });
  }

  async destroy(idHash: string): Promise<void> {
    await this.db('sessions').where({ id_hash: idHash }).delete();
  }

  /** End every session of a person (pending-MFA ones included), optionally but one, in `db` or a transaction. */
  async destroyAllForUser(userId: string, exceptIdHash?: string, db: Db | Trx = this.db): Promise<number> {
    const q = db('sessions').where({ user_id: userId });
    if (exceptIdHash) q.whereNot({ id_hash: exceptIdHash });
    return q.delete();
  }

  /** A person's live, fully signed-in sessions, newest activity first (for /account). */
  async listForUser(userId: string): Promise<Array<{ idHash: string; createdAt: number; lastSeenAt: number; ip: string | null; userAgent: string | null }>> {
    const now = this.clock.now();
    const rows = (await this.db('sessions')
      .where({ user_id: userId, mfa_pending: false })
      .andWhere('expires_at', '>', now)
      .andWhere('last_seen_at', '>', now - this.idleMs)
      .orderBy('last_seen_at', 'desc')
      .limit(100)
      .select('id_hash', 'created_at', 'last_seen_at', 'ip', 'user_agent')) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      idHash: String(r.id_hash),
      createdAt: Number(r.created_at),
      lastSeenAt: Number(r.last_seen_at),
      ip: (r.ip as string | null) ?? null,
      userAgent: (r.user_agent as string | null) ?? null,
    }));
  }

  /** Remove expired rows. Safe to run from any process at any time. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    return this.db('sessions').where('expires_at', '<=', now).orWhere('last_seen_at', '<=', now - this.idleMs).delete();
  }
}
