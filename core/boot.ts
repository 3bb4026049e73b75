// Boot, written out in the order it happens. Each step says why it sits where it does.
import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Router } from 'express';
import type { Logger } from 'pino';
import { loadConfig, PROJECT_ROOT, settleBaseUrl, type LoadConfigOptions } from './config/load.ts';
import type { AtriumConfig } from './config/schema.ts';
import { Container, Tokens } from './container.ts';
import { createLogger } from './logger.ts';
import { createServices, provideServices } from './services.ts';
import type { Db } from './db/index.ts';
import { systemClock, type Clock } from './clock.ts';
import { CORE_MIGRATIONS, hasPending, migrateAll, type MigrationSet } from './db/migrations.ts';
import { loadPlugins, type LoadedPlugin } from './plugins/loader.ts';
import { NavigationRegistry } from './navigation.ts';
import { ViewEngine } from './views/engine.ts';
import { useMailTheme } from './mail/templates.ts';
import { createApp, type PluginMount } from './http/app.ts';
import { waitingWidgets } from './http/routes/inbox.ts';
import { cacheOf, watchCardTables } from './cache.ts';
import { AtriumError } from './errors.ts';
import type { HttpDeps } from './http/deps.ts';
import type { BootstrapContext } from './plugins/define.ts';
import { KERNEL_VERSION } from './version.ts';
import { startHousekeeping } from './identity/housekeeping.ts';
import { startCheckpointJob } from './audit-checkpoints.ts';
import { activityFeedWidget } from './activity-feed.ts';

export interface BootOptions {
  config?: AtriumConfig;
  configOptions?: LoadConfigOptions;
  logger?: Logger;
  clock?: Clock;
  /** Listen on config.host:config.port (0 picks a free port). Default true. */
  listen?: boolean;
  /** Where the themes live. Default: themes/ in the project. */
  themesRoot?: string;
}

export interface Kernel extends HttpDeps {
  container: Container;
  app: ReturnType<typeof createApp>;
  server: Server | undefined;
  url: string;
  /** Drain requests, destroy plugins in reverse order, close the database. */
  stop(): Promise<void>;
}

export async function boot(opts: BootOptions = {}): Promise<Kernel> {
  // 1. Config first: every later step reads it, and a bad key must stop us before any side effect.
  const config = opts.config ?? loadConfig(opts.configOptions);
  const logger = opts.logger ?? createLogger(config);
  const clock = opts.clock ?? systemClock;

  // 2. Discover and validate plugins, check kernel ranges, sort by `requires`. Pure: no database,
  //    so a missing or cyclic plugin stops start-up before anything is touched.
  const plugins = await loadPlugins(config);

  // 3. The container and the kernel services. Opening the pool does not connect yet.
  const container = Container.createRoot();
  const services = createServices(config, logger, clock);
  const { db, events, audit, mail, permissions, passwords, sessions, branding, throttle, mfa, mailWorker } = services;
  for (const p of plugins) for (const name of p.def.events) events.declare(name, p.id);
  const views = new ViewEngine({ themesRoot: opts.themesRoot ?? join(PROJECT_ROOT, 'themes'), theme: config.theme, cache: config.views.cache });
  useMailTheme(views.chain.map((t) => t.dir));
  provideServices(container, services);
  container.provide(Tokens.Views, { useValue: views });

  const contexts = new Map<string, BootstrapContext>();
  // Plugins whose bootstrap ran: if a later step fails, they are destroyed in reverse order.
  const bootstrapped: LoadedPlugin[] = [];
  let housekeeping: { stop(): void } | undefined;
  let auditCheckpoints: { stop(): Promise<void> } | undefined;
  try {
    // 4. register: each plugin declares its services and subscriptions in its own child
    //    container. No database work here, so the order of registration cannot matter.
    for (const p of plugins) {
      const ctx: BootstrapContext = { id: p.id, config, container: container.createChild(p.id), events, logger: logger.child({ plugin: p.id }), settings: p.settings, db };
      contexts.set(p.id, ctx);
      await runHook(p, 'register', () => p.def.register?.(ctx));
    }

    // 5. Migrate: the kernel's tables first (plugins reference them), then each plugin's in
    //    dependency order, each tracked in its own table.
    const migrationSets: MigrationSet[] = [CORE_MIGRATIONS, ...plugins.map((p) => ({ id: p.id, dir: p.migrationsDir }))];
    if (config.database.migrateOnStart) {
      await migrateAll(db, migrationSets, logger);
    } else {
      const pending = await hasPending(db, migrationSets);
      if (pending.length) throw new AtriumError('ATR_NOT_MIGRATED', `pending: ${pending.join(', ')}; run \`atrium migrate\``);
    }

    // 6. Seed permissions: the kernel's declarations, then each plugin's. Subjects must exist
    //    before any grant names them, hence dependency order.
    //    (The kernel's own were seeded when the services were created.)
    for (const p of plugins) if (p.def.permissions) permissions.seed(p.id, p.def.permissions);
    for (const p of plugins) permissions.activity.seed(p.id, p.def.activity ?? {});

    // 7. Mount views and routes: namespaces and nav first, so a plugin's routes can render.
    views.registerNamespace('core', fileURLToPath(new URL('./views/templates', import.meta.url)));
    const navigation = new NavigationRegistry();
    navigation.addNav('core', [
      { area: 'workspace', label: 'Home', path: '/', order: 0 },
      { area: 'staff', label: 'Overview', path: '/', order: 0 },
      { area: 'admin', label: 'Administration', path: '/', order: 0 },
      { area: 'admin', label: 'Branding', path: '/branding', order: 1, can: ['update', 'Branding'] },
      { area: 'admin', label: 'Workspaces', path: '/workspaces', order: 2, can: ['read', 'Workspace'] },
      { area: 'admin', label: 'Roles', path: '/roles', order: 3, can: ['read', 'Role'] },
      { area: 'admin', label: 'People', path: '/people', order: 2, can: ['read', 'Person'] },
      { area: 'admin', label: 'Security', path: '/security', order: 3, can: ['update', 'Person'] },
      { area: 'admin', label: 'Mail', path: '/mail', order: 4, can: ['read', 'Mail'] },
      { area: 'admin', label: 'Audit log', path: '/audit', order: 5, can: ['read', 'AuditLog'] },
      { area: 'admin', label: 'Style guide', path: '/style-guide', order: 9 },
      { area: 'workspace', label: 'Invitations', path: '/invitations', order: 90, can: ['read', 'Invitation'] },
      { area: 'staff', label: 'Invitations', path: '/invitations', order: 80, can: ['read', 'Invitation'] },
      { area: 'workspace', label: 'Activity', path: '/audit', order: 90, can: ['read', 'AuditLog'] },
    ]);
    // The kernel's own card on the staff overview: recent activity across the person's clients.
    navigation.addWidgets('core', [activityFeedWidget(permissions, branding)], {});
    for (const p of plugins) {
      if (p.viewsDir) views.registerNamespace(p.id, p.viewsDir);
      navigation.addNav(p.id, p.def.nav);
      navigation.addWidgets(p.id, p.def.widgets, p.settings);
      navigation.addActions(p.id, p.def.actions ?? []);
    }
    // "Waiting on you" cards, once register has told us whether any plugin contributes items.
    if (services.waiting.enabled) navigation.addWidgets('core', waitingWidgets(services.waiting), undefined);
    // The kernel's cache follows writes to every table a card may read (core/cache.ts).
    const cache = cacheOf(db);
    if (cache) await watchCardTables(db, cache, plugins.flatMap((p) => p.def.widgets.flatMap((w) => (w.cache ? (w.cache.reads ?? []) : []))));
    const deps: HttpDeps = {
      config, db, logger, clock, audit, events, mail, passwords, sessions, branding, permissions, throttle, mfa, mailWorker, notifications: services.notifications, storage: services.storage, live: services.live, links: services.links, inbound: services.inbound, jobs: services.jobs, approvables: services.approvables, waiting: services.waiting, payments: services.payments, threads: services.threads, views, navigation, plugins, migrationSets,
      evidence: services.evidence,
      assetVersion: `${KERNEL_VERSION}-${views.assetFingerprint([fileURLToPath(new URL('./assets', import.meta.url))])}`,
      // Each plugin's demo hook with its own context, for core/demo.ts (/setup and `atrium demo:seed`).
      demos: plugins.filter((p) => p.def.demo).map((p) => ({ id: p.id, run: (demo) => p.def.demo!(contexts.get(p.id)!, demo) })),
    };
    const mounts: PluginMount[] = [];
    for (const p of plugins) {
      const routers = { workspace: Router({ mergeParams: true }), staff: Router(), admin: Router(), link: Router({ mergeParams: true }), webhook: Router() };
      await runHook(p, 'routes', () => p.def.routes?.(routers, contexts.get(p.id)!));
      mounts.push({ id: p.id, ...routers });
    }
    const app = createApp(deps, mounts);

    // 8. bootstrap: everything is registered, migrated and mounted; plugins may now start
    //    workers and seed data, in dependency order.
    for (const p of plugins) {
      await runHook(p, 'bootstrap', () => p.def.bootstrap?.(contexts.get(p.id)!));
      bootstrapped.push(p);
    }
    // 8b. The kernel's own workers, once plugins are up (their bootstrap may queue mail): the
    //     outbox relay, and a sweep of expired sessions, tokens and throttle rows.
    mailWorker.start();
    services.notifications.start(db);
    services.storage.start(db, undefined, services.jobs);
    await services.live.start(); // on PostgreSQL: the LISTEN connection, before any stream opens
    housekeeping = startHousekeeping(services);
    auditCheckpoints = startCheckpointJob(services); // signed audit checkpoints off the database, hourly
    // The reply-by-email listener (only when configured): after bootstrap, so every plugin's
    // handler is registered and its tables migrated before the first reply can arrive.
    await services.inbound.start();

    // 9. Listen last, so no request arrives at a half-built app.
    let server: Server | undefined;
    let url = config.baseUrl;
    const sockets = new Set<import('node:net').Socket>();
    if (opts.listen !== false) {
      server = createServer(app);
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.port, config.host, () => resolve());
      });
      const addr = server.address() as AddressInfo;
      url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
      // The public address, now that the port is known: a derived one follows it; a wrong one is said.
      const baseUrlWarning = settleBaseUrl(config, addr.port);
      if (baseUrlWarning) logger.warn({ code: 'ATR_BASE_URL', baseUrl: config.baseUrl }, baseUrlWarning);
      logger.info({ url, plugins: plugins.map((p) => p.id), theme: views.theme.name, db: config.database.url ? 'postgres' : 'sqlite' }, 'atrium listening');
    }

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        if (server) {
          // Stop accepting, let in-flight requests finish, close idle keep-alive sockets.
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          // Requests still running finish; their keep-alive sockets are closed as soon as they
          // go idle rather than after the keep-alive timeout.
          for (const s of sockets) (s as { _httpMessage?: { shouldKeepAlive: boolean } })._httpMessage && ((s as { _httpMessage?: { shouldKeepAlive: boolean } })._httpMessage!.shouldKeepAlive = false);
          const sweep = setInterval(() => server!.closeIdleConnections(), 50);
          server.closeIdleConnections();
          services.live.closeStreams(); // open event streams never go idle: end them so the server drains
          const timer = setTimeout(() => {
            logger.warn({ open: sockets.size }, 'shutdown timeout: closing remaining connections');
            for (const s of sockets) s.destroy();
          }, config.shutdownTimeoutMs);
          await closed;
          clearTimeout(timer);
          clearInterval(sweep);
        }
        // No new replies while plugins are destroyed; replies being handled finish first.
        await services.inbound.stop();
        for (const p of [...plugins].reverse()) {
          try {
            await p.def.destroy?.(contexts.get(p.id)!);
          } catch (err) {
            logger.error({ err, plugin: p.id }, 'plugin destroy failed');
          }
        }
        // Workers stop before the database closes; a message being sent is finished first.
        housekeeping?.stop();
        await auditCheckpoints?.stop();
        await services.notifications.stop();
        await services.storage.stop();
        await services.live.stop();
        await mailWorker.stop();
        await db.destroy();
        logger.info('atrium stopped');
      })());

    return { ...deps, container, app, server, url, stop };
  } catch (err) {
    for (const p of bootstrapped.reverse()) {
      await Promise.resolve(p.def.destroy?.(contexts.get(p.id)!)).catch((e) => logger.error({ err: e, plugin: p.id }, 'plugin destroy failed'));
    }
    housekeeping?.stop();
    await auditCheckpoints?.stop().catch(() => {});
    await services.inbound.stop().catch(() => {});
    await services.storage.stop().catch(() => {});
    await services.live.stop().catch(() => {});
    await mailWorker.stop().catch(() => {});
    await db.destroy().catch(() => {});
    throw err;
  }
}

async function runHook(p: LoadedPlugin, hook: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AtriumError) throw err;
    throw new AtriumError('ATR_PLUGIN_HOOK_FAILED', `${p.id}.${hook}: ${(err as Error).message}`, { cause: err, details: { plugin: p.id } });
  }
}

export type { Db };
