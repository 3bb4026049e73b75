// Payment providers: the kernel's contract between a plugin that takes money online (Stripe, a
// bank's hosted page) and the plugin that owns what is paid (invoices). Neither imports the other.
//
//   payments.registerProvider('payments-stripe', { id: 'stripe', label: 'Card (Stripe)', startCheckout, refund? })
//   payments.registerPayable('invoices', { kind: 'invoices.invoice', confirm, expire? })
//
// The payable side computes what is owed ON THE SERVER and calls `provider.startCheckout(...)`;
// the person is sent to the returned URL. When the provider later hears (a webhook whose
// signature it has verified) that the money was taken, it calls `payments.confirm(...)`, which
// hands the confirmation to the payable kind named in `payableRef` (`<kind>:<id>`). The payable
// side checks amount and currency against what is owed, records the payment idempotently (unique
// on provider + provider reference: a replayed or duplicated confirmation records nothing twice),
// and answers what it did. A provider never writes the payable side's tables.
import type { AuditEntry } from './audit.ts';
import { AtriumError } from './errors.ts';

/** What the payable side asks a provider to collect. Every amount is computed by the server. */
export interface CheckoutRequest {
  /** `<kind>:<id>` (`invoices.invoice:<uuid>`): handed back, untouched, in `confirm`. */
  payableRef: string;
  workspace: { id: string; slug: string; name: string };
  /** Integer minor units of `currency` (cents), more than zero. */
  amountMinor: number;
  /** ISO 4217, upper case (`EUR`). */
  currency: string;
  /** One line the person sees at the provider ("Invoice INV-2026-0001 from Harbor & Vale"). */
  description: string;
  /** Absolute URLs on this site: where the provider sends the person after paying, or giving up. */
  successUrl: string;
  cancelUrl: string;
  /** Pre-filled at the provider; optional. */
  customerEmail?: string;
  /** The payable side's own id for this attempt: providers use it as their idempotency key. */
  attemptId: string;
}

/** A started checkout: where to send the person, and the provider's reference for it. */
export interface CheckoutStarted {
  /** An absolute https (or, in tests, http) URL at the provider. */
  url: string;
  /** The provider's id of this checkout (a Stripe Checkout Session id): `providerRef` in `confirm`. */
  providerRef: string;
}

export interface RefundRequest {
  providerRef: string;
  amountMinor: number;
  currency: string;
  attemptId: string;
}

export interface PaymentProvider {
  /** Short and stable (`stripe`): stored with each payment and in each workspace's allowed list. */
  id: string;
  /** What a person calls it on the Pay button and in settings ("Card (Stripe)"). */
  label: string;
  /** Create the checkout at the provider. Throw to refuse; the person is told it did not start. */
  startCheckout(req: CheckoutRequest): Promise<CheckoutStarted>;
  /** Give money back through the provider (optional). */
  refund?(req: RefundRequest): Promise<{ providerRef: string }>;
}

/** A provider's verified word that money was taken. */
export interface PaymentConfirmation {
  /** The provider's `id`. */
  provider: string;
  /** The provider's id of the checkout (as returned by startCheckout): the idempotency key. */
  providerRef: string;
  /** The provider's id of the message that told it (a Stripe event id), for the record. */
  eventId?: string;
  payableRef: string;
  /** The workspace named when the checkout started, as the provider stored it. */
  workspaceId: string;
  amountMinor: number;
  currency: string;
  /** Who told us (the webhook's IP and agent) for the audit entry. */
  actor: Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;
}

/** The provider's word that a checkout ended without payment (expired, abandoned). */
export type CheckoutEnded = Omit<PaymentConfirmation, 'amountMinor' | 'currency'>;

export type ConfirmOutcome =
  /** A new payment was recorded (with its receipt). */
  | { outcome: 'recorded'; paymentId: string; receipt: string }
  /** This checkout's payment was already recorded: nothing changed. */
  | { outcome: 'duplicate'; paymentId: string }
  /** Nothing recorded: the reason is logged and audited by the payable side. */
  | { outcome: 'refused'; reason: RefusalReason };

export type RefusalReason = 'unknown_payable' | 'unknown_checkout' | 'amount_mismatch' | 'currency_mismatch' | 'not_payable' | 'overpayment';

export interface PayableKind {
  /** `<plugin>.<thing>` (`invoices.invoice`), the part of `payableRef` before the colon. */
  kind: string;
  confirm(c: PaymentConfirmation): Promise<ConfirmOutcome>;
  /** A checkout ended unpaid: forget it if it is still open; never undo a recorded payment. */
  ended?(c: CheckoutEnded): Promise<void>;
}

export class PaymentRegistry {
  private readonly providersById = new Map<string, PaymentProvider & { owner: string }>();
  private readonly kinds = new Map<string, PayableKind & { owner: string }>();

  /** Declare a provider (from a plugin's `register`). An id registered twice throws. */
  registerProvider(owner: string, provider: PaymentProvider): void {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(provider.id)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: payment provider id "${provider.id}" must be kebab-case`);
    const prev = this.providersById.get(provider.id);
    if (prev) throw new AtriumError('ATR_PLUGIN_INVALID', `payment provider "${provider.id}" registered by ${prev.owner} and ${owner}`);
    this.providersById.set(provider.id, { ...provider, owner });
  }

  /** Declare what can be paid (from a plugin's `register`). A kind registered twice throws. */
  registerPayable(owner: string, kind: PayableKind): void {
    if (!/^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9]*$/.test(kind.kind) || !kind.kind.startsWith(`${owner}.`)) {
      throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: payable kind "${kind.kind}" must be "${owner}.<thing>"`);
    }
    const prev = this.kinds.get(kind.kind);
    if (prev) throw new AtriumError('ATR_PLUGIN_INVALID', `payable kind "${kind.kind}" registered by ${prev.owner} and ${owner}`);
    this.kinds.set(kind.kind, { ...kind, owner });
  }

  /** The registered providers, by label (for settings pages and Pay buttons). */
  providers(): Array<{ id: string; label: string; canRefund: boolean }> {
    return [...this.providersById.values()].map((p) => ({ id: p.id, label: p.label, canRefund: Boolean(p.refund) })).sort((a, b) => a.label.localeCompare(b.label));
  }

  provider(id: string): PaymentProvider | undefined {
    return this.providersById.get(id);
  }

  /** `<kind>:<id>` for the payable side to hand to a provider. */
  static ref(kind: string, id: string): string {
    return `${kind}:${id}`;
  }

  private kindOf(payableRef: string): (PayableKind & { owner: string }) | undefined {
    const i = payableRef.indexOf(':');
    return i > 0 ? this.kinds.get(payableRef.slice(0, i)) : undefined;
  }

  /**
   * A provider confirms a payment it has verified. Unknown kinds are refused; the provider must not
   * call this for a message whose signature it has not checked.
   */
  async confirm(c: PaymentConfirmation): Promise<ConfirmOutcome> {
    if (!this.providersById.has(c.provider)) throw new AtriumError('ATR_PLUGIN_INVALID', `payment provider "${c.provider}" is not registered`);
    const kind = this.kindOf(c.payableRef);
    if (!kind) return { outcome: 'refused', reason: 'unknown_payable' };
    return kind.confirm(c);
  }

  /** A provider reports a checkout that ended unpaid. Unknown kinds are ignored. */
  async ended(c: CheckoutEnded): Promise<void> {
    if (!this.providersById.has(c.provider)) throw new AtriumError('ATR_PLUGIN_INVALID', `payment provider "${c.provider}" is not registered`);
    await this.kindOf(c.payableRef)?.ended?.(c);
  }
}
