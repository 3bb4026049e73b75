// The kernel's name rule (core/names.ts): names of files, folders, downloads and zip entries read
// as what they are (no bidi tricks, no invisible characters), extract safely on Windows, and never
// break a header.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { contentDisposition, nameField, normaliseName, safeName, zipEntryName } from '../core/names.ts';

const test = suite('safe names');

test('bidi controls and zero-width characters are removed: the name is the one it really has', () => {
  assert.is(safeName('rtl-invoice\u202efdp.txt'), 'rtl-invoicefdp.txt');
  for (const c of ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c']) assert.is(safeName(`a${c}b.pdf`), 'ab.pdf', `U+${c.charCodeAt(0).toString(16)}`);
  for (const c of ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e']) assert.is(safeName(`a${c}b.pdf`), 'ab.pdf', `U+${c.charCodeAt(0).toString(16)}`);
});

test('NFC, controls removed, whitespace folded, no leading dot, slashes become "_"', () => {
  assert.is(safeName('Re\u0301sume\u0301.pdf'), 'R\u00e9sum\u00e9.pdf');
  assert.is(safeName('evil"\r\nSet-Cookie: x=1.txt'), 'evil"Set-Cookie: x=1.txt');
  assert.is(safeName('  two   spaces\u00a0 .txt '), 'two spaces .txt');
  assert.is(safeName('..\\..\\etc/passwd'), '_.._etc_passwd');
  assert.is(safeName('.htaccess'), 'htaccess');
  assert.is(normaliseName('\u202e\u200b . '), '');
});

test('never empty and at most 255 bytes, keeping the extension', () => {
  assert.is(safeName(''), 'download');
  assert.is(safeName('\u202e', 'file'), 'file');
  const long = safeName(`${'é'.repeat(300)}.pdf`);
  assert.ok(Buffer.byteLength(long) <= 255);
  assert.ok(long.endsWith('é.pdf'), long.slice(-10));
  assert.not.match(long, '\ufffd');
});

test('contentDisposition: an ASCII filename and the exact name in filename*, never a broken header', () => {
  assert.is(contentDisposition('Q3 report.pdf'), 'attachment; filename="Q3 report.pdf"; filename*=UTF-8\'\'Q3%20report.pdf');
  assert.is(contentDisposition('été 100%.txt', 'inline'), 'inline; filename="ete 100_.txt"; filename*=UTF-8\'\'%C3%A9t%C3%A9%20100%25.txt');
  const rtl = contentDisposition('rtl-invoice\u202efdp.txt');
  assert.is(rtl, 'attachment; filename="rtl-invoicefdp.txt"; filename*=UTF-8\'\'rtl-invoicefdp.txt');
  const evil = contentDisposition('a"b\\c\r\nSet-Cookie: x=1;\u200b.txt');
  assert.not.match(evil, /[\r\n]/);
  assert.is(evil.match(/"/g)!.length, 2, evil);
  assert.not.match(decodeURIComponent(evil.split("''")[1]!), /[\u200b\r\n]/);
  assert.is(contentDisposition(''), 'attachment; filename="download"; filename*=UTF-8\'\'download');
});

test('zipEntryName: Windows device names, reserved characters and trailing dots or spaces', () => {
  for (const [raw, safe] of [
    ['CON.txt', '_CON.txt'],
    ['con', '_con'],
    ['nul.tar.gz', '_nul.tar.gz'],
    ['Aux', '_Aux'],
    ['PRN.pdf', '_PRN.pdf'],
    ['COM1.log', '_COM1.log'],
    ['lpt9', '_lpt9'],
    ['COM\u00b9.txt', '_COM\u00b9.txt'],
    ['NUL .txt', '_NUL .txt'],
    ['CONSOLE.txt', 'CONSOLE.txt'],
    ['icon.png', 'icon.png'],
    ['a<b>:c"d|e?f*.txt', 'a_b__c_d_e_f_.txt'],
    ['report. . ', 'report'],
    ['..', '_'],
    ['.', '_'],
    ['', '_'],
    ['rtl-invoice\u202efdp.txt', 'rtl-invoicefdp.txt'],
    ['zero\u200bwidth.pdf', 'zerowidth.pdf'],
    ['a/b\\c', 'a_b_c'],
  ] as const) assert.is(zipEntryName(raw), safe, JSON.stringify(raw));
});

test('nameField: slashes and controls refused beside the field; bidi and zero-width removed', () => {
  const f = nameField({ required: 'Give the folder a name' });
  const parse = (v: unknown) => f.safeParse(v);
  assert.is(parse('a/b').error!.issues[0]!.message, 'Names cannot contain slashes or control characters, or start with a dot');
  assert.is(parse('a\nb').error!.issues[0]!.message, 'Names cannot contain slashes or control characters, or start with a dot');
  assert.is(parse('.hidden').error!.issues[0]!.message, 'Names cannot contain slashes or control characters, or start with a dot');
  assert.is(parse(' \u200b ').error!.issues[0]!.message, 'Give the folder a name');
  assert.is(parse('x'.repeat(256)).error!.issues[0]!.message, 'Use at most 255 bytes');
  assert.is(parse('Invoices\u202e2024').data, 'Invoices2024');
  assert.is(parse(' Q3\u00a0\u00a0reports\u200d ').data, 'Q3 reports');
  // What the field keeps is already what safeName serves: no second change on the way out.
  for (const v of ['Q3 reports', 'R\u00e9sum\u00e9s', 'a"b']) assert.is(safeName(parse(v).data!), parse(v).data);
});

test.run();
