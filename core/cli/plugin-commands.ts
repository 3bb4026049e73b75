// Commands that enabled plugins declare (`commands` in definePlugin, named `<plugin-id>:<verb>`).
// Plugins are imported only when such a command is run or the command list is printed, so kernel
// commands never pay for loading them. A command runs with the plugin's context: its settings,
// a container holding the kernel services, and a migrated database.
import { Container } from '../container.ts';
import { provideServices } from '../services.ts';
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
          // Every kernel service, as in the server (not Views: a command renders no pages).
          provideServices(root, s);
          for (const lp of loaded) for (const e of lp.def.events) s.events.declare(e, lp.id);
          const settings = loaded.find((x) => x.id === p.id)?.settings;
          const ctx: BootstrapContext = { id: p.id, config: s.config, container: root.createChild(p.id), events: s.events, logger: s.logger.child({ plugin: p.id }), settings, db: s.db };
          return Number((await (c.run as (...a: unknown[]) => unknown)(ctx, values, positionals)) ?? 0);
        }),
    })),
  );
}
