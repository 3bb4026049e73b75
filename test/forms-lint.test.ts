// Every free-text field of every plugin form and of the kernel's forms goes through the kernel's
// text validators, and every download is named by the kernel (docs/plugins.md, "Rules for
// untrusted input"). The lint lives in test/kit/free-text.ts; this proves it runs clean on the
// product and catches what it exists to catch.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatFindings, lintFiles, lintSource, views } from './kit/free-text.ts';

const test = suite('free-text lint');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where forms live: every plugin, the kernel's HTTP routes, and the kernel's shared form schemas. */
const SCANNED = ['plugins', 'core/http', 'core/identity', 'core/settings.ts'];

test('no plugin or kernel form takes free text through a bare z.string(), and no download is named by hand', () => {
  const findings = lintFiles(ROOT, SCANNED);
  assert.is(findings.length, 0, `\n${formatFindings(findings)}`);
});

test('the lint flags each bad field of a fixture form, with its line, and nothing else', () => {
  const file = 'test/fixtures/free-text/bad-form.ts';
  const src = readFileSync(new URL(`./fixtures/free-text/bad-form.ts`, import.meta.url), 'utf8');
  const expected = src.split('\n').flatMap((l, i) => (/\/\/ flagged\b/.test(l) ? [i + 1] : []));
  assert.ok(expected.length >= 8);
  const found = lintSource(file, src);
  assert.equal(found.map((f) => f.line), expected, `\n${formatFindings(found)}`);
  assert.ok(found.every((f) => f.file === file));
});

test('putting the old approval title back would fail the suite, at its line', () => {
  const src = readFileSync(new URL('../plugins/approvals/forms.ts', import.meta.url), 'utf8');
  const line = src.split('\n').findIndex((l) => l.includes('title: singleLine(')) + 1;
  assert.ok(line > 0);
  const old = src.replace(/title: singleLine\([^)]*\)/, "title: z.string().trim().min(1, 'Give the request a title').max(200, 'Use at most 200 characters')");
  assert.equal(lintSource('plugins/approvals/forms.ts', old), [{ file: 'plugins/approvals/forms.ts', line, message: lintSource('x', 'z.string()')[0]!.message }]);
});

test('comments, strings, templates and regex literals are not code to the lint', () => {
  const src = "const a = `x ${b('(')} y`; // z.string()\nconst r = /[/(]/g; /* z.string() */ const s = ')';\n";
  const { code, skeleton } = views(src);
  assert.is(code.length, src.length);
  assert.is(skeleton.split('\n').length, src.split('\n').length);
  assert.not.match(code, 'z.string');
  for (const literal of ["'('", "')'", '[/(]']) assert.not.match(skeleton, literal);
  assert.is(lintSource('x.ts', src).length, 0);
});

test.run();
