// Single-purpose links (SECURITY.md: tokens random 256-bit, stored hashed, never logged). A plugin
// issues a link for one person, one purpose and one subject in one workspace, mails it, and serves
// it from its `link` router, mounted at `/l/<plugin>/:token`. The kernel resolves the token before
// the plugin's handlers: an unknown, expired, used or revoked token, a token of another plugin, or
// one whose workspace is archived all get the same 404. A resolved link sets `req.ctx.link`, and
// `req.ctx.workspace` and `req.ctx.scope` to the link's workspace; it signs no one in.
//
//   const url = await links.issue(trx, { plugin: 'approvals', purpose: 'decide', workspaceId, userId, subjectId, ttlMs });
//   routers.link.get('/', ...)                  // GET shows; it never decides (mail scanners follow links)
//   routers.link.post('/', ...)                 // POST decides, then:
//   if (!(await links.consume(trx, req.ctx.link!.id))) -> already used (a race): refuse
import type { NextFunction, Request, Response } from 'express';
import type { AtriumConfig } from './config/schema.ts';
import type { Clock } from './clock.ts';
import type { Db, Trx } from './db/index.ts';
import { AtriumError } from './errors.ts';
import { newId, newToken, sha256Hex } from './ids.ts';
import { WorkspaceScope } from './tenancy.ts';

export interface LinkGrant {
  id: string;
  plugin: string;
  purpose: string;
  workspaceId: string;
  userId: string | null;
  subjectId: string;
  expiresAt: number;
}

export interface IssueLink {
  plugin: string;
  purpose: string;
  workspaceId: string;
  /** The person the link acts for (the approver, the signer). */
  userId: string | null;
  subjectId: string;
  ttlMs: number;
}

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export class LinkService {
  constructor(
    private readonly db: Db,
    private readonly config: Pick<AtriumConfig, 'baseUrl'>,
    private readonly clock: Clock,
  ) {}

  /** Issue a link in `trx`; returns its absolute URL. The token itself is never stored. */
  async issue(trx: Trx, l: IssueLink): Promise<string> {
    if (!Number.isFinite(l.ttlMs) || l.ttlMs <= 0) throw new AtriumError('ATR_LINK_TTL', 'a link needs a positive lifetime');
    const token = newToken();
    const now = this.clock.now();
    await trx('links').insert({
      id: newId(now),
      token_hash: sha256Hex(token),
      plugin: l.plugin,
      purpose: l.purpose,
      workspace_id: l.workspaceId,
      user_id: l.userId,
      subject_id: l.subjectId,
      created_at: now,
      expires_at: now + l.ttlMs,
      used_at: null,
      revoked_at: null,
    });
    return `${this.config.baseUrl}/l/${l.plugin}/${token}`;
  }

  /** Mark a link used. False if it was already used or revoked (two clicks racing): refuse then. */
  async consume(trx: Trx, linkId: string): Promise<boolean> {
    const n = await trx('links').where({ id: linkId }).whereNull('used_at').whereNull('revoked_at').update({ used_at: this.clock.now() });
    return Number(n) === 1;
  }

  /** Revoke the unused links of a subject (or one link): a re-opened request mails new ones. */
  async revoke(trx: Trx, r: { plugin: string; subjectId?: string; linkId?: string; userId?: string; purpose?: string }): Promise<number> {
    if (!r.subjectId && !r.linkId) throw new AtriumError('ATR_LINK_REVOKE', 'revoke needs a subject or a link id');
    const q = trx('links').where({ plugin: r.plugin }).whereNull('used_at').whereNull('revoked_at');
    if (r.subjectId) q.andWhere({ subject_id: r.subjectId });
    if (r.linkId) q.andWhere({ id: r.linkId });
    if (r.userId) q.andWhere({ user_id: r.userId });
    if (r.purpose) q.andWhere({ purpose: r.purpose });
    return Number(await q.update({ revoked_at: this.clock.now() }));
  }

  /** The live grant for a raw token, or null (unknown, expired, used, revoked, archived workspace). */
  async resolve(plugin: string, token: string): Promise<(LinkGrant & { workspace: { id: string; slug: string; name: string } }) | null> {
    if (!TOKEN_RE.test(token)) return null;
    const row = (await this.db('links as l')
      .join('workspaces as w', 'w.id', 'l.workspace_id')
      .where({ 'l.token_hash': sha256Hex(token), 'l.plugin': plugin, 'w.archived': false })
      .whereNull('l.used_at')
      .whereNull('l.revoked_at')
      .andWhere('l.expires_at', '>', this.clock.now())
      .first('l.id', 'l.plugin', 'l.purpose', 'l.workspace_id', 'l.user_id', 'l.subject_id', 'l.expires_at', 'w.slug', 'w.name')) as Record<string, unknown> | undefined;
    if (!row) return null;
    return {
      id: String(row.id),
      plugin: String(row.plugin),
      purpose: String(row.purpose),
      workspaceId: String(row.workspace_id),
      userId: row.user_id == null ? null : String(row.user_id),
      subjectId: String(row.subject_id),
      expiresAt: Number(row.expires_at),
      workspace: { id: String(row.workspace_id), slug: String(row.slug), name: String(row.name) },
    };
  }

  /** Express middleware in front of a plugin's link router (`/l/<plugin>/:token`). */
  middleware(plugin: string) {
    return async (req: Request, res: Response, next: NextFunction) => {
      // The URL holds a secret: never sent on as a Referer, never cached.
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Robots-Tag', 'noindex');
      const grant = await this.resolve(plugin, String(req.params.token ?? ''));
      if (!grant) return next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 }));
      const { workspace, ...link } = grant;
      req.ctx.link = link;
      req.ctx.workspace = workspace;
      req.ctx.scope = new WorkspaceScope(this.db, workspace.id);
      next();
    };
  }

  /** Delete links that expired more than `graceMs` ago (housekeeping). */
  async sweep(graceMs = 30 * 24 * 3_600_000): Promise<number> {
    return Number(await this.db('links').where('expires_at', '<', this.clock.now() - graceMs).delete());
  }
}
