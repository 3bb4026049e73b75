// Dependency injection: tsyringe with explicit tokens for every kernel service.
// A plugin gets a child container for its own services and can export services to the root
// under tokens it owns. Registering a token that is already registered throws at boot
// (Fastify's FST_ERR_DEC_ALREADY_PRESENT): nothing is silently overwritten.
import 'reflect-metadata';
import { container as rootTsyringe, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';
import type { Clock } from './clock.ts';
import type { ViewEngine } from './views/engine.ts';
import type { MailService } from './mail.ts';
import type { AuditService } from './audit.ts';
import type { EventBus } from './events.ts';
import type { NotificationService } from './notifications.ts';
import type { BrandingService } from './settings.ts';
import type { StorageService } from './storage/index.ts';
import type { LiveService } from './live.ts';
import type { LinkService } from './links.ts';
import type { InboundService } from './inbound.ts';
import type { JobRunner } from './jobs.ts';
import type { ApprovableRegistry } from './approvables.ts';
import type { WaitingRegistry } from './waiting.ts';
import type { EvidenceRegistry } from './evidence.ts';
import type { PaymentRegistry } from './payments.ts';
import type { SubjectThreads } from './threads.ts';
import { AtriumError } from './errors.ts';

/** Typed token: a symbol whose description names its owner (`core:db`, `files:storage`). */
export type Token<T> = symbol & { readonly __type?: T };
export function token<T>(name: string): Token<T> {
  return Symbol(name) as Token<T>;
}

export const Tokens = {
  Config: token<AtriumConfig>('core:config'),
  Db: token<Knex>('core:db'),
  Logger: token<Logger>('core:logger'),
  Views: token<ViewEngine>('core:views'),
  Mail: token<MailService>('core:mail'),
  Audit: token<AuditService>('core:audit'),
  Events: token<EventBus>('core:events'),
  Clock: token<Clock>('core:clock'),
  Notifications: token<NotificationService>('core:notifications'),
  /** The firm's name and colours: what a client sees instead of the product's name. */
  Branding: token<BrandingService>('core:branding'),
  Storage: token<StorageService>('core:storage'),
  Live: token<LiveService>('core:live'),
  Links: token<LinkService>('core:links'),
  /** Replies by email (core/inbound.ts): reply addresses for mail, handlers for what comes back. */
  Inbound: token<InboundService>('core:inbound'),
  Jobs: token<JobRunner>('core:jobs'),
  /** Approvable subject types (core/approvables.ts): owners register, approvals describes. */
  Approvables: token<ApprovableRegistry>('core:approvables'),
  /** "Waiting on you" providers (core/waiting.ts): plugins contribute items awaiting a person. */
  Waiting: token<WaitingRegistry>('core:waiting'),
  /** Proof of service (core/evidence.ts): plugins contribute dated evidence items for a workspace and period. */
  Evidence: token<EvidenceRegistry>('core:evidence'),
  /** Payment providers and what they pay (core/payments.ts): Stripe and the like, and invoices. */
  Payments: token<PaymentRegistry>('core:payments'),
  /** Subject threads: the discussion of any subject (core/threads.ts). */
  Threads: token<SubjectThreads>('core:threads'),
} as const;

type Provider<T> = { useValue: T } | { useFactory: (c: Container) => T };

export class Container {
  private constructor(
    private readonly inner: DependencyContainer,
    private readonly root: Container | undefined,
    readonly owner: string,
  ) {}

  static createRoot(): Container {
    return new Container(rootTsyringe.createChildContainer(), undefined, 'core');
  }

  /** A child for one plugin: it sees everything the root has; its own registrations stay private. */
  createChild(owner: string): Container {
    return new Container(this.inner.createChildContainer(), this.root ?? this, owner);
  }

  /** Register a service in this container. Throws if the token is already known here or above. */
  provide<T>(tok: Token<T>, provider: Provider<T>): void {
    if (this.inner.isRegistered(tok as InjectionToken<T>, true)) {
      throw new AtriumError('ATR_CONTAINER_DUPLICATE_TOKEN', `${String(tok.description)} (registering from ${this.owner})`);
    }
    if ('useValue' in provider) {
      this.inner.register(tok as InjectionToken<T>, { useValue: provider.useValue });
    } else {
      // Factories are called once, lazily, and the instance is kept.
      let made = false;
      let value: T;
      this.inner.register(tok as InjectionToken<T>, {
        useFactory: () => {
          if (!made) {
            value = provider.useFactory(this);
            made = true;
          }
          return value;
        },
      });
    }
  }

  /** Register a service on the root so other plugins can resolve it by the exported token. */
  export<T>(tok: Token<T>, provider: Provider<T>): void {
    (this.root ?? this).provideFrom(tok, provider, this.owner);
  }

  private provideFrom<T>(tok: Token<T>, provider: Provider<T>, owner: string): void {
    if (this.inner.isRegistered(tok as InjectionToken<T>, true)) {
      throw new AtriumError('ATR_CONTAINER_DUPLICATE_TOKEN', `${String(tok.description)} (exported by ${owner})`);
    }
    this.provide(tok, provider);
  }

  resolve<T>(tok: Token<T>): T {
    if (!this.inner.isRegistered(tok as InjectionToken<T>, true)) {
      throw new AtriumError('ATR_CONTAINER_UNKNOWN_TOKEN', String(tok.description));
    }
    return this.inner.resolve(tok as InjectionToken<T>);
  }

  has(tok: Token<unknown>): boolean {
    return this.inner.isRegistered(tok as InjectionToken<unknown>, true);
  }
}
