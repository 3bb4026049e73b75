// Mail goes through the outbox: a message is written to the `outbox` table in the transaction
// that caused it, so a rolled-back change never mails anyone and a crash after commit never
// loses a message. Delivery (worker, retries, transports) reads from the same table.
import type { Clock } from './clock.ts';
import type { Trx } from './db/index.ts';
import { newId } from './ids.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  workspaceId?: string | null;
}

const HEADER_UNSAFE = /[\r\n]/;

export class MailService {
  constructor(
    private readonly clock: Clock,
    private readonly domain: string,
  ) {}

  /** Queue a message in the caller's transaction. Returns its stable Message-ID. */
  async enqueue(trx: Trx, mail: OutgoingMail): Promise<string> {
    if (!trx.isTransaction) throw new Error('mail.enqueue needs the transaction of the change that causes the mail');
    if (HEADER_UNSAFE.test(mail.to) || HEADER_UNSAFE.test(mail.subject)) throw new Error('mail header fields may not contain line breaks');
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
      created_at: now,
      attempts: 0,
      next_attempt_at: now,
    });
    return messageId;
  }
}
