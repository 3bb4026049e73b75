// Mail bodies: Handlebars templates in the firm's branding, a plain-text part, escaping, and a
// theme that overrides the layout.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderMail, useMailTheme } from '../../core/mail/templates.ts';

const test = suite('mail templates');
const brand = { firmName: 'Harbor & Vale', primary: '#0b3d2e', accent: '#8a1c4a' };

test('the HTML part carries the branding and escapes content; the text part is plain', () => {
  useMailTheme([]);
  const m = renderMail({ brand, greeting: 'Hello <Ada>,', paragraphs: ['Your file "Q3 & Q4" is ready.'], action: { label: 'Open', url: 'https://portal.example/w/acme/' }, signature: brand.firmName });
  assert.match(m.html, 'background:#0b3d2e');
  assert.match(m.html, 'Harbor &amp; Vale');
  assert.match(m.html, 'Hello &lt;Ada&gt;,');
  assert.not.match(m.html, '<Ada>');
  assert.match(m.text, 'Hello <Ada>,');
  assert.match(m.text, 'Your file "Q3 & Q4" is ready.');
  assert.match(m.text, 'Open:\nhttps://portal.example/w/acme/');
  assert.match(m.text, '— Harbor & Vale');
  assert.not.match(m.text, '&amp;');
});

test('a javascript: link never becomes a button', () => {
  const m = renderMail({ brand, greeting: 'Hi', paragraphs: [], action: { label: 'Click', url: 'javascript:alert(1)' }, signature: 'x' });
  assert.not.match(m.html, 'javascript:');
  assert.not.match(m.text, 'javascript:');
});

test('a theme overrides the mail layout by path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atrium-mailtheme-'));
  mkdirSync(join(dir, 'mail'));
  writeFileSync(join(dir, 'mail', 'message.html.hbs'), '<p class="ledger">{{brand.firmName}}: {{greeting}}</p>');
  useMailTheme([dir]);
  try {
    const m = renderMail({ brand, greeting: 'Hello', paragraphs: ['x'], signature: 'y' });
    assert.is(m.html, '<p class="ledger">Harbor &amp; Vale: Hello</p>');
    assert.match(m.text, 'Hello', 'the text part falls back to the kernel template');
  } finally {
    useMailTheme([]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
