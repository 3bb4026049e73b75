// Mail goes through the outbox: a message is written to the `outbox` table in the transaction
// that caused it, so a rolled-back change never mails anyone and a crash after commit never
// loses a message. Delivery (worker, retries, transports) reads from the same table: see
// core/mail/worker.ts. This is the kernel's one outbox; plugins queue through `Tokens.Mail`.
import type { Clock } from './clock.ts';
import { afterCommit, type Trx } from './db/index.ts';
import { AtriumError } from './errors.ts';
import { newId } from './ids.ts';
import { isPlainAddress, isSafeHeaderText } from './mail/address.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  workspaceId?: string | null;
  /**
   * Where replies go (a reply-by-email address from Tokens.Inbound). A plain address only: no
   * name, no CR/LF. Cleared from the outbox once delivered, since it holds a secret token.
   */
  replyTo?: string;
}

export class MailService {
  /** Called after a transaction that queued mail commits (the worker uses it to send at once). */
  onQueued: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly domain: string,
  ) {}

  /** Queue a message in the caller's transaction. Returns its stable Message-ID. */
  async enqueue(trx: Trx, mail: OutgoingMail): Promise<string> {
    if (!trx.isTransaction) throw new Error('mail.enqueue needs the transaction of the change that causes the mail');
    if (!isPlainAddress(mail.to)) throw new AtriumError('ATR_MAIL_ADDRESS', 'the recipient must be a plain address (no name, quotes or line breaks)');
    if (mail.replyTo !== undefined && !isPlainAddress(mail.replyTo)) throw new AtriumError('ATR_MAIL_ADDRESS', 'the Reply-To must be a plain address (no name, quotes or line breaks)');
    if (!isSafeHeaderText(mail.subject) || mail.subject.length > 400) throw new AtriumError('ATR_MAIL_ADDRESS', 'the subject may not contain line breaks or control characters');
    const id = newId();
    const messageId = `<${id}@${this.domain}>`;
    const now = this.clock.now();
    await trx('outbox').insert({
      id,
      message_id: messageId,
      workspace_id: mail.workspaceId ?? null,
      to_address: mail.to,
      subject: mail.subject,
      text_body: mail.text,
      html_body: mail.html ?? null,
      reply_to: mail.replyTo ?? null,
      created_at: now,
      attempts: 0,
      next_attempt_at: now,
    });
    afterCommit(trx, () => this.onQueued?.());
    return messageId;
  }
}
