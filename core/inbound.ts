// The contract for replies by email (the implementation is core/inbound/service.ts; the SMTP
// listener core/inbound/listener.ts). A plugin that mails a person something they can answer
// (a message, a ticket) asks for a per-recipient reply address, sets it as the mail's Reply-To,
// and registers a handler for its plugin+purpose. The kernel receives the reply, checks the
// address's token, the sender and the person's access, strips the quoted text, and calls the
// handler in a transaction. Resolve with `container.resolve(Tokens.Inbound)`.
//
//   inbound.register({ plugin: 'messaging', purpose: 'thread', handle: async (trx, reply) => ... });   // in register()
//   const replyTo = await inbound.replyAddress(trx, { plugin: 'messaging', purpose: 'thread', userId, workspaceId, subjectId: thread.id });
//   await notifications.notify(trx, [{ userId, ..., replyTo }]);                                         // undefined when off: no Reply-To
import type { Trx } from './db/index.ts';

/** What a reply address is bound to: one person, one workspace, one plugin/purpose, one subject. */
export interface InboundGrant {
  id: string;
  plugin: string;
  purpose: string;
  userId: string;
  workspaceId: string;
  subjectId: string;
  expiresAt: number;
}

export interface InboundAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  size: number;
}

export interface InboundReply {
  grant: InboundGrant;
  /** The sender's address (From header; the envelope MAIL FROM matched it too), lower-cased. */
  from: string;
  /**
   * The reply's own text: quoted text, "On … wrote:" blocks, '-- ' signatures and common mobile
   * footers stripped; trimmed; one string with \n. Untrusted input: validate it like a form field.
   */
  text: string;
  /** Attachments (images embedded in the HTML by cid, such as signature logos, are left out). Untrusted. */
  attachments: InboundAttachment[];
  /** The Message-ID header, for de-duplication (the kernel already refuses a repeat for the same address). */
  messageId?: string;
  receivedAt: number;
}

/** `reason`: a short code, e.g. 'not-a-reader', recorded in the kernel's refusal audit event. */
export type InboundOutcome = { ok: true } | { ok: false; reason: string };

export interface InboundHandler {
  plugin: string;
  purpose: string;
  /** Called inside a transaction; post the reply as grant.userId or refuse. A refusal is audited by the kernel, nothing posted. */
  handle(trx: Trx, reply: InboundReply): Promise<InboundOutcome>;
}

export interface InboundService {
  /** True when config has inbound mail enabled (a reply domain). */
  readonly enabled: boolean;
  /** In a plugin's register(); a plugin+purpose registered twice throws (ATR_INBOUND_DUPLICATE_HANDLER). */
  register(handler: InboundHandler): void;
  /**
   * A per-recipient reply address `reply+<token>@<domain>` bound to person, workspace,
   * plugin/purpose and subject; undefined when not enabled. Token: 256-bit random, lower-case
   * base32 (52 chars, so the local part stays ≤ 64 and survives relays that lower-case), stored
   * only as SHA-256, expiring after `ttlMs` (default `inbound.tokenTtlDays`).
   */
  replyAddress(trx: Trx, g: { plugin: string; purpose: string; userId: string; workspaceId: string; subjectId: string; ttlMs?: number }): Promise<string | undefined>;
  /** Parse one raw RFC 822 message (what the SMTP listener hands over) and dispatch it; returns the outcome (also used by tests). */
  receive(raw: Buffer, envelope?: { from?: string; to?: string[] }): Promise<InboundOutcome>;
}
