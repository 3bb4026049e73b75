// Message bodies: Markdown rendered once, when the message is written, by markdown-it with raw HTML
// off, then through sanitize-html with an allow-list (the second fence: whatever the parser lets
// through, only these tags and attributes reach a page). Links keep http(s) and mailto only and
// open with rel="noopener noreferrer"; images are not rendered (a message cannot load a tracker).
// @mentions are matched against the people who may read the thread, never free text.
import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
// No images: `![x](https://tracker)` renders as its alt text.
md.disable(['image']);

const ALLOWED: sanitizeHtml.IOptions = {
  allowedTags: ['p', 'br', 'strong', 'em', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a', 'h3', 'h4', 'hr', 'span'],
  allowedAttributes: { a: ['href', 'rel', 'target'], ol: ['start'], span: ['class'] },
  allowedClasses: { span: ['mention'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'escape',
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: { href: attribs.href ?? '', rel: 'noopener noreferrer', target: '_blank' } }),
    // Headings in a message are at most a sub-heading of the thread.
    h1: 'h3',
    h2: 'h3',
    h5: 'h4',
    h6: 'h4',
  },
};

/** A reader a message can mention: their id and name. */
export interface Mentionable {
  id: string;
  name: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The people a body mentions: `@Full Name` or `@First` (when only one reader has that first name),
 * case-insensitive, among `readers`. Longest names first, so "@Ada Lindqvist" is not read as "@Ada".
 */
export function findMentions(body: string, readers: Mentionable[]): Mentionable[] {
  const found = new Map<string, Mentionable>();
  const firstCount = new Map<string, number>();
  for (const r of readers) {
    const first = r.name.trim().split(/\s+/)[0]!.toLowerCase();
    firstCount.set(first, (firstCount.get(first) ?? 0) + 1);
  }
  const candidates: Array<{ text: string; who: Mentionable }> = [];
  for (const r of readers) {
    const name = r.name.trim();
    if (!name) continue;
    candidates.push({ text: name, who: r });
    const first = name.split(/\s+/)[0]!;
    if (first !== name && firstCount.get(first.toLowerCase()) === 1) candidates.push({ text: first, who: r });
  }
  candidates.sort((a, b) => b.text.length - a.text.length);
  let rest = body;
  for (const c of candidates) {
    const re = new RegExp(`(^|[^\\w@])@${escapeRe(c.text)}(?![\\w])`, 'giu');
    if (re.test(rest)) {
      found.set(c.who.id, c.who);
      rest = rest.replace(re, '$1');
    }
  }
  return [...found.values()];
}

/**
 * A message body as safe HTML. Mentions of `mentioned` people are wrapped in
 * `<span class="mention">` (after sanitising the Markdown, on escaped text only).
 */
export function renderMessage(body: string, mentioned: Mentionable[] = []): string {
  const html = sanitizeHtml(md.render(body), ALLOWED);
  const names = [...new Set(mentioned.flatMap((m) => [m.name.trim(), m.name.trim().split(/\s+/)[0]!]).filter(Boolean).map(escapeHtml))].sort((a, b) => b.length - a.length);
  if (!names.length) return html;
  // One pass over the text between tags (never inside a tag), longest names first.
  const re = new RegExp(`(^|[^\\w@])@(${names.map(escapeRe).join('|')})(?![\\w])`, 'giu');
  return html
    .split(/(<[^>]+>)/)
    .map((part) => (part.startsWith('<') ? part : part.replace(re, (_all, pre: string, name: string) => `${pre}<span class="mention">@${name}</span>`)))
    .join('');
}

/** Plain text of a body for mail and previews: Markdown markers kept, one line, cut at `max`. */
export function excerpt(body: string, max = 140): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1).trimEnd()}…` : one;
}
