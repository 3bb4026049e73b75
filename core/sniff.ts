// What may be uploaded (SECURITY.md control 35): the extension must be on the allow list and the
// first bytes must be what that extension claims. Binary formats are recognised by file-type
// (magic bytes); plain-text formats (file-type cannot recognise them) must not contain NUL bytes
// or look like markup. SVG and HTML are refused outright: a browser would run their scripts.
import { fileTypeFromBuffer } from 'file-type';

/** Bytes to read before deciding (file-type's own sample size). */
export const SNIFF_BYTES = 4100;

const OFFICE_ZIP = 'application/zip';
const CFB = 'application/x-cfb';

/** extension -> [content type we serve, types file-type may report for it]. */
const BINARY: Record<string, [string, string[]]> = {
  pdf: ['application/pdf', ['application/pdf']],
  png: ['image/png', ['image/png']],
  jpg: ['image/jpeg', ['image/jpeg']],
  jpeg: ['image/jpeg', ['image/jpeg']],
  gif: ['image/gif', ['image/gif']],
  webp: ['image/webp', ['image/webp']],
  tif: ['image/tiff', ['image/tiff']],
  tiff: ['image/tiff', ['image/tiff']],
  heic: ['image/heic', ['image/heic', 'image/heif']],
  docx: ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', OFFICE_ZIP]],
  xlsx: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', OFFICE_ZIP]],
  pptx: ['application/vnd.openxmlformats-officedocument.presentationml.presentation', ['application/vnd.openxmlformats-officedocument.presentationml.presentation', OFFICE_ZIP]],
  odt: ['application/vnd.oasis.opendocument.text', ['application/vnd.oasis.opendocument.text', OFFICE_ZIP]],
  ods: ['application/vnd.oasis.opendocument.spreadsheet', ['application/vnd.oasis.opendocument.spreadsheet', OFFICE_ZIP]],
  doc: ['application/msword', [CFB]],
  xls: ['application/vnd.ms-excel', [CFB]],
  ppt: ['application/vnd.ms-powerpoint', [CFB]],
  zip: ['application/zip', ['application/zip']],
  mp3: ['audio/mpeg', ['audio/mpeg']],
  mp4: ['video/mp4', ['video/mp4']],
  mov: ['video/quicktime', ['video/quicktime']],
};

const TEXT: Record<string, string> = { txt: 'text/plain', csv: 'text/csv', md: 'text/markdown', log: 'text/plain' };

/** Types whose bytes are already compressed: stored as-is in a zip. */
export const COMPRESSED = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/heic', 'application/zip', 'audio/mpeg', 'video/mp4', 'video/quicktime', ...Object.values(BINARY).filter(([, d]) => d.includes(OFFICE_ZIP)).map(([t]) => t)]);

/** Images a browser can show inline as a thumbnail. */
export const THUMBNAIL = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

const MARKUP = /<\s*(svg|html|script|!doctype|\?xml|iframe|object|embed)\b/i;

export type SniffResult = { ok: true; contentType: string } | { ok: false; reason: string };

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

export async function sniff(name: string, head: Buffer): Promise<SniffResult> {
  const ext = extensionOf(name);
  if (['svg', 'svgz', 'html', 'htm', 'xhtml', 'xml', 'js', 'mjs'].includes(ext)) return { ok: false, reason: 'SVG, HTML and script files are not accepted' };
  const detected = head.length ? await fileTypeFromBuffer(head) : undefined;
  const binary = BINARY[ext];
  if (binary) {
    if (!detected || !binary[1].includes(detected.mime)) return { ok: false, reason: `the file's content is not a .${ext} file` };
    return { ok: true, contentType: binary[0] };
  }
  const text = TEXT[ext];
  if (text) {
    if (detected) return { ok: false, reason: `the file's content is not a .${ext} file` };
    if (head.includes(0) || MARKUP.test(head.toString('utf8'))) return { ok: false, reason: `the file's content is not plain .${ext} text` };
    return { ok: true, contentType: text };
  }
  return { ok: false, reason: ext ? `.${ext} files are not accepted` : 'files without an extension are not accepted' };
}

export const ACCEPTED_EXTENSIONS = [...Object.keys(BINARY), ...Object.keys(TEXT)].sort();
