// The guard for "Rules for untrusted input" (docs/plugins.md): a lint over the source of every
// plugin and of the kernel's forms. Each `z.string()` must either carry a format check in its own
// chain (regex, email, uuid, url, an ISO date...) or be marked `// not free text: <why>` on its
// line or alone on the line above; free text uses the kernel's `singleLine` / `multiLine` / `nameField`,
// which are not `z.string()` and so are never flagged. A Content-Disposition header must be built
// by the kernel's `contentDisposition`. Plugins can run it on their own folders from their tests.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Finding {
  file: string;
  line: number;
  message: string;
}

/** zod's own string formats: a field with one of these in its chain is not free text. */
const FORMATS = new Set(['regex', 'email', 'uuid', 'guid', 'url', 'httpUrl', 'hostname', 'ulid', 'cuid', 'cuid2', 'nanoid', 'ipv4', 'ipv6', 'cidrv4', 'cidrv6', 'base64', 'base64url', 'hex', 'e164', 'jwt', 'datetime', 'date', 'time', 'duration']);
const FORMAT_PIPE = /^\s*z\s*\.\s*(?:email|uuid|guid|url|httpUrl|ulid|cuid2?|nanoid|ipv[46]|cidrv[46]|base64(?:url)?|hex|e164|jwt|iso\s*\.\s*\w+)\s*\(/;
const EXEMPT = /\/[/*].*\bnot free text:\s*\S.{2,}/;
const ZOD_STRING = /\bz\s*\.\s*(?:coerce\s*\.\s*)?string\s*\(/g;
const REGEX_AFTER_WORD = /(?:^|[^\w$])(?:return|typeof|case|else|in|of|void|yield|await|do|delete|throw)\s*$/;

/**
 * Two views of a source, the same length and line breaks as the original: `code` with comments
 * blanked, and `skeleton` with the insides of strings, templates and regex literals blanked too
 * (so brackets in a message or a pattern do not count).
 */
export function views(src: string): { code: string; skeleton: string } {
  const code = src.split('');
  const skeleton = src.split('');
  const blank = (arr: string[], a: number, b: number) => {
    for (let k = a; k < b; k++) if (arr[k] !== '\n') arr[k] = ' ';
  };
  const templateDepths: number[] = [];
  let depth = 0;
  let i = 0;
  let prev = ''; // the last significant character of code
  const template = () => {
    const start = i;
    while (i < src.length) {
      if (src[i] === '\\') i += 2;
      else if (src[i] === '`') {
        blank(skeleton, start, i);
        i++;
        prev = ')';
        return;
      } else if (src[i] === '$' && src[i + 1] === '{') {
        blank(skeleton, start, i);
        i += 2;
        templateDepths.push(depth);
        depth++;
        prev = '{';
        return;
      } else i++;
    }
    blank(skeleton, start, i);
  };
  while (i < src.length) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      blank(code, i, stop);
      blank(skeleton, i, stop);
      i = stop;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      blank(code, i, stop);
      blank(skeleton, i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < src.length && src[i] !== c && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
      blank(skeleton, start, i);
      i++;
      prev = ')';
    } else if (c === '`') {
      i++;
      template();
    } else if (c === '{') {
      depth++;
      i++;
      prev = c;
    } else if (c === '}') {
      depth--;
      i++;
      if (templateDepths.length && templateDepths[templateDepths.length - 1] === depth) {
        templateDepths.pop();
        template();
      } else prev = c;
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev) || (/[\w$]/.test(prev) && REGEX_AFTER_WORD.test(src.slice(Math.max(0, i - 20), i))))) {
      const start = ++i;
      let inClass = false;
      while (i < src.length && src[i] !== '\n') {
        const ch = src[i];
        if (ch === '\\') i += 2;
        else if (ch === '/' && !inClass) break;
        else {
          if (ch === '[') inClass = true;
          else if (ch === ']') inClass = false;
          i++;
        }
      }
      blank(skeleton, start, i);
      i++;
      while (i < src.length && /[a-z]/i.test(src[i]!)) i++;
      prev = ')';
    } else {
      if (!/\s/.test(c)) prev = c;
      i++;
    }
  }
  return { code: code.join(''), skeleton: skeleton.join('') };
}

/** The index just after the bracket that closes the one at `open`. */
function closeOf(s: string, open: number): number {
  const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  const stack: string[] = [];
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (pairs[c]) stack.push(pairs[c]!);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.pop() !== c) return i + 1;
      if (!stack.length) return i + 1;
    }
  }
  return s.length;
}

/** The methods chained after the call whose `(` is at `open`: `.trim().max(200)` -> trim, max. */
function chain(s: string, open: number): Array<{ name: string; args: string }> {
  const out: Array<{ name: string; args: string }> = [];
  let i = closeOf(s, open);
  for (;;) {
    let j = i;
    while (/\s/.test(s[j] ?? '')) j++;
    if (s[j] === '?' && s[j + 1] === '.') j++;
    if (s[j] !== '.') return out;
    j++;
    while (/\s/.test(s[j] ?? '')) j++;
    const m = /^[A-Za-z_$][\w$]*/.exec(s.slice(j, j + 64));
    if (!m) return out;
    j += m[0].length;
    while (/\s/.test(s[j] ?? '')) j++;
    let args = '';
    if (s[j] === '(') {
      const end = closeOf(s, j);
      args = s.slice(j + 1, end - 1);
      j = end;
    }
    out.push({ name: m[0], args });
    i = j;
  }
}

/** Lint one source; `file` is only used in the findings. */
export function lintSource(file: string, src: string): Finding[] {
  const { code, skeleton } = views(src);
  const lines = src.split('\n');
  const codeLines = code.split('\n');
  const lineAt = (index: number) => src.slice(0, index).split('\n').length;
  // The mark sits on the field's own line, or alone on the line above it (not at the end of the
  // previous field's line: that one is about the previous field).
  const exempt = (line: number) => EXEMPT.test(lines[line - 1] ?? '') || (/^\s*(?:\/\/|\/\*)/.test(lines[line - 2] ?? '') && EXEMPT.test(lines[line - 2] ?? ''));
  const findings: Finding[] = [];
  for (const m of skeleton.matchAll(ZOD_STRING)) {
    const line = lineAt(m.index);
    if (exempt(line)) continue;
    const methods = chain(skeleton, m.index + m[0].length - 1);
    const formatted = methods.some((x) => FORMATS.has(x.name) || (x.name === 'pipe' && FORMAT_PIPE.test(x.args)));
    if (!formatted) findings.push({ file, line, message: 'free text through a bare z.string(): use singleLine/multiLine/nameField from the kernel, add a format check, or mark it "// not free text: <why>"' });
  }
  codeLines.forEach((text, k) => {
    const line = k + 1;
    const handBuilt = (/content-disposition/i.test(text) && !/\bcontentDisposition\s*\(/.test(text)) || /\bres\s*\.\s*(?:attachment|download)\s*\(/.test(text);
    if (handBuilt && !exempt(line)) findings.push({ file, line, message: 'a download named by hand: set Content-Disposition with the kernel\'s contentDisposition(name)' });
  });
  return findings;
}

/** Every .ts/.js/.mjs file under `paths` (files or folders), skipping node_modules and views. */
export function sourceFiles(root: string, paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) {
      for (const e of readdirSync(p)) if (e !== 'node_modules' && e !== 'views') walk(join(p, e));
    } else if (/\.(?:ts|mts|js|mjs)$/.test(p)) out.push(p);
  };
  for (const p of paths) walk(join(root, p));
  return out.sort();
}

/** Lint files; findings name each file relative to `root`. */
export function lintFiles(root: string, paths: string[]): Finding[] {
  return sourceFiles(root, paths).flatMap((f) => lintSource(relative(root, f), readFileSync(f, 'utf8')));
}

export const formatFindings = (fs: Finding[]) => fs.map((f) => `${f.file}:${f.line}: ${f.message}`).join('\n');
