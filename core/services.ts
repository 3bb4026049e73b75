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
}

import { createDb } from './db/index.ts';
import { EventBus as Bus, KERNEL_EVENTS } from './events.ts';
import { AuditService as Audit } from './audit.ts';
import { MailService as Mail } from './mail.ts';
import { PasswordHasher as Hasher } from './identity/passwords.ts';
import { SessionStore as Store } from './identity/sessions.ts';
import { BrandingService as Brand } from './settings.ts';
import { PermissionRegistry as Registry, KERNEL_PERMISSIONS } from './permissions.ts';

/** Build the kernel services (used by boot and by CLI commands that need no HTTP server). */
export function createServices(config: AtriumConfig, logger: Logger, clock: Clock): Services {
  const db = createDb(config, logger);
  const events = new Bus(logger);
  for (const name of KERNEL_EVENTS) events.declare(name, 'core');
  const permissions = new Registry();
  permissions.seed('core', KERNEL_PERMISSIONS);
  return {
    config,
    db,
    logger,
    clock,
    events,
    permissions,
    audit: new Audit(clock),
    mail: new Mail(clock, new URL(config.baseUrl).hostname),
    passwords: new Hasher(config.auth),
    sessions: new Store(db, clock, config.session),
    branding: new Brand(db, clock),
  };
}
