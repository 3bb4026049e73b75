// The outbox relay. Each run claims due rows (claim token + expiry, written atomically; on
// PostgreSQL the candidates are picked with FOR UPDATE SKIP LOCKED, so two processes never take
// the same row), sends them and marks them sent. A failure is retried with exponential backoff
// (30 s doubling, at most 6 h) until `mail.maxAttempts`, then marked failed. Delivery is
// at-least-once: a process that dies after sending but before marking leaves a claim that
// expires, and the message is sent again with the same Message-ID, so receivers can de-duplicate.
// After delivery the one-time links in the stored bodies are scrubbed.
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { isPostgresClient, type Db } from '../db/index.ts';
import { newId } from '../ids.ts';
import type { BrandingService } from '../settings.ts';
import { compose, createTransport, type MailTransport } from './transports.ts';
import { redactTokens } from './templates.ts';

const BATCH = 20;
/** How long a claim holds before another worker may retry the row. */
export const CLAIM_MS = 5 * 60_000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 6 * 3_600_000;

export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
}

export interface OutboxRow {
  id: string;
  message_id: string;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  reply_to: string | null;
  created_at: number;
  attempts: number;
}

export class MailWorker {
  readonly transport: MailTransport;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private stopped = true;
  /** Set by stop(): a run in progress finishes its current batch and returns. */
  private halting = false;

  constructor(
    private readonly config: AtriumConfig,
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly branding: BrandingService,
    transport?: MailTransport,
  ) {
    this.transport = transport ?? createTransport(config);
  }

  /** Start polling (boot calls this after bootstrap). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.halting = false;
    this.timer = setInterval(() => this.kick(), this.config.mail.pollSeconds * 1000);
    this.timer.unref();
    this.kick();
  }

  /** Stop polling and wait for a run in progress (boot's stop() calls this before closing the db). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halting = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => 0);
    this.transport.close?.();
  }

  /** Run soon (after a commit that queued mail); runs never overlap within a process. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce()
      .catch((err) => {
        this.logger.error({ err }, 'mail worker run failed');
        return 0;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Wait for the current run, if any (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => 0);
  }

  /** Claim due rows for this run. Returns the claim token and the rows. */
  async claim(limit = BATCH): Promise<{ token: string; rows: OutboxRow[] }> {
    const token = newId();
    const now = this.clock.now();
    // One UPDATE statement: atomic on SQLite (no read-then-write upgrade for two processes to
    // deadlock on), and on PostgreSQL the candidates are row-locked with SKIP LOCKED, so two
    // workers take disjoint rows instead of waiting for each other.
    const due = this.db('outbox')
      .select('id')
      .whereNull('sent_at')
      .whereNull('failed_at')
      .andWhere('next_attempt_at', '<=', now)
      .andWhere((q) => q.whereNull('claim_expires_at').orWhere('claim_expires_at', '<', now))
      .orderBy('next_attempt_at')
      .limit(limit);
    if (isPostgresClient(this.db)) due.forUpdate().skipLocked();
    await this.db('outbox').whereIn('id', due).update({ claim_token: token, claim_expires_at: now + CLAIM_MS });
    const rows = (await this.db('outbox')
      .where({ claim_token: token })
      .select('id', 'message_id', 'to_address', 'subject', 'text_body', 'html_body', 'reply_to', 'created_at', 'attempts')) as OutboxRow[];
    return { token, rows };
  }

  /** One pass: claim, send, mark. Returns how many were sent. */
  async runOnce(): Promise<number> {
    let sent = 0;
    for (;;) {
      const { token, rows } = await this.claim();
      if (!rows.length) return sent;
      const brand = await this.branding.get();
      for (const row of rows) {
        if (await this.deliver(row, token, brand.firmName)) sent++;
      }
      if (rows.length < BATCH || this.halting) return sent;
    }
  }

  private async deliver(row: OutboxRow, token: string, firmName: string): Promise<boolean> {
    const attempts = Number(row.attempts) + 1;
    try {
      const mail = {
        messageId: row.message_id,
        from: { name: firmName, address: this.config.mail.from },
        to: row.to_address,
        subject: row.subject,
        text: row.text_body,
        html: row.html_body,
        replyTo: row.reply_to,
        date: new Date(Number(row.created_at)),
      };
      await this.transport.send(await compose(mail), mail);
    } catch (err) {
      const now = this.clock.now();
      const failed = attempts >= this.config.mail.maxAttempts;
      await this.db('outbox')
        .where({ id: row.id, claim_token: token })
        .update({
          attempts,
          last_error: String((err as Error).message ?? err).slice(0, 1000),
          next_attempt_at: now + backoffMs(attempts),
          failed_at: failed ? now : null,
          claim_token: null,
          claim_expires_at: null,
        });
      this.logger.warn({ messageId: row.message_id, attempts, failed, err: (err as Error).message }, 'mail delivery failed');
      return false;
    }
    await this.db('outbox')
      .where({ id: row.id, claim_token: token })
      .update({
        attempts,
        sent_at: this.clock.now(),
        last_error: null,
        claim_token: null,
        claim_expires_at: null,
        // The message is out: its one-time links need not sit in the database any longer.
        text_body: redactTokens(row.text_body),
        html_body: row.html_body === null ? null : redactTokens(row.html_body),
        // A reply-by-email address is a secret too; the reply is matched by its token's hash.
        reply_to: null,
      });
    this.logger.info({ messageId: row.message_id, transport: this.transport.kind }, 'mail sent');
    return true;
  }
}
