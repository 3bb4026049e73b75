// The SMTP listener for replies by email (smtp-server). It sits behind the firm's MX or a relay:
// no AUTH, no STARTTLS (a TLS-terminating relay goes in front; see README "Replies by email").
// RCPT is accepted only for a live `reply+<token>@<domain>` (anything else: 550 at RCPT time);
// a message is read up to `inbound.maxBytes` (a bigger one gets 552 and is audited), then handed to InboundMailService.receive. The reply's fate becomes the DATA
// answer: 250 when handled (or a duplicate or an auto-reply, which must not bounce), 550 when
// refused, 451 when something failed on our side so the relay retries. smtp-server's own logger
// is off: its lines would carry the RCPT address, and the address is the secret.
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServer as SMTPServerType } from 'smtp-server';
import type { AtriumConfig } from '../config/schema.ts';
import type { InboundOutcome } from '../inbound.ts';
import type { InboundMailService } from './service.ts';

/** More recipients than this on one message is not a reply. */
const MAX_RECIPIENTS = 10;

export interface InboundListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/** What the sender's mail server is told; specific enough for a person to act on, no more. */
export function smtpAnswer(outcome: InboundOutcome): Error | null {
  if (outcome.ok || outcome.reason === 'duplicate' || outcome.reason === 'auto-reply') return null;
  switch (outcome.reason) {
    case 'too-large':
      return smtpError(552, '5.3.4 Message too big for this reply address');
    case 'expired-token':
      return smtpError(550, '5.1.1 This reply address has expired: please reply from the portal');
    case 'unknown-token':
      return smtpError(550, '5.1.1 No such reply address');
    default:
      return smtpError(550, '5.7.1 This reply could not be posted: please reply from the portal');
  }
}

export async function startListener(service: InboundMailService, config: AtriumConfig, logger: Logger): Promise<InboundListener> {
  const { SMTPServer } = await import('smtp-server');
  const maxBytes = config.inbound.maxBytes;
  const server: SMTPServerType = new SMTPServer({
    name: config.inbound.domain,
    banner: 'replies only',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    // The limit is enforced by counting, but not advertised: a client that declared a SIZE over
    // it would be refused at MAIL FROM, before any recipient is known, and nothing could be
    // audited against the reply address. So the message is read (and dropped past the limit).
    size: maxBytes,
    hideSize: true,
    logger: false,
    disableReverseLookup: true,
    maxClients: 50,
    socketTimeout: 60_000,
    closeTimeout: Math.max(1_000, Math.min(config.shutdownTimeoutMs, 30_000)),
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(smtpError(452, '4.5.3 Too many recipients'));
      service.checkRecipient(address.address).then(
        (r) => callback(r.ok ? null : smtpError(550, r.reason === 'expired-token' ? '5.1.1 This reply address has expired: please reply from the portal' : '5.1.1 No such reply address')),
        (err: Error) => {
          logger.error({ err }, 'inbound recipient check failed');
          callback(smtpError(451, '4.3.0 Temporary failure, try again later'));
        },
      );
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= maxBytes) chunks.push(chunk); // past the limit, read and drop: the answer is 552
      });
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        const mailFrom = session.envelope.mailFrom;
        const work =
          bytes > maxBytes || stream.sizeExceeded
            ? service.refuseOversized(to, bytes)
            : service.receive(Buffer.concat(chunks), { from: mailFrom ? mailFrom.address : undefined, to });
        work.then(
          (outcome) => callback(smtpAnswer(outcome)),
          (err: Error) => {
            logger.error({ err }, 'inbound reply failed');
            callback(smtpError(451, '4.3.0 Temporary failure, try again later'));
          },
        );
      });
    },
  });
  server.on('error', (err) => logger.warn({ err: err.message }, 'inbound SMTP error'));
  const net = server.listen(config.inbound.port, config.inbound.host);
  await new Promise<void>((resolve, reject) => {
    net.once('listening', () => resolve());
    net.once('error', reject);
  });
  const addr = net.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
