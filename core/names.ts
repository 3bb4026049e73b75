// Names of files, folders and downloads (docs/plugins.md, "Rules for untrusted input"). A name
// is shown in lists, sent in Content-Disposition, written into zips and saved on someone's disk,
// so it must read as what it is. One rule, applied when a name comes in (uploads, folder names,
// renames: `nameField`, `normaliseName`) and again when one goes out (`contentDisposition`,
// `zipEntryName`), so names stored before the rule existed are safe when served too:
//   - NFC; control characters removed (refused with a message in forms);
//   - bidi controls (embeddings, overrides, isolates and the LRM/RLM/ALM marks) and zero-width
//     characters, joiners included, removed: "invoice\u202Efdp.txt" is "invoicefdp.txt", the name
//     it really has, not one that displays as "invoicetxt.pdf";
//   - whitespace runs become one space, ends trimmed, no leading dot (hidden files, "..");
//   - at most 255 bytes of UTF-8 (a file system's limit), never empty when served.
import { z } from 'zod';
import { INVISIBLE } from './text.ts';

export const NAME_MAX_BYTES = 255;

/** Every bidi control: embeddings, overrides, isolates and the marks. */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Zero-width joiners: kept in text (core/text.ts), removed from names. */
const JOINERS = /[\u200c\u200d]/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/gu;
/** The same, to test (a /g regex keeps state between `test` calls). */
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;
const SLASHES = /[\\/]/;

/** Invisible and direction-changing characters out, NFC, whitespace folded, ends trimmed. */
function fold(raw: string): string {
  return raw.normalize('NFC').replace(BIDI, '').replace(INVISIBLE, '').replace(JOINERS, '').replace(/\s+/g, ' ').trim();
}

/**
 * A name as given (an upload's file name, one path segment), made safe: see the header. Slashes
 * become "_" (take the last path segment first if the name came with a path). May return ''
 * when nothing usable is left; the caller refuses it or uses `safeName`.
 */
export function normaliseName(raw: string): string {
  return fold(raw.replace(CONTROLS, '').replace(/[\\/]/g, '_')).replace(/^[.\s]+/, '');
}

/** Cut to at most `maxBytes` of UTF-8, keeping the extension and whole characters. */
function truncate(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = '';
  const room = maxBytes - Buffer.byteLength(ext);
  for (const ch of name.slice(0, name.length - ext.length)) {
    if (Buffer.byteLength(stem + ch) > room) break;
    stem += ch;
  }
  return stem.trimEnd() + ext;
}

/** A name to serve or store: `normaliseName`, bounded to 255 bytes, `fallback` when empty. */
export function safeName(raw: string, fallback = 'download'): string {
  return truncate(normaliseName(raw), NAME_MAX_BYTES) || fallback;
}

/**
 * The zod field for a name a person types (a folder, a rename). Slashes, line breaks and other
 * control characters are refused with a message; bidi controls and zero-width characters are
 * removed (the rule above); at most 255 bytes. `nameField({ required: 'Give the folder a name' })`.
 */
export function nameField(opts: { required?: string } = {}): z.ZodString {
  const invalid = 'Names cannot contain slashes or control characters, or start with a dot';
  return z
    .string({ error: opts.required ?? 'Give it a name' })
    .max(4 * NAME_MAX_BYTES, `Use at most ${NAME_MAX_BYTES} bytes`)
    .refine((n) => !SLASHES.test(n) && !HAS_CONTROL.test(n), { message: invalid, abort: true })
    .overwrite(fold)
    .refine((n) => n.length > 0, { message: opts.required ?? 'Give it a name', abort: true })
    .refine((n) => !n.startsWith('.'), { message: invalid, abort: true })
    .refine((n) => Buffer.byteLength(n) <= NAME_MAX_BYTES, { message: `Use at most ${NAME_MAX_BYTES} bytes`, abort: true });
}

/**
 * The Content-Disposition header for a download named `name` (any stored name, however old):
 * an ASCII `filename` for old clients and the exact UTF-8 name in `filename*` (RFC 6266/8187).
 * Every plugin names its downloads through this; the suite refuses a hand-built header.
 */
export function contentDisposition(name: string, kind: 'attachment' | 'inline' = 'attachment'): string {
  const clean = safeName(name);
  // The ASCII fallback keeps letters without their accents ("été" -> "ete"), the rest becomes "_".
  const ascii = clean.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Device names Windows reserves with any extension ("CON.txt", "com1.tar.gz", "NUL .txt"). */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)\s*(\..*)?$/i;

/**
 * One path segment of a zip entry (a folder or file name), safe to extract on any system: the
 * name rule above, then `<>:"/\|?*` become "_", no trailing dots or spaces, Windows device names
 * prefixed with "_", never "", "." or "..". Join segments with "/" yourself.
 */
export function zipEntryName(segment: string): string {
  let s = safeName(segment, '_').replace(/[<>:"/\\|?*]/g, '_').replace(/[. ]+$/, '');
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  return s || '_';
}
