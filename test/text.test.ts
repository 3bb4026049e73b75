// The kernel's text validators (core/text.ts): what a single-line or multi-line field keeps,
// refuses with a message a person understands, and removes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { fieldErrors } from '../core/http/forms.ts';
import { multiLine, singleLine } from '../core/text.ts';

const test = suite('text validators');

const ok = (schema: z.ZodType, input: unknown) => {
  const r = schema.safeParse(input);
  if (!r.success) throw new Error(`refused ${JSON.stringify(input)}: ${r.error.issues[0]?.message}`);
  return r.data;
};
const refused = (schema: z.ZodType, input: unknown) => {
  const r = schema.safeParse(input);
  assert.not.ok(r.success, `accepted ${JSON.stringify(input)}`);
  return r.error!.issues[0]!.message;
};

test('single line: a line break of any kind is refused with a message for the field', () => {
  const title = singleLine({ max: 200, min: 1, required: 'Give the request a title' });
  for (const s of ['Approve\nthis', 'Approve\r\nthis', 'Approve\rthis', 'A\u2028B', 'A\u2029B', 'A\u0085B']) assert.is(refused(title, s), 'Use one line, without line breaks', JSON.stringify(s));
  assert.equal(fieldErrors(z.strictObject({ title }).safeParse({ title: 'a\nb' }).error!), { title: 'Use one line, without line breaks' });
});

test('single line: controls, DEL, C1 and lone surrogates are refused; bidi overrides and isolates too', () => {
  const f = singleLine({ max: 50 });
  for (const s of ['a\u0000b', 'a\u0007', 'a\u001bb', 'a\u007fb', 'a\u0090b', 'a\u000bb', 'a\u000cb', 'a\ud800b']) assert.is(refused(f, s), 'Remove the invisible control characters', JSON.stringify(s));
  for (const s of ['invoice\u202efdp.exe', 'a\u202ab', 'a\u202db', 'a\u2066b\u2069', 'a\u2067b', 'a\u2068b']) assert.is(refused(f, s), 'Remove the characters that change the direction of the text', JSON.stringify(s));
});

test('single line: NFC, invisible characters removed, whitespace folded and trimmed', () => {
  const f = singleLine({ max: 50 });
  assert.is(ok(f, 'Caf\u0065\u0301'), 'Caf\u00e9');
  assert.is(ok(f, '  Q3 \t report\u00a0\u00a0 final  '), 'Q3 report final');
  assert.is(ok(f, 'zero\u200bwidth\u2060joined\ufeff\u00adsoft'), 'zerowidthjoinedsoft');
  assert.is(ok(f, 'a\u200fb\u200e'), 'ab', 'bidi marks are invisible: removed');
  assert.is(ok(f, 'می\u200cخواهم'), 'می\u200cخواهم', 'ZWNJ is kept in text (Persian needs it)');
  assert.is(ok(f, '👩\u200d💻'), '👩\u200d💻', 'ZWJ is kept in text (emoji sequences)');
  assert.is(ok(f, ''), '');
});

test('single line: bounds count characters after normalising; required has its own message', () => {
  const f = singleLine({ max: 5, min: 1, required: 'Give it a title' });
  assert.is(refused(f, ''), 'Give it a title');
  assert.is(refused(f, ' \u200b '), 'Give it a title', 'only invisible characters is empty');
  assert.is(refused(f, 'abcdef'), 'Use at most 5 characters');
  assert.is(ok(f, '  abcde   '), 'abcde');
  assert.is(ok(f, '😀😀😀😀😀'), '😀😀😀😀😀', 'five characters, ten UTF-16 units');
  assert.is(refused(singleLine({ max: 2000 }), 'x'.repeat(2001)), 'Use at most 2,000 characters');
  assert.is(refused(singleLine({ max: 10, min: 3 }), 'ab'), 'Use at least 3 characters');
  assert.is(refused(f, 42), 'Enter text');
  assert.is(refused(f, ' '.repeat(100_000)), 'Use at most 5 characters', 'a huge input is refused before it is normalised');
});

test('single line: optional and default work as with any zod string', () => {
  const form = z.strictObject({ reason: singleLine({ max: 500 }).optional().default('') });
  assert.equal(ok(form, {}), { reason: '' });
  assert.equal(ok(form, { reason: ' late  ' }), { reason: 'late' });
});

test('multi line: CRLF and CR become LF; tab and LF are the only controls kept', () => {
  const f = multiLine({ max: 100 });
  assert.is(ok(f, 'one\r\ntwo\rthree\u2028four\u0085five'), 'one\ntwo\nthree\nfour\nfive');
  assert.is(ok(f, '\n\n  indented\tcolumn   \n\n\nend  \n\n'), '  indented\tcolumn\n\n\nend');
  for (const s of ['a\u0000', 'a\u0008b', 'a\u001bb', 'a\u009bb']) assert.is(refused(f, s), 'Remove the invisible control characters', JSON.stringify(s));
  assert.is(refused(f, 'pay to\u202e1234'), 'Remove the characters that change the direction of the text');
  assert.is(ok(f, 'a\u200bb\nc\ufeff'), 'ab\nc');
});

test('multi line: bounds in characters, required message', () => {
  const f = multiLine({ max: 4, min: 1, required: 'Tell us why' });
  assert.is(refused(f, '\n \n'), 'Tell us why');
  assert.is(ok(f, 'a\r\nb\r\n'), 'a\nb');
  assert.is(refused(f, 'abcde'), 'Use at most 4 characters');
});

test.run();
