// Where composed messages go. `file` (the development default) writes each message to
// `<dataDir>/mail/<message-id>.eml`: temp file -> fsync -> rename -> fsync the folder, so a crash
// leaves either no file or a whole one. `smtp` hands the same bytes to nodemailer with file and
// URL access disabled (the raw message is ours; nothing in it may make nodemailer read a path).
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
// nodemailer is imported on first use: a process that sends no mail never loads it.
import type nodemailer from 'nodemailer';
import type { AtriumConfig } from '../config/schema.ts';
import { isPlainAddress } from './address.ts';
import { fsyncPath } from '../fsync.ts';

export interface ComposedMail {
  messageId: string;
  from: { name: string; address: string };
  to: string;
  subject: string;
  text: string;
  html: string | null;
  date: Date;
  /** Reply-To: a plain address (checked again here: the row came from the database). */
  replyTo?: string | null;
}

export interface MailTransport {
  readonly kind: string;
  send(raw: Buffer, mail: ComposedMail): Promise<void>;
  close?(): void;
}

/** Build the RFC 5322 message once; every transport sends these exact bytes. */
export async function compose(mail: ComposedMail): Promise<Buffer> {
  if (mail.replyTo && !isPlainAddress(mail.replyTo)) throw new Error('the Reply-To is not a plain single-line address');
  const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
  const composer = new MailComposer({
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    ...(mail.html ? { html: mail.html } : {}),
    ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
    messageId: mail.messageId,
    date: mail.date,
    headers: { 'Auto-Submitted': 'auto-generated' },
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile().build();
}

/** `<0190…@host>` -> `0190…@host.eml`: a file name with nothing but safe characters. */
export function emlFileName(messageId: string): string {
  return `${messageId.replace(/[<>]/g, '').replace(/[^A-Za-z0-9@._-]/g, '_')}.eml`;
}

export class FileTransport implements MailTransport {
  readonly kind = 'file';
  constructor(readonly dir: string) {}

  async send(raw: Buffer, mail: ComposedMail): Promise<void> {
    // Asynchronous throughout: the relay runs in the server's process, and a synchronous fsync
    // (milliseconds each) stalled every request behind it (a profile under load: 8% of the main
    // thread in openSync, writeSync and fsyncSync here).
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const final = join(this.dir, emlFileName(mail.messageId));
    const temp = join(this.dir, `.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(temp, 'w', 0o600);
    try {
      await fh.writeFile(raw);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // A resend after a crash overwrites the same name: one file per Message-ID.
    await rename(temp, final);
    await fsyncPath(this.dir);
  }
}

export class SmtpTransport implements MailTransport {
  readonly kind = 'smtp';
  private transporter: Promise<ReturnType<typeof nodemailer.createTransport>> | undefined;

  constructor(private readonly cfg: AtriumConfig['mail']['smtp']) {}

  private connect() {
    const cfg = this.cfg;
    return (this.transporter ??= import('nodemailer').then(({ default: mailer }) =>
      mailer.createTransport({
        host: cfg.host,
        port: cfg.port,
        secure: cfg.secure,
        requireTLS: cfg.requireTLS && !cfg.ignoreTLS,
        ignoreTLS: cfg.ignoreTLS,
        ...(cfg.user ? { auth: { user: cfg.user, pass: cfg.pass } } : {}),
        disableFileAccess: true,
        disableUrlAccess: true,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 30_000,
      }),
    ));
  }

  async send(raw: Buffer, mail: ComposedMail): Promise<void> {
    await (await this.connect()).sendMail({
      envelope: { from: mail.from.address, to: [mail.to] },
      raw,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  close(): void {
    void this.transporter?.then((t) => t.close());
  }
}

export function createTransport(config: AtriumConfig): MailTransport {
  return config.mail.transport === 'smtp' ? new SmtpTransport(config.mail.smtp) : new FileTransport(join(config.dataDir, 'mail'));
}
