// The design system's Handlebars side: the `ui` view namespace (core/views/ui: the components'
// partials and the style-guide page) and the helpers its partials use — SVG icons by name,
// the icon for a file's type, and small builders for partial parameters. The CSS is
// core/assets/components.css and the behaviour core/assets/ui.js.
import { fileURLToPath } from 'node:url';
import type Handlebars from 'handlebars';

/** The `ui` namespace's folder: `partials/*.hbs` are `{{> ui/<name>}}`, views are `ui/<name>`. */
export const UI_VIEWS_DIR = fileURLToPath(new URL('./ui', import.meta.url));

/** Stroke icons on a 24-unit grid, drawn for this project (currentColor, 1.75 stroke). */
const STROKE: Record<string, string> = {
  upload: '<path d="M12 15V4M7.5 8.5 12 4l4.5 4.5M4.5 15v3.5A1.5 1.5 0 0 0 6 20h12a1.5 1.5 0 0 0 1.5-1.5V15"/>',
  download: '<path d="M12 4v11M7.5 10.5 12 15l4.5-4.5M4.5 15v3.5A1.5 1.5 0 0 0 6 20h12a1.5 1.5 0 0 0 1.5-1.5V15"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  'folder-plus': '<path d="M3 6.5A1.5 1.5 0 0 1 4.5 5h4l2 2h9A1.5 1.5 0 0 1 21 8.5v9a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 17.5zM12 10.5v5M9.5 13h5"/>',
  trash: '<path d="M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 12.5h9l1-12.5M10 10.5v6M14 10.5v6"/>',
  settings: '<path d="M4 7h10M18 7h2M4 17h4M12 17h8"/><circle cx="16" cy="7" r="2"/><circle cx="10" cy="17" r="2"/>',
  search: '<circle cx="11" cy="11" r="6"/><path d="m20 20-4.5-4.5"/>',
  list: '<path d="M9 6.5h11M9 12h11M9 17.5h11M4.5 6.5h.01M4.5 12h.01M4.5 17.5h.01"/>',
  grid: '<rect x="4" y="4" width="6.5" height="6.5" rx="1"/><rect x="13.5" y="4" width="6.5" height="6.5" rx="1"/><rect x="4" y="13.5" width="6.5" height="6.5" rx="1"/><rect x="13.5" y="13.5" width="6.5" height="6.5" rx="1"/>',
  close: '<path d="M6 6l12 12M18 6 6 18"/>',
  check: '<path d="m5 12.5 4.5 4.5L19 7.5"/>',
  'chevron-right': '<path d="m9.5 6 6 6-6 6"/>',
  'chevron-down': '<path d="m6 9.5 6 6 6-6"/>',
  'arrow-left': '<path d="M19 12H5M11 6l-6 6 6 6"/>',
  info: '<circle cx="12" cy="12" r="8.5"/><path d="M12 11v5M12 8h.01"/>',
  success: '<circle cx="12" cy="12" r="8.5"/><path d="m8.5 12.5 2.5 2.5 4.5-5"/>',
  error: '<path d="M12 3.8 2.8 19.5h18.4z"/><path d="M12 10v4M12 17h.01"/>',
  lock: '<rect x="5" y="11" width="14" height="9" rx="1.5"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
  clock: '<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>',
  inbox: '<path d="M3.5 13.5 6 5.5h12l2.5 8v5a1 1 0 0 1-1 1h-15a1 1 0 0 1-1-1zM3.5 13.5H9l1 2h4l1-2h5.5"/>',
  pen: '<path d="M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4"/>',
  user: '<circle cx="12" cy="8.5" r="3.5"/><path d="M5 20a7 7 0 0 1 14 0"/>',
  users: '<circle cx="9" cy="9" r="3"/><path d="M3.5 19a5.5 5.5 0 0 1 11 0M15.5 6.2a3 3 0 0 1 0 5.6M17 13.8a5.5 5.5 0 0 1 3.5 5.2"/>',
  file: '<path d="M6.5 3h7L18 7.5V21H6.5zM13.5 3v4.5H18"/>',
  more: '<path d="M6 12h.01M12 12h.01M18 12h.01"/>',
  restore: '<path d="M9 13.5 4.5 9 9 4.5M4.5 9h10a5.5 5.5 0 0 1 0 11H11"/>',
  archive: '<rect x="3.5" y="4.5" width="17" height="4" rx="1"/><path d="M5 8.5V19a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8.5M10 12.5h4"/>',
  message: '<path d="M4 5.5A1.5 1.5 0 0 1 5.5 4h13A1.5 1.5 0 0 1 20 5.5v9a1.5 1.5 0 0 1-1.5 1.5H10l-4.5 4v-4h0A1.5 1.5 0 0 1 4 14.5z"/>',
  send: '<path d="M20.5 3.5 10 14M20.5 3.5 14 20.5l-4-6.5-6.5-4z"/>',
};

const PAPER = '<path class="paper" d="M6 2.5h8l5.5 5.5v13a.5.5 0 0 1-.5.5H6a.5.5 0 0 1-.5-.5V3a.5.5 0 0 1 .5-.5z"/><path class="fold" d="M14 2.5V8h5.5z"/>';
const tag = (text: string) => `<rect class="tag" x="2.5" y="12.5" width="${text.length > 3 ? 15 : 12.5}" height="6.5" rx="1.2"/><text class="tag-text" x="4.1" y="17.4">${text}</text>`;
const LINES = '<path class="mark" d="M8.5 11.5h7M8.5 14.5h7M8.5 17.5h4.5"/>';

/** File-type icons: a sheet of paper with a coloured tag or glyph (colours are CSS tokens). */
const FILE_KINDS: Record<string, string> = {
  pdf: PAPER + tag('PDF'),
  doc: PAPER + tag('DOC'),
  sheet: PAPER + tag('XLS'),
  slides: PAPER + tag('PPT'),
  zip: PAPER + tag('ZIP'),
  image: PAPER + '<circle class="mark-fill" cx="10" cy="11.5" r="1.6"/><path class="mark-fill" d="m7 19.5 3.5-4.5 2.5 3 2-2.5 3 4z"/>',
  media: PAPER + '<path class="mark-fill" d="M10 11v7.5l6-3.75z"/>',
  text: PAPER + LINES,
  generic: PAPER,
};
const FOLDER = '<path class="back" d="M2.5 6A1.5 1.5 0 0 1 4 4.5h5l2 2h9A1.5 1.5 0 0 1 21.5 8v10.5A1.5 1.5 0 0 1 20 20H4a1.5 1.5 0 0 1-1.5-1.5z"/><path class="front" d="M2.5 9.5A1.5 1.5 0 0 1 4 8h16a1.5 1.5 0 0 1 1.5 1.5v9A1.5 1.5 0 0 1 20 20H4a1.5 1.5 0 0 1-1.5-1.5z"/>';

/** Every icon name `ui/icon` accepts, for the style guide and for tests. */
export const ICON_NAMES = [...Object.keys(STROKE), 'folder', ...Object.keys(FILE_KINDS)];
export const FILE_KIND_NAMES = Object.keys(FILE_KINDS);

const BY_EXTENSION: Record<string, string> = {
  pdf: 'pdf',
  doc: 'doc', docx: 'doc', odt: 'doc', rtf: 'doc', pages: 'doc',
  xls: 'sheet', xlsx: 'sheet', ods: 'sheet', csv: 'sheet', numbers: 'sheet',
  ppt: 'slides', pptx: 'slides', odp: 'slides', key: 'slides',
  zip: 'zip', '7z': 'zip', rar: 'zip', gz: 'zip', tar: 'zip',
  png: 'image', jpg: 'image', jpeg: 'image', gif: 'image', webp: 'image', tif: 'image', tiff: 'image', heic: 'image', svg: 'image',
  mp3: 'media', wav: 'media', m4a: 'media', mp4: 'media', mov: 'media', webm: 'media',
  txt: 'text', md: 'text', log: 'text', json: 'text',
};

/** The icon for a file, from its name's extension, else its content type; `generic` otherwise. */
export function fileKind(name: unknown, contentType?: unknown): string {
  const n = typeof name === 'string' ? name : '';
  const dot = n.lastIndexOf('.');
  const byExt = dot > 0 ? BY_EXTENSION[n.slice(dot + 1).toLowerCase()] : undefined;
  if (byExt) return byExt;
  const t = typeof contentType === 'string' ? contentType : '';
  if (t === 'application/pdf') return 'pdf';
  if (t.startsWith('image/')) return 'image';
  if (t.startsWith('audio/') || t.startsWith('video/')) return 'media';
  if (t.startsWith('text/')) return 'text';
  if (/zip|compressed/.test(t)) return 'zip';
  if (/spreadsheet|excel/.test(t)) return 'sheet';
  if (/presentation|powerpoint/.test(t)) return 'slides';
  if (/word|opendocument\.text/.test(t)) return 'doc';
  return 'generic';
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The SVG markup of an icon. Decorative (aria-hidden) unless it has a label. Unknown names draw nothing. */
export function iconSvg(name: string, opts: { label?: string; className?: string } = {}): string {
  let body: string | undefined;
  let kindClass = '';
  if (name === 'folder') {
    body = FOLDER;
    kindClass = ' ui-icon-folder';
  } else if (FILE_KINDS[name]) {
    body = FILE_KINDS[name];
    kindClass = ` ui-icon-file ui-icon-${name}`;
  } else {
    body = STROKE[name];
  }
  if (!body) return '';
  const cls = `ui-icon${kindClass}${opts.className ? ` ${escapeAttr(opts.className)}` : ''}`;
  const a11y = opts.label ? `role="img" aria-label="${escapeAttr(opts.label)}"` : 'aria-hidden="true"';
  return `<svg class="${cls}" viewBox="0 0 24 24" ${a11y} focusable="false">${body}</svg>`;
}

export function registerUiHelpers(hb: typeof Handlebars): void {
  // {{uiIcon "pdf" class="ui-icon-lg" label="PDF document"}}: a SafeString, so no triple-stash.
  hb.registerHelper('uiIcon', (name: unknown, options: Handlebars.HelperOptions) => {
    const hash = (options?.hash ?? {}) as { class?: string; label?: string };
    return new hb.SafeString(iconSvg(String(name ?? ''), { className: hash.class, label: hash.label }));
  });
  // {{fileKind name contentType}}: pdf | doc | sheet | slides | zip | image | media | text | generic
  hb.registerHelper('fileKind', (name: unknown, contentType: unknown) => fileKind(name, typeof contentType === 'object' ? undefined : contentType));
  // {{isoTime ms}}: the machine-readable time for <time datetime>.
  hb.registerHelper('isoTime', (ms: unknown) => {
    const n = Number(ms);
    return Number.isFinite(n) && n > 0 ? new Date(n).toISOString() : '';
  });
  // {{#withBlock @partial-block}}…{{@block}}…{{/withBlock}}: renders a partial's block once and
  // shows the wrapper only when the block printed something. Never `{{#if @partial-block}}`: the
  // `if` helper calls a function it is given, so that renders the block an extra time, without
  // the page's data, and a block that starts with a block helper comes out empty.
  hb.registerHelper('withBlock', function (this: unknown, block: unknown, options: Handlebars.HelperOptions) {
    const html = typeof block === 'function' ? String((block as (ctx: unknown, o: object) => unknown)(this, { data: options.data })) : '';
    if (!html.trim()) return options.inverse(this);
    const data = hb.createFrame(options.data);
    data.block = new hb.SafeString(html);
    return options.fn(this, { data });
  });
  // Builders for partial parameters: (array "a" "b"), (object label="Name" href=url), (onlyIf cond x), (concat "a" b).
  // `array` leaves out empty entries, so (array (onlyIf cond (object …)) …) builds a list of what applies.
  hb.registerHelper('array', (...args: unknown[]) => args.slice(0, -1).filter((a) => a !== undefined && a !== null && a !== false && a !== ''));
  hb.registerHelper('onlyIf', (cond: unknown, value: unknown) => (cond ? value : undefined));
  // {{truncate sha 12}}: the first n characters (for long codes whose start identifies them).
  hb.registerHelper('truncate', (value: unknown, n: unknown) => String(value ?? '').slice(0, Number(n) || 0));
  hb.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).filter((a) => a !== undefined && a !== null && a !== false).join(''));
  hb.registerHelper('object', (options: Handlebars.HelperOptions) => ({ ...(options.hash as object) }));
}
