// Notifications to people, respecting each person's preference: `immediately` (one mail per
// notice), `digest` (gathered and mailed at most once a day) or `off` (recorded, never mailed).
// Plugins notify through this service (token core:notifications); mail goes through the outbox
// in the caller's transaction, so a rolled-back change notifies no one.
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';
import type { Clock } from './clock.ts';
import { afterCommit, isPostgresClient, transaction, type Db, type Trx } from './db/index.ts';
import type { LiveService } from './live.ts';
import { newId } from './ids.ts';
import type { MailService } from './mail.ts';
import { renderMail } from './mail/templates.ts';
import type { BrandingService } from './settings.ts';

export const NOTIFY_PREFS = ['immediately', 'digest', 'off'] as const;
export type NotifyPref = (typeof NOTIFY_PREFS)[number];

export interface Notice {
  userId: string;
  workspaceId?: string | null;
  /** `<plugin>.<thing>`, e.g. `files.deliverable`. */
  kind: string;
  subject: string;
  text: string;
  /** A path on this site (`/w/acme/files/...`); mails carry it as an absolute link. */
  link?: string;
  /**
   * A secret link (a link token from Tokens.Links) for the immediate mail only, instead of `link`.
   * It is never stored with the notice: the notice list and the daily digest use `link`, and the
   * mail body in the outbox is scrubbed of it once delivered.
   */
  mailLink?: { url: string; label: string };
  /**
   * A Reply-To for the immediate mail only (a reply address from Tokens.Inbound, bound to this
   * recipient): their reply by email reaches the plugin's inbound handler. Like `mailLink` it is
   * never stored with the notice, and the daily digest has none.
   */
  replyTo?: string;
}

/**
 * A message that is not a notice (see NotificationService.sendMail): always sent, never listed.
 * The body is built like every notice mail: "Hello <name>," then the paragraphs, one action.
 */
export interface DirectMail {
  to: string;
  /** The greeting's name ("Hello Ada,"). */
  name: string;
  subject: string;
  paragraphs: string[];
  /** One call to action: a button in HTML, the bare URL on its own line in text. */
  action?: { label: string; url: string };
  /** Lines after the action ("This link works once, until ..."). */
  after?: string[];
  workspaceId?: string | null;
  /** Reply-To: a reply address from Tokens.Inbound for `to` (see Notice.replyTo). */
  replyTo?: string;
}

const DAY_MS = 24 * 3_600_000;

export class NotificationService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private live: { service: LiveService; db: Db } | undefined;

  /** After a notice commits, its recipient's open pages get the new count (GET /live). */
  attachLive(service: LiveService, db: Db): void {
    this.live = { service, db };
  }

  /** What the header shows: the person's unread notices. */
  static async count(db: Db, userId: string): Promise<number> {
    const row = (await db('notifications').where({ user_id: userId }).whereNull('read_at').count({ n: '*' }).first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  }

  /** Mark every notice of `userId` read (in `trx`); their open pages get the new count after commit. */
  async markAllRead(trx: Trx, userId: string, now: number): Promise<number> {
    const n = Number(await trx('notifications').where({ user_id: userId }).whereNull('read_at').update({ read_at: now }));
    if (n) afterCommit(trx, () => this.publishCounts([userId]));
    return n;
  }

  private publishCounts(userIds: string[]): void {
    const live = this.live;
    if (!live) return;
    for (const id of userIds) {
      void NotificationService.count(live.db, id)
        .then((n) => live.service.publish(id, 'notifications', String(n)))
        .catch((err) => this.logger.warn({ err }, 'live notification count failed'));
    }
  }

  constructor(
    private readonly config: AtriumConfig,
    private readonly clock: Clock,
    private readonly mail: MailService,
    private readonly branding: BrandingService,
    private readonly logger: Logger,
  ) {}

  private url(link: string | undefined): string | undefined {
    return link && link.startsWith('/') && !link.startsWith('//') ? `${this.config.baseUrl}${link}` : undefined;
  }

  /** Record notices and mail those whose recipient wants them at once, all inside `trx`. */
  async notify(trx: Trx, notices: Notice[]): Promise<void> {
    if (!notices.length) return;
    const users = (await trx('users')
      .whereIn('id', [...new Set(notices.map((n) => n.userId))])
      .andWhere('disabled', false)
      .select('id', 'email', 'name', 'notify_pref')) as Array<{ id: string; email: string; name: string; notify_pref: NotifyPref }>;
    const byId = new Map(users.map((u) => [u.id, u]));
    const brand = await this.branding.get(trx);
    const now = this.clock.now();
    for (const n of notices) {
      const user = byId.get(n.userId);
      if (!user) continue; // disabled or gone: nothing to send, nothing to keep
      const pref = (NOTIFY_PREFS as readonly string[]).includes(user.notify_pref) ? user.notify_pref : 'immediately';
      const state = pref === 'immediately' ? 'mailed' : pref === 'digest' ? 'pending' : 'muted';
      await trx('notifications').insert({
        id: newId(),
        user_id: user.id,
        workspace_id: n.workspaceId ?? null,
        kind: n.kind,
        subject: n.subject.slice(0, 300),
        body: n.text,
        link: n.link ?? null,
        state,
        created_at: now,
      });
      if (state === 'mailed') {
        const url = this.url(n.link);
        const body = renderMail({
          brand,
          greeting: `Hello ${user.name},`,
          paragraphs: [n.text],
          action: n.mailLink ? { label: n.mailLink.label, url: n.mailLink.url } : url ? { label: 'Open in the portal', url } : undefined,
          after: ['You can change how often we email you on your account page.'],
          signature: brand.firmName,
        });
        await this.mail.enqueue(trx, { to: user.email, subject: n.subject, text: body.text, html: body.html, workspaceId: n.workspaceId ?? null, ...(n.replyTo ? { replyTo: n.replyTo } : {}) });
      }
    }
    const recipients = users.map((u) => u.id);
    try {
      afterCommit(trx, () => this.publishCounts(recipients));
    } catch (err) {
      // A transaction not opened with transaction() cannot take hooks: no live update, same notice.
      this.logger.debug({ err }, 'live update skipped');
    }
  }

  /**
   * Queue a mail that is not a notice, in `trx`: sent whatever the recipient's preference and kept
   * in no notice list, for a message that carries a secret link or goes to someone without an
   * account (a request to sign, a signer's copy). It is in the firm's branded template, like every
   * notice mail, so a plugin's own mails look like the rest of the portal's.
   */
  async sendMail(trx: Trx, m: DirectMail): Promise<string> {
    const brand = await this.branding.get(trx);
    const body = renderMail({ brand, greeting: `Hello ${m.name},`, paragraphs: m.paragraphs, action: m.action, after: m.after, signature: brand.firmName });
    return this.mail.enqueue(trx, { to: m.to, subject: m.subject, text: body.text, html: body.html, workspaceId: m.workspaceId ?? null, ...(m.replyTo ? { replyTo: m.replyTo } : {}) });
  }

  /**
   * Mail each digest subscriber whose last digest is a day old their pending notices, one mail
   * each. Safe with several processes: a user's rows are taken by an update that only one
   * transaction can win.
   */
  async sendDigests(db: Db): Promise<number> {
    const now = this.clock.now();
    const due = (await db('users as u')
      .where('u.notify_pref', 'digest')
      .andWhere('u.disabled', false)
      .andWhere((q) => q.whereNull('u.last_digest_at').orWhere('u.last_digest_at', '<=', now - DAY_MS))
      .whereExists(db('notifications as n').select(db.raw('1')).whereRaw('n.user_id = u.id').andWhere('n.state', 'pending'))
      .select('u.id', 'u.email', 'u.name')) as Array<{ id: string; email: string; name: string }>;
    let sent = 0;
    for (const user of due) {
      sent += await transaction(db, async (trx) => {
        const lockQ = trx('users').where({ id: user.id }).first('last_digest_at');
        const locked = (await (isPostgresClient(trx) ? lockQ.forUpdate() : lockQ)) as { last_digest_at: number | null };
        if (locked.last_digest_at !== null && Number(locked.last_digest_at) > now - DAY_MS) return 0; // another process just did it
        const rows = (await trx('notifications').where({ user_id: user.id, state: 'pending' }).orderBy('created_at').select('id', 'subject', 'body', 'link')) as Array<{
          id: string;
          subject: string;
          body: string;
          link: string | null;
        }>;
        if (!rows.length) return 0;
        const brand = await this.branding.get(trx);
        const body = renderMail({
          brand,
          greeting: `Hello ${user.name},`,
          paragraphs: [`Here is what happened since your last summary (${rows.length} ${rows.length === 1 ? 'update' : 'updates'}):`, ...rows.map((r) => `• ${r.subject}: ${r.body}${this.url(r.link ?? undefined) ? ` ${this.url(r.link ?? undefined)}` : ''}`)],
          after: ['You can change how often we email you on your account page.'],
          signature: brand.firmName,
        });
        await this.mail.enqueue(trx, { to: user.email, subject: `Your daily summary from ${brand.firmName}`, text: body.text, html: body.html });
        await trx('notifications').whereIn('id', rows.map((r) => r.id)).update({ state: 'digested', digested_at: now });
        await trx('users').where({ id: user.id }).update({ last_digest_at: now });
        return 1;
      });
    }
    return sent;
  }

  /** Check for due digests every few minutes; boot starts this after plugins bootstrap. */
  start(db: Db, everyMs = 5 * 60_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.sendDigests(db)
        .catch((err) => this.logger.error({ err }, 'digest run failed'))
        .finally(() => (this.running = undefined));
    }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
