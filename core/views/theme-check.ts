// `atrium theme:check <dir>`: lints a theme before it is used. Each finding has a stable code.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import Handlebars from 'handlebars';
import { REQUIRED_THEME_FILES, themeManifestSchema } from './engine.ts';
import { PROJECT_ROOT } from '../config/load.ts';

export interface ThemeFinding {
  level: 'error' | 'warning';
  code: string;
  file: string;
  message: string;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const f = join(dir, e);
    if (statSync(f).isDirectory()) out.push(...files(f));
    else out.push(f);
  }
  return out;
}

export function checkTheme(dir: string, themesRoot = join(PROJECT_ROOT, 'themes')): ThemeFinding[] {
  const findings: ThemeFinding[] = [];
  const add = (level: ThemeFinding['level'], code: string, file: string, message: string) => findings.push({ level, code, file, message });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    add('error', 'ATR_THEME_DIR_MISSING', dir, 'is not a directory');
    return findings;
  }
  const manifestFile = join(dir, 'theme.json');
  let extendsName: string | undefined;
  if (!existsSync(manifestFile)) {
    add('error', 'ATR_THEME_MANIFEST_MISSING', 'theme.json', 'every theme needs a theme.json manifest');
  } else {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(manifestFile, 'utf8'));
    } catch (err) {
      add('error', 'ATR_THEME_MANIFEST_INVALID', 'theme.json', `not valid JSON: ${(err as Error).message}`);
    }
    if (raw !== undefined) {
      const parsed = themeManifestSchema.safeParse(raw);
      if (!parsed.success) {
        for (const i of parsed.error.issues) {
          const key = i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.');
          add('error', 'ATR_THEME_MANIFEST_INVALID', 'theme.json', `${key}: ${i.code === 'unrecognized_keys' ? 'unknown key' : i.message}`);
        }
      } else {
        extendsName = parsed.data.extends;
        if (parsed.data.name !== basename(dir)) add('error', 'ATR_THEME_NAME_MISMATCH', 'theme.json', `name "${parsed.data.name}" differs from the folder "${basename(dir)}"`);
        if (extendsName && !existsSync(join(dirname(dir), extendsName, 'theme.json')) && !existsSync(join(themesRoot, extendsName, 'theme.json'))) {
          add('error', 'ATR_THEME_EXTENDS_MISSING', 'theme.json', `extends "${extendsName}", which is neither beside this theme nor installed in themes/`);
        }
      }
    }
  }
  if (!extendsName) {
    for (const req of REQUIRED_THEME_FILES) {
      if (!existsSync(join(dir, req))) add('error', 'ATR_THEME_TEMPLATE_MISSING', req, 'required for a theme that extends no other');
    }
  }
  for (const f of files(dir)) {
    const rel = relative(dir, f);
    // Mail templates go to mail clients, not browsers: inline styles are how email is styled, and
    // the CSP rules do not apply (they still must compile and never print unescaped output).
    const isMail = rel.startsWith('mail/');
    if (f.endsWith('.hbs') && isMail) {
      try {
        Handlebars.precompile(readFileSync(f, 'utf8'));
      } catch (err) {
        add('error', 'ATR_THEME_TEMPLATE_SYNTAX', rel, (err as Error).message.split('\n')[0]!);
      }
      if (/\{\{\{/.test(readFileSync(f, 'utf8'))) add('error', 'ATR_THEME_UNSAFE_OUTPUT', rel, 'mail templates may not print unescaped output');
    } else if (f.endsWith('.hbs')) {
      const src = readFileSync(f, 'utf8');
      try {
        Handlebars.precompile(src);
      } catch (err) {
        add('error', 'ATR_THEME_TEMPLATE_SYNTAX', rel, (err as Error).message.split('\n')[0]!);
      }
      for (const m of src.matchAll(/\{\{\{\s*([^}]*?)\s*\}\}\}/g)) {
        if (!(rel.startsWith('layouts/') && m[1] === 'body')) add('error', 'ATR_THEME_UNSAFE_OUTPUT', rel, `{{{${m[1]}}}} prints unescaped HTML; only layouts may use {{{body}}}`);
      }
      if (/<style[\s>]/i.test(src)) add('error', 'ATR_THEME_INLINE_STYLE', rel, 'inline <style> blocks are blocked by the CSP; put rules in a .css asset');
      if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(src)) add('error', 'ATR_THEME_INLINE_SCRIPT', rel, 'inline <script> is blocked by the CSP; serve behaviour from a .js asset');
      if (/\son[a-z]+\s*=|\shx-on[:-]/i.test(src)) add('error', 'ATR_THEME_INLINE_HANDLER', rel, 'inline event handlers (on*=, hx-on) are blocked by the CSP');
      if (/\sstyle\s*=/i.test(src)) add('error', 'ATR_THEME_INLINE_STYLE', rel, 'inline style attributes are blocked by the CSP; use a class');
      if (rel.startsWith('layouts/') && !/\{\{\{\s*body\s*\}\}\}/.test(src)) add('error', 'ATR_THEME_LAYOUT_NO_BODY', rel, 'a layout must print {{{body}}}');
      if (/https?:\/\/(?!www\.w3\.org)/.test(src) && /<(script|link)[^>]+(src|href)=["']https?:/i.test(src)) add('error', 'ATR_THEME_REMOTE_ASSET', rel, 'assets must be served by Atrium, never from a CDN');
    } else if (f.endsWith('.css')) {
      const css = readFileSync(f, 'utf8');
      if (/--brand-[a-z-]+\s*:/.test(css)) add('error', 'ATR_THEME_BRAND_DEFINED', rel, 'themes read --brand-* variables but never define them; branding is set by an admin');
      if (/@import\s+url\(\s*["']?https?:/i.test(css)) add('error', 'ATR_THEME_REMOTE_ASSET', rel, 'stylesheets must not import from other hosts');
    }
  }
  if (!files(dir).some((f) => f.endsWith('.css')) && !extendsName) add('warning', 'ATR_THEME_NO_CSS', 'assets/', 'the theme has no stylesheet');
  return findings;
}
