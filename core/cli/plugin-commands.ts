// Commands that enabled plugins declare (`commands` in definePlugin, named `<plugin-id>:<verb>`).
// Plugins are imported only when such a command is run or the command list is printed, so kernel
// commands never pay for loading them. A command runs with the plugin's context: its settings,
// a container holding the kernel services, and a migrated database.
import { Container, Tokens } from '../container.ts';
import { loadConfig } from '../config/load.ts';
import { loadPlugins } from '../plugins/loader.ts';
import type { BootstrapContext } from '../plugins/define.ts';
import { withServices, type Command } from './commands.ts';

export async function pluginCommands(): Promise<Command[]> {
  const plugins = await loadPlugins(loadConfig());
  return plugins.flatMap((p) =>
    p.def.commands.map((c) => ({
      name: c.name,
      summary: `${c.summary} (plugin ${p.id})`,
      details: c.details,
      usage: c.usage,
      positionals: c.positionals,
      options: c.options,
      run: (values, positionals) =>
        withServices(async (s, loaded) => {
          const root = Container.createRoot();
          root.provide(Tokens.Config, { useValue: s.config });
          root.provide(Tokens.Logger, { useValue: s.logger });
          root.provide(Tokens.Clock, { useValue: s.clock });
          root.provide(Tokens.Db, { useValue: s.db });
          root.provide(Tokens.Events, { useValue: s.events });
          root.provide(Tokens.Audit, { useValue: s.audit });
          root.provide(Tokens.Mail, { useValue: s.mail });
          root.provide(Tokens.Notifications, { useValue: s.notifications });
          root.provide(Tokens.Storage, { useValue: s.storage });
          for (const lp of loaded) for (const e of lp.def.events) s.events.declare(e, lp.id);
          const settings = loaded.find((x) => x.id === p.id)?.settings;
          const ctx: BootstrapContext = { id: p.id, config: s.config, container: root.createChild(p.id), events: s.events, logger: s.logger.child({ plugin: p.id }), settings, db: s.db };
          return Number((await (c.run as (...a: unknown[]) => unknown)(ctx, values, positionals)) ?? 0);
        }),
    })),
  );
}
