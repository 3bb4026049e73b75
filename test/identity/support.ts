// Shared helpers for the identity and mail suites: read delivered mail, pull links out of it,
// compute TOTP codes, run an in-process SMTP server, and sign in through the second step.
import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { TestApp } from '../helpers/app.ts';
import type { HttpClient, Res } from '../helpers/http.ts';
import { emlFileName } from '../../core/mail/transports.ts';

export interface Delivered {
  messageId: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Let the outbox worker deliver everything due, then wait for runs in flight. */
export async function flushMail(app: TestApp): Promise<void> {
  await app.kernel.mailWorker.idle();
  await app.kernel.mailWorker.runOnce();
  await app.kernel.mailWorker.idle();
}

/** Messages delivered to `to` through the file transport, oldest first, parsed with mailparser. */
export async function mailsTo(app: TestApp, to: string): Promise<Delivered[]> {
  await flushMail(app);
  const rows = (await app.kernel.db('outbox').where({ to_address: to }).whereNotNull('sent_at').orderBy('created_at').orderBy('id').select('message_id')) as Array<{ message_id: string }>;
  const out: Delivered[] = [];
  for (const r of rows) {
    const file = join(app.db.dataDir, 'mail', emlFileName(r.message_id));
    if (!existsSync(file)) continue;
    const parsed = await simpleParser(readFileSync(file));
    out.push({ messageId: parsed.messageId ?? '', to, subject: parsed.subject ?? '', text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' });
  }
  return out;
}

export async function lastMailTo(app: TestApp, to: string): Promise<Delivered> {
  const all = await mailsTo(app, to);
  if (!all.length) throw new Error(`no mail to ${to}`);
  return all.at(-1)!;
}

/** The first absolute link in `text` whose path starts with `prefix`. */
export function linkIn(text: string, prefix: string): string {
  const m = new RegExp(`(https?://[^\\s"<>]+${prefix.replace(/[/]/g, '\\/')}[A-Za-z0-9_-]+)`).exec(text);
  if (!m) throw new Error(`no ${prefix} link in: ${text}`);
  return m[1]!;
}

/** The path (and token) of an absolute link. */
export function pathOf(url: string): string {
  return new URL(url).pathname;
}

/** The enrolment key shown on the setup page (grouped by 4 for reading). */
export function secretOn(page: Res): string {
  const m = /<code id="mfa-secret">([A-Z2-7 ]+)<\/code>/.exec(page.text);
  if (!m) throw new Error(`no secret on the page: ${page.status}`);
  return m[1]!.replace(/\s+/g, '');
}

export function recoveryCodesOn(page: Res): string[] {
  return [...page.text.matchAll(/<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})<\/code><\/li>/g)].map((m) => m[1]!);
}

export function code(app: TestApp, secret: string, offsetMs = 0): string {
  return app.kernel.mfa.codeAt(secret, app.kernel.clock.now() + offsetMs);
}

/** Enrol TOTP from /account (re-authenticating with the password if asked). Returns secret and codes. */
export async function enrolFromAccount(app: TestApp, c: HttpClient, password: string): Promise<{ secret: string; codes: string[] }> {
  let page = await c.get('/account/mfa/setup');
  if (page.status === 302 && page.location?.startsWith('/account/reauth')) {
    await c.get(page.location);
    const re = await c.postForm('/account/reauth', { password, next: '/account/mfa/setup' });
    if (re.status !== 303) throw new Error(`reauth failed: ${re.status}`);
    c.csrf = undefined;
    page = await c.get('/account/mfa/setup');
  }
  const secret = secretOn(page);
  const done = await c.postForm('/account/mfa/setup', { code: code(app, secret) });
  if (done.status !== 200) throw new Error(`enrolment failed: ${done.status} ${done.text.slice(0, 300)}`);
  return { secret, codes: recoveryCodesOn(done) };
}

/** Password, then TOTP: a full sign-in. Advances the clock one step first so the code is fresh. */
export async function loginWithTotp(app: TestApp, c: HttpClient, email: string, password: string, secret: string): Promise<Res> {
  const first = await c.login(email, password);
  if (first.location !== '/login/mfa') throw new Error(`expected the MFA step, got ${first.status} ${first.location}`);
  await c.get('/login/mfa');
  (app.kernel.clock as unknown as { advance(ms: number): void }).advance(30_000);
  const res = await c.postForm('/login/mfa', { code: code(app, secret) });
  c.csrf = undefined;
  return res;
}

export interface CapturedMail {
  from: string;
  to: string[];
  raw: Buffer;
}

/** An SMTP server on 127.0.0.1:<free port> that keeps what it receives (TOOLCHAIN.md "Mail"). */
export async function startSmtp(): Promise<{ port: number; received: CapturedMail[]; close(): Promise<void> }> {
  const received: CapturedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  const net = server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => net.once('listening', () => resolve()));
  const port = (net.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export async function parse(raw: Buffer) {
  return simpleParser(raw);
}

export const SMTP_CONFIG = (port: number) => ({
  mail: { transport: 'smtp', from: 'portal@harbor.example', smtp: { host: '127.0.0.1', port, secure: false, requireTLS: false, ignoreTLS: true, user: '', pass: '' } },
});
