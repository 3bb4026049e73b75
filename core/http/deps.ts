// What the HTTP layer needs from the kernel.
import type { Services } from '../services.ts';
import type { ViewEngine } from '../views/engine.ts';
import type { NavigationRegistry } from '../navigation.ts';
import type { LoadedPlugin } from '../plugins/loader.ts';
import type { MigrationSet } from '../db/migrations.ts';
import type { PluginDemo } from '../demo.ts';

export interface HttpDeps extends Services {
  views: ViewEngine;
  navigation: NavigationRegistry;
  plugins: LoadedPlugin[];
  migrationSets: MigrationSet[];
  /** Appended to asset URLs so a new release is never served from a stale cache. */
  assetVersion: string;
  /** The plugins' demo hooks, in dependency order (core/demo.ts). */
  demos: PluginDemo[];
}
