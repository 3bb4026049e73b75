// The kernel's mail bodies: a plain-text part and an HTML part in the firm's branding, from
// Handlebars templates a theme can override. Nothing from the request but what is passed in;
// every link is absolute, built by the caller from `config.baseUrl`, never from the Host header.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

export interface MailContent {
  /** Shown as the first line ("Hello Ada,"). */
  greeting: string;
  /** Paragraphs, in order, as plain text. */
  paragraphs: string[];
  /** One call to action: a button in HTML, a bare URL on its own line in text. */
  action?: { label: string; url: string };
  /** Lines after the action (e.g. "This link works for 60 minutes."). */
  after?: string[];
  /** The sender's name at the foot (the firm name). */
  signature: string;
  /** The firm's branding: the HTML part uses its name and colours (validated hex colours). */
  brand?: { firmName: string; primary: string; accent: string };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// The message layout is Handlebars: core/mail/templates/message.{html,text}.hbs, which a theme
// overrides by shipping mail/message.{html,text}.hbs (boot calls useMailTheme with the theme
// chain). The HTML part is escaped by Handlebars; the text part is plain text (no HTML escaping).
const CORE_TEMPLATES = fileURLToPath(new URL('./templates', import.meta.url));
let themeDirs: string[] = [];
const compiled = new Map<string, Handlebars.TemplateDelegate>();
const hb = Handlebars.create();

/** Look for mail templates in these theme folders (active theme first) before the kernel's. */
export function useMailTheme(dirs: string[]): void {
  themeDirs = dirs;
  compiled.clear();
}

function template(name: 'message.html' | 'message.text'): Handlebars.TemplateDelegate {
  let t = compiled.get(name);
  if (!t) {
    const file = [...themeDirs.map((d) => join(d, 'mail', `${name}.hbs`)), join(CORE_TEMPLATES, `${name}.hbs`)].find((f) => existsSync(f))!;
    t = hb.compile(readFileSync(file, 'utf8'), { noEscape: name === 'message.text', strict: false });
    compiled.set(name, t);
  }
  return t;
}

const DEFAULT_BRAND = { firmName: 'Atrium', primary: '#1f4e79', accent: '#7a3e9d' };

export function renderMail(m: MailContent): { text: string; html: string } {
  const url = m.action ? safeUrl(m.action.url) : null;
  const model = {
    ...m,
    brand: { ...DEFAULT_BRAND, ...(m.brand ?? {}) },
    action: m.action && url ? { label: m.action.label, url } : undefined,
    after: m.after ?? [],
  };
  return { text: template('message.text')(model).replace(/\n{3,}/g, '\n\n'), html: template('message.html')(model) };
}

/** Only http(s) links go into a mail. */
function safeUrl(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : null;
  } catch {
    return null;
  }
}

/** Links that carry a one-time token: hidden on the admin page and scrubbed after delivery. */
const TOKEN_LINK = /(\/(?:password\/reset|invite|account\/email\/confirm|l\/[a-z][a-z0-9-]*)\/)[A-Za-z0-9_-]{20,}/g;

export function redactTokens(s: string): string {
  return s.replace(TOKEN_LINK, '$1[link removed]');
}
