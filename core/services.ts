// The kernel services a route, a CLI command or a plugin reaches. Each is also registered in
// the container under its token (core/container.ts); this bag is the typed view of them.
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';
import type { Clock } from './clock.ts';
import type { Db } from './db/index.ts';
import type { AuditService } from './audit.ts';
import type { EventBus } from './events.ts';
import type { MailService } from './mail.ts';
import type { PasswordHasher } from './identity/passwords.ts';
import type { SessionStore } from './identity/sessions.ts';
import type { BrandingService } from './settings.ts';
import type { PermissionRegistry } from './permissions.ts';
import type { Throttle } from './identity/throttle.ts';
import type { MfaService } from './identity/mfa.ts';
import type { MailWorker } from './mail/worker.ts';
import { NotificationService } from './notifications.ts';
import { StorageService, createBlobStore } from './storage/index.ts';
import { LiveService } from './live.ts';
import { LinkService } from './links.ts';
import { InboundMailService } from './inbound/service.ts';
import { Container, Tokens } from './container.ts';
import { JobRunner } from './jobs.ts';
import { ApprovableRegistry } from './approvables.ts';
import { SubjectThreads } from './threads.ts';
import { WaitingRegistry } from './waiting.ts';
import { EvidenceRegistry } from './evidence.ts';
import { PaymentRegistry } from './payments.ts';

export interface Services {
  config: AtriumConfig;
  db: Db;
  logger: Logger;
  clock: Clock;
  audit: AuditService;
  events: EventBus;
  mail: MailService;
  passwords: PasswordHasher;
  sessions: SessionStore;
  branding: BrandingService;
  permissions: PermissionRegistry;
  /** Brute-force counters in the database (sign-in, MFA, reset and invitation requests). */
  throttle: Throttle;
  /** TOTP and recovery codes; the at-rest key. */
  mfa: MfaService;
  /** The outbox relay; boot starts it after bootstrap and stops it before the database closes. */
  mailWorker: MailWorker;
  /** Notices to people by their preference (at once, daily digest, off). */
  notifications: NotificationService;
  /** Encrypted blob storage (local disk or S3) and its orphan sweeper. */
  storage: StorageService;
  /** Per-user live events (GET /live), across processes through LISTEN/NOTIFY on PostgreSQL. */
  live: LiveService;
  /** Single-purpose links in mail (`/l/<plugin>/<token>`), resolved before plugin link routers. */
  links: LinkService;
  /** Replies by email: reply addresses, the handlers plugins register, and the SMTP listener (core/inbound.ts). */
  inbound: InboundMailService;
  /** Periodic jobs claimed once per period across processes (core/jobs.ts). */
  jobs: JobRunner;
  /** Approvable subject types registered by plugins (files versions, ...), for approvals. */
  approvables: ApprovableRegistry;
  /** "Waiting on you": items awaiting a person, contributed by plugins (core/waiting.ts). */
  waiting: WaitingRegistry;
  /** Proof of service: dated evidence items contributed by plugins (core/evidence.ts). */
  evidence: EvidenceRegistry;
  /** Payment providers (checkout, webhook confirmation, refund) and payable kinds (core/payments.ts). */
  payments: PaymentRegistry;
  /** Subject threads: the discussion of any subject, provided by one plugin (core/threads.ts). */
  threads: SubjectThreads;
}

import { createDb } from './db/index.ts';
import { cacheOf } from './cache.ts';
import { EventBus as Bus, KERNEL_EVENTS } from './events.ts';
import { AuditService as Audit } from './audit.ts';
import { MailService as Mail } from './mail.ts';
import { PasswordHasher as Hasher } from './identity/passwords.ts';
import { SessionStore as Store } from './identity/sessions.ts';
import { BrandingService as Brand } from './settings.ts';
import { PermissionRegistry as Registry, KERNEL_PERMISSIONS } from './permissions.ts';
import { Throttle as Limits } from './identity/throttle.ts';
import { MfaService as Mfa } from './identity/mfa.ts';
import { MailWorker as Relay } from './mail/worker.ts';

/** Build the kernel services (used by boot and by CLI commands that need no HTTP server). */
export function createServices(config: AtriumConfig, logger: Logger, clock: Clock): Services {
  const db = createDb(config, logger);
  const events = new Bus(logger);
  for (const name of KERNEL_EVENTS) events.declare(name, 'core');
  const permissions = new Registry();
  permissions.seed('core', KERNEL_PERMISSIONS);
  const passwords = new Hasher(config.auth);
  const branding = new Brand(db, clock);
  const mail = new Mail(clock, new URL(config.baseUrl).hostname);
  const mailWorker = new Relay(config, db, clock, logger, branding);
  mail.onQueued = () => mailWorker.kick();
  const live = new LiveService(config, logger, db);
  live.attachCache(cacheOf(db));
  const notifications = new NotificationService(config, clock, mail, branding, logger);
  notifications.attachLive(live, db);
  const waiting = new WaitingRegistry(db, events, permissions, live, clock, logger);
  const audit = new Audit(clock);
  return {
    config,
    db,
    logger,
    clock,
    events,
    permissions,
    audit,
    mail,
    passwords,
    sessions: new Store(db, clock, config.session),
    branding,
    throttle: new Limits(db, clock),
    mfa: new Mfa(config, db, clock, passwords),
    mailWorker,
    notifications,
    live,
    links: new LinkService(db, config, clock),
    inbound: new InboundMailService(config, db, clock, audit, logger.child({ module: 'inbound' })),
    jobs: new JobRunner(db, clock),
    approvables: new ApprovableRegistry(events, permissions),
    waiting,
    evidence: new EvidenceRegistry(),
    payments: new PaymentRegistry(),
    threads: new SubjectThreads(permissions),
    storage: new StorageService(config, createBlobStore(config), clock, logger),
  };
}

/**
 * Register every kernel service under its token (core/container.ts), for the server (boot) and
 * for plugin CLI commands alike, so a plugin resolves the same services wherever it runs.
 */
export function provideServices(container: Container, s: Services): void {
  container.provide(Tokens.Config, { useValue: s.config });
  container.provide(Tokens.Logger, { useValue: s.logger });
  container.provide(Tokens.Clock, { useValue: s.clock });
  container.provide(Tokens.Db, { useValue: s.db });
  container.provide(Tokens.Events, { useValue: s.events });
  container.provide(Tokens.Audit, { useValue: s.audit });
  container.provide(Tokens.Mail, { useValue: s.mail });
  container.provide(Tokens.Notifications, { useValue: s.notifications });
  container.provide(Tokens.Storage, { useValue: s.storage });
  container.provide(Tokens.Live, { useValue: s.live });
  container.provide(Tokens.Branding, { useValue: s.branding });
  container.provide(Tokens.Links, { useValue: s.links });
  container.provide(Tokens.Inbound, { useValue: s.inbound });
  container.provide(Tokens.Jobs, { useValue: s.jobs });
  container.provide(Tokens.Approvables, { useValue: s.approvables });
  container.provide(Tokens.Waiting, { useValue: s.waiting });
  container.provide(Tokens.Evidence, { useValue: s.evidence });
  container.provide(Tokens.Payments, { useValue: s.payments });
  container.provide(Tokens.Threads, { useValue: s.threads });
}
