// Plugin discovery, validation and ordering. Built-ins resolve from plugins/<id>/, a path
// (./ or /) from that folder, anything else as an npm package name. Order comes only from
// `requires` (a topological sort with a stable tie-break by id), never from config order.
import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import semver from 'semver';
import { AtriumError } from '../errors.ts';
import { KERNEL_VERSION } from '../version.ts';
import { PROJECT_ROOT } from '../config/load.ts';
import type { AtriumConfig } from '../config/schema.ts';
import { validatePlugin, type ValidPlugin } from './define.ts';

export interface LoadedPlugin {
  id: string;
  def: ValidPlugin;
  source: 'builtin' | 'path' | 'package';
  /** What config named: `files`, `./test/fixtures/plugins/fixture`, `@acme/atrium-matters`. */
  ref: string;
  migrationsDir: string | undefined;
  viewsDir: string | undefined;
  settings: unknown;
}

interface Located {
  ref: string;
  source: LoadedPlugin['source'];
  dir: string | undefined;
  specifier: string;
}

function locate(ref: string, root: string): Located {
  if (ref.startsWith('.') || isAbsolute(ref)) {
    const dir = resolve(root, ref);
    const entry = ['index.ts', 'index.js'].map((f) => join(dir, f)).find(existsSync);
    if (!entry) throw new AtriumError('ATR_PLUGIN_NOT_FOUND', `"${ref}": no index.ts or index.js in ${dir}`, { details: { plugin: ref } });
    return { ref, source: 'path', dir, specifier: pathToFileURL(entry).href };
  }
  const builtinDir = join(root, 'plugins', ref);
  const builtinEntry = ['index.ts', 'index.js'].map((f) => join(builtinDir, f)).find(existsSync);
  if (builtinEntry) return { ref, source: 'builtin', dir: builtinDir, specifier: pathToFileURL(builtinEntry).href };
  return { ref, source: 'package', dir: undefined, specifier: ref };
}

async function importPlugin(loc: Located): Promise<unknown> {
  try {
    const mod = (await import(loc.specifier)) as { default?: unknown };
    return mod.default;
  } catch (err) {
    if (err instanceof AtriumError) throw err; // e.g. ATR_PLUGIN_INVALID from definePlugin
    const e = err as NodeJS.ErrnoException;
    if (loc.source === 'package' && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && e.message.includes(loc.ref)) {
      throw new AtriumError('ATR_PLUGIN_NOT_FOUND', `"${loc.ref}" is neither a folder in plugins/ nor an installed npm package`, {
        details: { plugin: loc.ref },
      });
    }
    throw new AtriumError('ATR_PLUGIN_LOAD_FAILED', `"${loc.ref}": ${e.message}`, { cause: err, details: { plugin: loc.ref } });
  }
}

function dirOf(ref: URL | string | undefined, base: string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  if (ref instanceof URL) return fileURLToPath(ref);
  if (isAbsolute(ref)) return ref;
  return base ? resolve(base, ref) : undefined;
}

/** Load, validate, check and sort the enabled plugins. Throws a coded error naming the plugins. */
export async function loadPlugins(config: AtriumConfig, root = PROJECT_ROOT): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const ref of config.plugins.enabled) {
    const loc = locate(ref, root);
    const raw = await importPlugin(loc);
    const def = validatePlugin(raw, ref);
    if (loc.source !== 'package' && loc.dir && basename(loc.dir) !== def.id) {
      throw new AtriumError('ATR_PLUGIN_ID_MISMATCH', `folder "${basename(loc.dir)}" holds plugin id "${def.id}"`, { details: { plugin: def.id } });
    }
    loaded.push({
      id: def.id,
      def,
      source: loc.source,
      ref,
      migrationsDir: dirOf(def.migrations, loc.dir),
      viewsDir: dirOf(def.views, loc.dir),
      settings: undefined,
    });
  }
  return checkAndSort(loaded, config);
}

/** Duplicate ids, kernel ranges, settings, then the dependency sort. Exported for tests. */
export function checkAndSort(plugins: LoadedPlugin[], config: Pick<AtriumConfig, 'plugins'>): LoadedPlugin[] {
  const byId = new Map<string, LoadedPlugin>();
  for (const p of plugins) {
    const seen = byId.get(p.id);
    if (seen) throw new AtriumError('ATR_PLUGIN_DUPLICATE_ID', `"${p.id}" is provided by both ${seen.ref} and ${p.ref}`, { details: { plugins: [seen.ref, p.ref] } });
    byId.set(p.id, p);
  }
  for (const p of plugins) {
    if (!semver.satisfies(KERNEL_VERSION, p.def.kernel, { includePrerelease: true })) {
      throw new AtriumError('ATR_PLUGIN_KERNEL_RANGE', `${p.id}@${p.def.version} wants kernel ${p.def.kernel}; this kernel is ${KERNEL_VERSION}`, {
        details: { plugin: p.id },
      });
    }
  }
  for (const key of Object.keys(config.plugins.settings)) {
    if (!byId.has(key)) throw new AtriumError('ATR_CONFIG_INVALID', `plugins.settings.${key}: no enabled plugin has this id`);
  }
  for (const p of plugins) {
    const given = config.plugins.settings[p.id] ?? {};
    if (!p.def.settings) {
      if (Object.keys(given as object).length) throw new AtriumError('ATR_PLUGIN_SETTINGS_INVALID', `plugins.settings.${p.id}: ${p.id} takes no settings`);
      p.settings = {};
      continue;
    }
    const parsed = p.def.settings.safeParse(given);
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `plugins.settings.${p.id}.${i.path.join('.')}: ${i.message}`).join('; ');
      throw new AtriumError('ATR_PLUGIN_SETTINGS_INVALID', msg, { details: { plugin: p.id } });
    }
    p.settings = parsed.data;
  }
  return sortByRequires(plugins);
}

export function sortByRequires<T extends { id: string; def: { requires: string[] } }>(plugins: T[]): T[] {
  const byId = new Map(plugins.map((p) => [p.id, p]));
  for (const p of plugins) {
    for (const dep of p.def.requires) {
      if (!byId.has(dep)) {
        throw new AtriumError('ATR_PLUGIN_MISSING_DEP', `${p.id} requires ${dep}, which is not enabled`, { details: { plugin: p.id, missing: dep } });
      }
    }
  }
  // Depth-first with three colours: finds cycles and names their members in order.
  const state = new Map<string, 'visiting' | 'done'>();
  const out: T[] = [];
  const visit = (p: T, path: string[]) => {
    const s = state.get(p.id);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(p.id)), p.id];
      throw new AtriumError('ATR_PLUGIN_CYCLE', cycle.join(' -> '), { details: { plugins: cycle } });
    }
    state.set(p.id, 'visiting');
    for (const dep of [...p.def.requires].sort()) visit(byId.get(dep)!, [...path, p.id]);
    state.set(p.id, 'done');
    out.push(p);
  };
  for (const p of [...plugins].sort((a, b) => a.id.localeCompare(b.id))) visit(p, []);
  return out;
}
