// One Handlebars engine for the kernel, every plugin and the active theme.
// Views are named `<namespace>/<view>` (`core/login`, `files/list`). Lookup order for a view:
// the active theme's `views/<ns>/<view>.hbs`, then each theme it extends, then the namespace's
// own folder. Partials work the same way, so a theme can override any plugin view or partial
// by putting a file at the same path. Layouts and assets come from the theme chain.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import semver from 'semver';
import { z } from 'zod';
import { AtriumError } from '../errors.ts';
import { KERNEL_VERSION } from '../version.ts';
import { registerUiHelpers, UI_VIEWS_DIR } from './ui.ts';
import { possessive } from '../wording.ts';
import { DEFAULT_TIME_ZONE, formatDay, formatExact, formatRelative } from '../time.ts';

export const themeManifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be kebab-case and match the folder name'),
  version: z.string().refine((v) => semver.valid(v) !== null, 'must be a semver version'),
  description: z.string().max(300).optional(),
  /** A theme it builds on; anything this theme lacks is taken from there. */
  extends: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).optional(),
  kernel: z.string().refine((r) => semver.validRange(r) !== null, 'must be a semver range').optional(),
});
export type ThemeManifest = z.infer<typeof themeManifestSchema>;

/** What a theme without `extends` must provide; a theme that extends one inherits them. */
export const REQUIRED_THEME_FILES = ['theme.json', 'layouts/main.hbs', 'layouts/auth.hbs', 'assets/theme.css'];

export interface Theme {
  name: string;
  dir: string;
  manifest: ThemeManifest;
}

export function readTheme(dir: string): Theme {
  const file = join(dir, 'theme.json');
  if (!existsSync(file)) throw new AtriumError('ATR_THEME_NOT_FOUND', `${dir} has no theme.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AtriumError('ATR_THEME_INVALID', `${file}: ${(err as Error).message}`);
  }
  const parsed = themeManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AtriumError('ATR_THEME_INVALID', `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '')}: ${i.message}`).join('; ')}`);
  }
  return { name: parsed.data.name, dir, manifest: parsed.data };
}

/** The theme and the themes it extends, active first. */
export function themeChain(themesRoot: string, nameOrPath: string): Theme[] {
  const chain: Theme[] = [];
  // A bare name is a folder under themes/; a path is taken relative to the project root.
  let dir = nameOrPath.includes('/') ? resolve(dirname(themesRoot), nameOrPath) : join(themesRoot, nameOrPath);
  for (;;) {
    if (!existsSync(dir)) throw new AtriumError('ATR_THEME_NOT_FOUND', `${dir} does not exist`);
    const theme = readTheme(dir);
    if (chain.some((t) => t.name === theme.name)) throw new AtriumError('ATR_THEME_INVALID', `themes extend each other in a cycle: ${[...chain.map((t) => t.name), theme.name].join(' -> ')}`);
    if (theme.manifest.kernel && !semver.satisfies(KERNEL_VERSION, theme.manifest.kernel)) {
      throw new AtriumError('ATR_THEME_INVALID', `${theme.name} wants kernel ${theme.manifest.kernel}; this kernel is ${KERNEL_VERSION}`);
    }
    chain.push(theme);
    if (!theme.manifest.extends) break;
    // A parent is looked for beside the theme first, then among the installed themes.
    const sibling = join(dirname(dir), theme.manifest.extends);
    dir = existsSync(join(sibling, 'theme.json')) ? sibling : join(themesRoot, theme.manifest.extends);
  }
  return chain;
}

function walkAll(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walkAll(full));
    else out.push(full);
  }
  return out;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (entry.endsWith('.hbs')) out.push(full);
  }
  return out;
}

export interface RenderData {
  /** CASL ability for the `can` helper. */
  ability?: { can(action: string, subject: string): boolean };
  /** The reader's time zone (theirs, else the firm's) for `date`, `day` and `when`; UTC without one. */
  timeZone?: string;
  /** The request's clock time, for relative times ("2 hours ago"). */
  now?: number;
}

export class ViewEngine {
  readonly hb = Handlebars.create();
  readonly chain: Theme[];
  private readonly namespaces = new Map<string, string>();
  private readonly compiled = new Map<string, Handlebars.TemplateDelegate>();
  /** View and layout names resolved to files (only used with the views cache on). */
  private readonly resolved = new Map<string, string>();
  private partialsLoaded = false;

  constructor(private readonly opts: { themesRoot: string; theme: string; cache: boolean }) {
    this.chain = themeChain(opts.themesRoot, opts.theme);
    // What every page needs must exist somewhere in the chain, or start-up stops here rather
    // than on the first request that needs it.
    for (const layout of ['main', 'auth']) {
      if (!this.chain.some((t) => existsSync(join(t.dir, 'layouts', `${layout}.hbs`)))) {
        throw new AtriumError('ATR_THEME_INVALID', `${this.chain[0]!.name}: no layouts/${layout}.hbs in the theme or what it extends`);
      }
    }
    if (!this.resolveAsset('theme.css')) throw new AtriumError('ATR_THEME_INVALID', `${this.chain[0]!.name}: no assets/theme.css in the theme or what it extends`);
    registerHelpers(this.hb);
    // The design system is the kernel's own namespace, there before any plugin: `{{> ui/table}}`
    // and the `ui/style-guide` view. A plugin with the id `ui` would collide here, at boot.
    registerUiHelpers(this.hb);
    this.namespaces.set('ui', UI_VIEWS_DIR);
  }

  /** A short fingerprint of the theme chain's assets, for cache-busting asset URLs. */
  assetFingerprint(extraDirs: string[] = []): string {
    const h = createHash('sha256');
    for (const dir of [...this.chain.map((t) => join(t.dir, 'assets')), ...extraDirs]) {
      for (const f of walkAll(dir)) {
        const st = statSync(f);
        h.update(`${f}:${st.size}:${st.mtimeMs}\n`);
      }
    }
    return h.digest('hex').slice(0, 10);
  }

  get theme(): Theme {
    return this.chain[0]!;
  }

  /** Register a namespace's view folder (`core`, or a plugin id). Twice is an error. */
  registerNamespace(ns: string, dir: string): void {
    if (this.namespaces.has(ns)) throw new AtriumError('ATR_VIEW_DUPLICATE_PARTIAL', `view namespace "${ns}" registered twice`);
    this.namespaces.set(ns, dir);
    this.partialsLoaded = false;
    this.resolved.clear();
  }

  /**
   * The file a view name resolves to, honouring theme overrides. With the views cache on, each
   * name is resolved once (a render used to stat up to one file per theme in the chain, every
   * time); with it off, every render looks again, so a new override shows without a restart.
   */
  resolveView(name: string): string {
    if (!this.opts.cache) return this.findView(name);
    let f = this.resolved.get(name);
    if (f === undefined) this.resolved.set(name, (f = this.findView(name)));
    return f;
  }

  private findView(name: string): string {
    const m = /^([a-z][a-z0-9-]*)\/([A-Za-z0-9/_-]+)$/.exec(name);
    if (!m || m[2]!.split('/').includes('..')) throw new AtriumError('ATR_VIEW_NOT_FOUND', name);
    const [, ns, view] = m as unknown as [string, string, string];
    for (const t of this.chain) {
      const f = join(t.dir, 'views', ns, `${view}.hbs`);
      if (existsSync(f)) return f;
    }
    const dir = this.namespaces.get(ns);
    if (dir) {
      const f = join(dir, `${view}.hbs`);
      if (existsSync(f)) return f;
    }
    throw new AtriumError('ATR_VIEW_NOT_FOUND', name);
  }

  resolveLayout(name: string): string {
    if (!this.opts.cache) return this.findLayout(name);
    let f = this.resolved.get(`layout:${name}`);
    if (f === undefined) this.resolved.set(`layout:${name}`, (f = this.findLayout(name)));
    return f;
  }

  private findLayout(name: string): string {
    for (const t of this.chain) {
      const f = join(t.dir, 'layouts', `${name}.hbs`);
      if (existsSync(f)) return f;
    }
    throw new AtriumError('ATR_VIEW_NOT_FOUND', `layout ${name}`);
  }

  /** A theme asset by path (e.g. `theme.css`), from the first theme in the chain that has it. */
  resolveAsset(path: string): string | undefined {
    for (const t of this.chain) {
      const root = join(t.dir, 'assets');
      const f = resolve(root, path);
      if (!f.startsWith(root + sep)) return undefined;
      if (existsSync(f) && statSync(f).isFile()) return f;
    }
    return undefined;
  }

  private template(file: string): Handlebars.TemplateDelegate {
    let t = this.opts.cache ? this.compiled.get(file) : undefined;
    if (!t) {
      t = this.hb.compile(readFileSync(file, 'utf8'), { strict: false, preventIndent: true });
      this.compiled.set(file, t);
    }
    return t;
  }

  private loadPartials(): void {
    if (this.partialsLoaded && this.opts.cache) return;
    const partials = new Map<string, string>();
    // Namespace partials first: `<ns>/<name>` from `<views>/partials/`.
    for (const [ns, dir] of this.namespaces) {
      const pdir = join(dir, 'partials');
      for (const f of walk(pdir)) partials.set(`${ns}/${relative(pdir, f).replace(/\\/g, '/').replace(/\.hbs$/, '')}`, f);
    }
    // Then themes, base first, so the active theme wins; same path = override.
    for (const t of [...this.chain].reverse()) {
      const pdir = join(t.dir, 'partials');
      for (const f of walk(pdir)) partials.set(relative(pdir, f).replace(/\\/g, '/').replace(/\.hbs$/, ''), f);
    }
    for (const [name, file] of partials) this.hb.registerPartial(name, readFileSync(file, 'utf8'));
    this.partialsLoaded = true;
  }

  render(name: string, model: object, data: RenderData = {}): string {
    this.loadPartials();
    return this.template(this.resolveView(name))(model, { data });
  }

  renderLayout(layout: string, model: object & { body: string }, data: RenderData = {}): string {
    this.loadPartials();
    return this.template(this.resolveLayout(layout))(model, { data });
  }
}

function registerHelpers(hb: typeof Handlebars): void {
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('not', (a: unknown) => !a);
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper('can', function (action: string, subject: string, options: Handlebars.HelperOptions) {
    const ability = (options.data as RenderData | undefined)?.ability;
    return Boolean(ability?.can(action, subject));
  });
  // Times in the reader's zone (RenderData.timeZone): {{date ms}} "4 Dec 2026, 18:03 GMT+1",
  // {{day ms}} "4 Dec 2026", {{when ms}} a <time> saying "2 hours ago" with the exact time on hover.
  const zoneOf = (options: Handlebars.HelperOptions | undefined) => (options?.data as RenderData | undefined)?.timeZone ?? DEFAULT_TIME_ZONE;
  const msOf = (ms: unknown) => {
    const n = Number(ms);
    return Number.isFinite(n) && n > 0 ? n : null;
  };
  hb.registerHelper('date', (ms: unknown, options: Handlebars.HelperOptions) => {
    const n = msOf(ms);
    return n === null ? '' : formatExact(n, zoneOf(options));
  });
  hb.registerHelper('day', (ms: unknown, options: Handlebars.HelperOptions) => {
    const n = msOf(ms);
    return n === null ? '' : formatDay(n, zoneOf(options));
  });
  hb.registerHelper('when', (ms: unknown, options: Handlebars.HelperOptions) => {
    const n = msOf(ms);
    if (n === null) return '';
    const tz = zoneOf(options);
    const now = (options?.data as RenderData | undefined)?.now ?? Date.now();
    const esc = Handlebars.escapeExpression;
    return new Handlebars.SafeString(`<time datetime="${new Date(n).toISOString()}" title="${esc(formatExact(n, tz))}">${esc(formatRelative(n, now, tz))}</time>`);
  });
  hb.registerHelper('plural', (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`);
  // {{possessive brand.firmName}}: "Harbor & Vale’s", "Partners’" (core/wording.ts).
  hb.registerHelper('possessive', (name: unknown) => possessive(typeof name === 'string' ? name : ''));
}
