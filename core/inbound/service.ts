// Replies by email: reply addresses, and what happens to a message sent to one (the contract
// is core/inbound.ts). A reply address `reply+<token>@<domain>` carries a 256-bit token stored
// only as SHA-256 (table inbound_tokens). A message to one is refused, and the refusal audited
// as `core.inbound.refused` (the reason, never the token), unless: the token is known and live,
// the From header (and the envelope sender, when given) is the bound person's address, that
// person is enabled and still has the workspace, the workspace is not archived, a handler is
// registered for the plugin+purpose, and the handler accepts it. The Message-ID is marked seen
// per address in the handler's transaction, so a relay's second delivery is not posted twice.
// Tokens never reach a log line or an audit row: logs carry a 12-digit prefix of the hash.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditService } from '../audit.ts';
import type { Clock } from '../clock.ts';
import type { AtriumConfig } from '../config/schema.ts';
import { toBool, transaction, type Db, type Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { newId, sha256Hex } from '../ids.ts';
import type { InboundAttachment, InboundGrant, InboundHandler, InboundOutcome, InboundReply, InboundService } from '../inbound.ts';
import { htmlToPlain, replyText } from './reply-text.ts';
import { startListener, type InboundListener } from './listener.ts';

const DAY_MS = 24 * 3_600_000;
/** RFC 4648 base32, lower-case: 32 random bytes are 52 characters. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_RE = /^[a-z2-7]{52}$/;
const LOCAL_RE = /^reply\+([a-z2-7]{52})$/;
const PLUGIN_RE = /^[a-z][a-z0-9-]{0,63}$/;
const PURPOSE_RE = /^[a-z][a-zA-Z0-9_-]{0,63}$/;

/** The reasons the kernel itself refuses for (a handler adds its own codes). */
export type RefusalReason =
  | 'unknown-token'
  | 'expired-token'
  | 'too-large'
  | 'unparseable'
  | 'auto-reply'
  | 'sender-mismatch'
  | 'person-gone'
  | 'person-disabled'
  | 'not-a-member'
  | 'workspace-archived'
  | 'no-handler'
  | 'empty';

export function newInboundToken(): string {
  const bytes = randomBytes(32);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** For logs: enough to match a log line with a row's token_hash, never enough to use. */
function hashPrefix(tokenHash: string): string {
  return tokenHash.slice(0, 12);
}

interface Checked {
  grant: InboundGrant;
  handler: InboundHandler;
  reply: InboundReply;
}
type CheckResult = { refuse: string; grant?: InboundGrant; from?: string } | Checked;

/** A handler's refusal, thrown so its transaction (and the seen mark) rolls back. */
class HandlerRefusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}
/** The seen mark of this Message-ID was written by a delivery racing this one. */
class DuplicateDelivery extends Error {}
const DUPLICATE = Symbol('duplicate');

type Parsed = Awaited<ReturnType<typeof import('mailparser').simpleParser>>;

export class InboundMailService implements InboundService {
  private readonly handlers = new Map<string, InboundHandler>();
  private listener: InboundListener | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly config: AtriumConfig,
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.config.inbound.enabled && this.config.inbound.domain !== '';
  }

  /** Where the SMTP listener is bound (port 0 picks one), once started. */
  get listening(): { host: string; port: number } | undefined {
    return this.listener ? { host: this.listener.host, port: this.listener.port } : undefined;
  }

  register(handler: InboundHandler): void {
    if (!PLUGIN_RE.test(handler.plugin) || !PURPOSE_RE.test(handler.purpose)) throw new AtriumError('ATR_INBOUND_GRANT', `handler ${handler.plugin}/${handler.purpose}`);
    const key = `${handler.plugin}/${handler.purpose}`;
    if (this.handlers.has(key)) throw new AtriumError('ATR_INBOUND_DUPLICATE_HANDLER', key);
    this.handlers.set(key, handler);
  }

  async replyAddress(trx: Trx, g: { plugin: string; purpose: string; userId: string; workspaceId: string; subjectId: string; ttlMs?: number }): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    const ttlMs = g.ttlMs ?? this.config.inbound.tokenTtlDays * DAY_MS;
    if (!PLUGIN_RE.test(g.plugin) || !PURPOSE_RE.test(g.purpose) || !g.subjectId || g.subjectId.length > 64 || !Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new AtriumError('ATR_INBOUND_GRANT', `${g.plugin}/${g.purpose}`);
    }
    const token = newInboundToken();
    const now = this.clock.now();
    await trx('inbound_tokens').insert({
      id: newId(now),
      token_hash: sha256Hex(token),
      plugin: g.plugin,
      purpose: g.purpose,
      user_id: g.userId,
      workspace_id: g.workspaceId,
      subject_id: g.subjectId,
      created_at: now,
      expires_at: now + ttlMs,
    });
    return `reply+${token}@${this.config.inbound.domain}`;
  }

  /** The token of a reply address of ours (lower-cased: relays may change case), or null. */
  tokenOf(address: string): string | null {
    const at = address.lastIndexOf('@');
    if (at < 0) return null;
    const local = address.slice(0, at).toLowerCase();
    const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
    if (domain !== this.config.inbound.domain) return null;
    const m = LOCAL_RE.exec(local);
    return m && TOKEN_RE.test(m[1]!) ? m[1]! : null;
  }

  private async grantOf(q: Db | Trx, tokenHash: string): Promise<InboundGrant | undefined> {
    const row = (await q('inbound_tokens').where({ token_hash: tokenHash }).first('id', 'plugin', 'purpose', 'user_id', 'workspace_id', 'subject_id', 'expires_at')) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      id: String(row.id),
      plugin: String(row.plugin),
      purpose: String(row.purpose),
      userId: String(row.user_id),
      workspaceId: String(row.workspace_id),
      subjectId: String(row.subject_id),
      expiresAt: Number(row.expires_at),
    };
  }

  /**
   * At RCPT time (the listener): is this one of our live reply addresses? A well-formed token that
   * is unknown or expired is refused and audited here; anything else is simply not a mailbox here.
   */
  checkRecipient(address: string): Promise<{ ok: true } | { ok: false; reason: 'no-such-address' | 'unknown-token' | 'expired-token' }> {
    return this.track(this.checkRecipientNow(address));
  }

  private async checkRecipientNow(address: string): Promise<{ ok: true } | { ok: false; reason: 'no-such-address' | 'unknown-token' | 'expired-token' }> {
    const token = this.tokenOf(address);
    if (!token) return { ok: false, reason: 'no-such-address' };
    const tokenHash = sha256Hex(token);
    const grant = await this.grantOf(this.db, tokenHash);
    if (!grant) {
      await this.refuse('unknown-token', { tokenHash, stage: 'rcpt' });
      return { ok: false, reason: 'unknown-token' };
    }
    if (grant.expiresAt <= this.clock.now()) {
      await this.refuse('expired-token', { tokenHash, grant, stage: 'rcpt' });
      return { ok: false, reason: 'expired-token' };
    }
    return { ok: true };
  }

  /** A message over `inbound.maxBytes` (the listener stops reading it): audited for each address. */
  refuseOversized(to: string[], bytes: number): Promise<InboundOutcome> {
    return this.track(this.refuseOversizedNow(to, bytes));
  }

  private async refuseOversizedNow(to: string[], bytes: number): Promise<InboundOutcome> {
    const tokens = [...new Set(to.map((a) => this.tokenOf(a)).filter((t): t is string => t !== null))];
    if (!tokens.length) return this.refuse('too-large', { stage: 'data', extra: { bytes } });
    for (const token of tokens) {
      const tokenHash = sha256Hex(token);
      await this.refuse('too-large', { tokenHash, grant: await this.grantOf(this.db, tokenHash), stage: 'data', extra: { bytes } });
    }
    return { ok: false, reason: 'too-large' };
  }

  receive(raw: Buffer, envelope: { from?: string; to?: string[] } = {}): Promise<InboundOutcome> {
    return this.track(this.receiveNow(raw, envelope));
  }

  /** Work stop() waits for before the database closes. */
  private async track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(work);
    }
  }

  private async receiveNow(raw: Buffer, envelope: { from?: string; to?: string[] }): Promise<InboundOutcome> {
    if (!this.enabled) return { ok: false, reason: 'disabled' };
    if (raw.length > this.config.inbound.maxBytes) return this.refuseOversizedNow(envelope.to ?? [], raw.length);
    let parsed: Parsed;
    try {
      const { simpleParser } = await import('mailparser');
      // No HTML-to-text from the parser: for HTML-only mail we cut the quote blocks out of the
      // HTML first (htmlToPlain), which the parser's conversion would turn into plain lines.
      parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    } catch (err) {
      this.logger.info({ err: (err as Error).message }, 'inbound message could not be parsed');
      return this.refuse('unparseable', { stage: 'data' });
    }
    const recipients = envelope.to?.length ? envelope.to : headerRecipients(parsed);
    const tokens = [...new Set(recipients.map((a) => this.tokenOf(a)).filter((t): t is string => t !== null))];
    if (!tokens.length) return this.refuse('unknown-token', { stage: 'data' });
    // Several of our addresses on one message (rare: one reply to two threads) are each handled;
    // the outcome is the first refusal, or ok.
    let outcome: InboundOutcome = { ok: true };
    for (const token of tokens) {
      const one = await this.dispatch(token, parsed, envelope.from);
      if (!one.ok && outcome.ok) outcome = one;
    }
    return outcome;
  }

  private async dispatch(token: string, parsed: Parsed, envelopeFrom: string | undefined): Promise<InboundOutcome> {
    const tokenHash = sha256Hex(token);
    const messageId = parsed.messageId?.slice(0, 998);
    let result: CheckResult | typeof DUPLICATE;
    try {
      result = await transaction(this.db, async (trx) => {
        const checked = await this.check(trx, tokenHash, parsed, envelopeFrom);
        if ('refuse' in checked) return checked; // nothing written: the transaction commits empty
        if (messageId) {
          const message_hash = sha256Hex(messageId);
          if (await trx('inbound_seen').where({ token_id: checked.grant.id, message_hash }).first('token_id')) return DUPLICATE;
          try {
            await trx('inbound_seen').insert({ token_id: checked.grant.id, message_hash, received_at: checked.reply.receivedAt });
          } catch (err) {
            // Two deliveries of the same message racing: the second insert fails on the key. (Only
            // this insert: a handler's own unique violation is its failure, not a duplicate.)
            if (isUniqueViolation(err)) throw new DuplicateDelivery();
            throw err;
          }
        }
        const out = await checked.handler.handle(trx, checked.reply);
        if (!out.ok) throw new HandlerRefusal(String(out.reason || 'refused').slice(0, 64));
        return checked;
      });
    } catch (err) {
      if (err instanceof HandlerRefusal) {
        return this.refuse(err.reason, { tokenHash, grant: await this.grantOf(this.db, tokenHash), stage: 'handler', messageId });
      }
      if (err instanceof DuplicateDelivery) result = DUPLICATE;
      else throw err;
    }
    if (result === DUPLICATE) {
      this.logger.info({ tokenHash: hashPrefix(tokenHash) }, 'inbound reply already handled (same Message-ID): not posted again');
      return { ok: false, reason: 'duplicate' };
    }
    if ('refuse' in result) return this.refuse(result.refuse, { tokenHash, grant: result.grant, stage: 'data', messageId, from: result.from });
    this.logger.info({ tokenHash: hashPrefix(tokenHash), plugin: result.grant.plugin, purpose: result.grant.purpose, attachments: result.reply.attachments.length }, 'inbound reply handled');
    return { ok: true };
  }

  /** Every check before the handler, inside its transaction, so what is checked is what holds. */
  private async check(trx: Trx, tokenHash: string, parsed: Parsed, envelopeFrom: string | undefined): Promise<CheckResult> {
    const grant = await this.grantOf(trx, tokenHash);
    if (!grant) return { refuse: 'unknown-token' };
    if (grant.expiresAt <= this.clock.now()) return { refuse: 'expired-token', grant };
    if (isAutoReply(parsed, envelopeFrom)) return { refuse: 'auto-reply', grant };
    const froms = parsed.from?.value.map((a) => (a.address ?? '').toLowerCase()) ?? [];
    const from = froms.length === 1 ? froms[0]! : '';
    const user = (await trx('users').where({ id: grant.userId }).first('email', 'firm_role', 'disabled')) as { email: string; firm_role: string | null; disabled: unknown } | undefined;
    if (!user) return { refuse: 'person-gone', grant, from };
    if (toBool(user.disabled)) return { refuse: 'person-disabled', grant, from };
    const email = String(user.email).toLowerCase();
    if (from !== email || (envelopeFrom !== undefined && envelopeFrom.toLowerCase() !== email)) return { refuse: 'sender-mismatch', grant, from };
    const ws = (await trx('workspaces').where({ id: grant.workspaceId }).first('archived')) as { archived: unknown } | undefined;
    if (!ws || toBool(ws.archived)) return { refuse: 'workspace-archived', grant, from };
    // The same rule as workspacesQuery: owners and admins have every workspace, others their memberships.
    const firmWide = user.firm_role === 'owner' || user.firm_role === 'admin';
    if (!firmWide && !(await trx('memberships').where({ user_id: grant.userId, workspace_id: grant.workspaceId }).first('id'))) return { refuse: 'not-a-member', grant, from };
    const handler = this.handlers.get(`${grant.plugin}/${grant.purpose}`);
    if (!handler) return { refuse: 'no-handler', grant, from };
    const text = replyText(parsed.text?.trim() ? parsed.text : typeof parsed.html === 'string' ? htmlToPlain(parsed.html) : '');
    const attachments: InboundAttachment[] = parsed.attachments
      .filter((a) => !a.related) // images the HTML shows by cid: signature logos, not attachments
      .map((a) => ({ filename: a.filename || 'attachment', contentType: a.contentType || 'application/octet-stream', content: a.content, size: a.content.length }));
    if (!text && !attachments.length) return { refuse: 'empty', grant, from };
    return { grant, handler, reply: { grant, from, text, attachments, ...(parsed.messageId ? { messageId: parsed.messageId } : {}), receivedAt: this.clock.now() } };
  }

  /** Audit a refusal in its own transaction (nothing was posted) and log it without the token. */
  private async refuse(
    reason: string,
    ctx: { tokenHash?: string; grant?: InboundGrant; stage: 'rcpt' | 'data' | 'handler'; messageId?: string; from?: string; extra?: Record<string, unknown> },
  ): Promise<InboundOutcome> {
    const g = ctx.grant;
    const detail: Record<string, unknown> = { reason, stage: ctx.stage, ...(ctx.extra ?? {}) };
    if (g) Object.assign(detail, { plugin: g.plugin, purpose: g.purpose, userId: g.userId, subjectId: g.subjectId });
    else if (ctx.tokenHash) detail.tokenHash = hashPrefix(ctx.tokenHash); // an unknown token: its hash prefix, to match the log
    if (ctx.from !== undefined) detail.from = ctx.from.slice(0, 320);
    if (ctx.messageId) detail.messageId = ctx.messageId.slice(0, 200);
    await transaction(this.db, (trx) =>
      this.audit.record(trx, { action: 'core.inbound.refused', actorId: null, workspaceId: g?.workspaceId ?? null, subjectType: g ? 'InboundAddress' : null, subjectId: g?.id ?? null, detail }),
    );
    this.logger.info({ reason, stage: ctx.stage, ...(ctx.tokenHash ? { tokenHash: hashPrefix(ctx.tokenHash) } : {}), ...(g ? { plugin: g.plugin, purpose: g.purpose } : {}) }, 'inbound reply refused');
    return { ok: false, reason };
  }

  /** Start the SMTP listener when inbound mail is enabled and this process listens (boot, after plugins bootstrap). */
  async start(): Promise<void> {
    if (!this.enabled || !this.config.inbound.listen || this.listener) return;
    this.listener = await startListener(this, this.config, this.logger);
    this.logger.info({ host: this.listener.host, port: this.listener.port, domain: this.config.inbound.domain }, 'inbound mail listening');
  }

  /** Stop accepting, let messages being handled finish (boot's stop, before the database closes). */
  async stop(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    await l?.close();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Delete reply addresses that expired more than `graceMs` ago, and their seen marks (housekeeping). */
  async sweep(graceMs = 30 * DAY_MS): Promise<number> {
    const old = this.db('inbound_tokens').where('expires_at', '<', this.clock.now() - graceMs).select('id');
    await this.db('inbound_seen').whereIn('token_id', old).delete();
    return Number(await this.db('inbound_tokens').where('expires_at', '<', this.clock.now() - graceMs).delete());
  }
}

/** To, Cc and the delivery headers relays add: where a reply address may be named. */
function headerRecipients(parsed: Parsed): string[] {
  const out: string[] = [];
  for (const field of [parsed.to, parsed.cc]) {
    for (const obj of Array.isArray(field) ? field : field ? [field] : []) for (const a of obj.value) if (a.address) out.push(a.address);
  }
  for (const name of ['delivered-to', 'x-original-to']) {
    const v = parsed.headers.get(name);
    for (const s of Array.isArray(v) ? v : v ? [v] : []) if (typeof s === 'string') out.push(s.trim());
  }
  return out;
}

/**
 * Out-of-office replies and bounces (RFC 3834 Auto-Submitted, the de-facto X-Autoreply and
 * Precedence headers, an empty envelope sender): never posted, and accepted quietly so the
 * auto-responder does not get a bounce to answer.
 */
export function isAutoReply(parsed: Pick<Parsed, 'headers'>, envelopeFrom?: string): boolean {
  if (envelopeFrom === '') return true;
  const h = parsed.headers;
  const auto = String(h.get('auto-submitted') ?? '').trim().toLowerCase();
  if (auto && auto !== 'no') return true;
  if (h.has('x-autoreply') || h.has('x-autorespond') || h.has('x-autoresponder')) return true;
  const precedence = String(h.get('precedence') ?? '').trim().toLowerCase();
  return ['bulk', 'junk', 'list', 'auto_reply'].includes(precedence);
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT' || /UNIQUE constraint failed/.test(String(e?.message ?? ''));
}
