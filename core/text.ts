// Free text from people, checked at the border (docs/plugins.md, "Rules for untrusted input"): the
// two zod builders every form field of free text uses. A title, a name or a reason can reach a
// mail header, a PDF, a file name or a log line, so what is kept is text a person can see:
//   - NFC, so the same words are the same string (search, comparison, PDF fonts);
//   - refused, with a message beside the field: control characters (C0, C1, DEL), and the bidi
//     embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which reorder what
//     the next reader sees ("txt.exe" shown as "exe.txt"); in single-line text, line breaks;
//   - removed silently: invisible characters a paste brings along (zero-width space, word
//     joiner, byte order mark, soft hyphen, bidi marks LRM/RLM/ALM, Hangul fillers). The joiners
//     U+200C/U+200D stay in text: Persian, Indic scripts and emoji sequences need them (names of
//     files drop them too: core/names.ts);
//   - bounded in characters (code points) after normalising, not in UTF-16 units.
import { z } from 'zod';

/** Line breaks of any kind: LF, CR, NEL, LINE and PARAGRAPH SEPARATOR (VT and FF count as controls). */
const LINE_BREAK = /[\n\r\u0085\u2028\u2029]/;
/** C0 and C1 controls and DEL, except tab, LF and CR (handled by each builder), and lone surrogates. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f]|\p{Cs}/u;
/** Bidi embeddings, overrides and isolates: they change the order in which text is displayed. */
export const BIDI_FORMATTING = /[\u202a-\u202e\u2066-\u2069]/;
/** Invisible format characters removed from any text (not the joiners ZWNJ/ZWJ: see the header). */
export const INVISIBLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200e\u200f\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0]/g;

const count = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
const amount = (n: number) => n.toLocaleString('en-GB');

export interface TextOptions {
  /** The most characters kept (after normalising). */
  max: number;
  /** The fewest characters; 1 makes the field required. Default 0. */
  min?: number;
  /** The message when a required field is empty, e.g. "Give the request a title". */
  required?: string;
}

const MESSAGES = {
  lineBreak: 'Use one line, without line breaks',
  control: 'Remove the invisible control characters',
  bidi: 'Remove the characters that change the direction of the text',
};

/** The shared tail: NFC, invisibles removed, then the length bounds (in characters). */
function bounded(s: z.ZodString, opts: TextOptions): z.ZodString {
  const min = opts.min ?? 0;
  let out = s;
  if (min > 0) out = out.refine((v) => v.length > 0, { message: opts.required ?? 'Fill in this field', abort: true });
  if (min > 1) out = out.refine((v) => count(v) >= min, { message: `Use at least ${amount(min)} characters`, abort: true });
  return out.refine((v) => count(v) <= opts.max, { message: `Use at most ${amount(opts.max)} characters`, abort: true });
}

/** A raw-length bound before any work, so a megabyte of spaces is not normalised first. */
const rawBound = (max: number) => z.string({ error: 'Enter text' }).max(max * 4 + 256, `Use at most ${amount(max)} characters`);

/**
 * One line of text: a title, a name, a short reason. Line breaks, control characters and bidi
 * overrides are refused; tabs and runs of whitespace (including no-break spaces) become one
 * space; the ends are trimmed. `singleLine({ max: 200, min: 1, required: 'Give it a title' })`.
 */
export function singleLine(opts: TextOptions): z.ZodString {
  const s = rawBound(opts.max)
    .refine((v) => !LINE_BREAK.test(v), { message: MESSAGES.lineBreak, abort: true })
    .refine((v) => !CONTROL.test(v), { message: MESSAGES.control, abort: true })
    .refine((v) => !BIDI_FORMATTING.test(v), { message: MESSAGES.bidi, abort: true })
    .overwrite((v) => v.normalize('NFC').replace(INVISIBLE, '').replace(/\s+/g, ' ').trim());
  return bounded(s, opts);
}

/**
 * Several lines: a message, a comment. CRLF, CR, NEL and the Unicode separators become LF; LF
 * and tab are the only controls kept; bidi overrides are refused; spaces at the end of each
 * line and blank lines at both ends are trimmed. `multiLine({ max: 4000 })`.
 */
export function multiLine(opts: TextOptions): z.ZodString {
  const s = rawBound(opts.max)
    .overwrite((v) => v.replace(/\r\n?|[\u0085\u2028\u2029]/g, '\n'))
    .refine((v) => !CONTROL.test(v), { message: MESSAGES.control, abort: true })
    .refine((v) => !BIDI_FORMATTING.test(v), { message: MESSAGES.bidi, abort: true })
    .overwrite((v) =>
      v
        .normalize('NFC')
        .replace(INVISIBLE, '')
        .replace(/[^\S\n]+$/gm, '')
        .replace(/^\n+|\s+$/g, ''),
    );
  return bounded(s, opts);
}
