// Message bodies: Markdown through markdown-it (raw HTML off) and an allow-list sanitiser.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findMentions, renderMessage } from '../../../plugins/messaging/markdown.ts';

const test = suite('messaging: Markdown and mentions');

test('no raw HTML, script or event handler reaches the page', () => {
  const html = renderMessage('<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a> <iframe src="https://e.example"></iframe>');
  assert.not.match(html, '<script');
  assert.not.match(html, '<img');
  assert.not.match(html, '<iframe');
  assert.not.match(html, /<a [^>]*javascript:/);
  assert.match(html, '&lt;script&gt;');
});

test('links: http(s) and mailto only, with rel="noopener noreferrer"; images are not loaded', () => {
  const html = renderMessage('[site](https://harbor.example/a?b=1) [bad](javascript:alert(1)) [data](data:text/html,x) [write](mailto:mail@harbor.example) ![pixel](https://tracker.example/p.gif)');
  assert.match(html, '<a href="https://harbor.example/a?b=1" rel="noopener noreferrer" target="_blank">site</a>');
  assert.not.match(html, 'javascript:alert(1)"');
  assert.not.match(html, 'href="data:');
  assert.match(html, 'href="mailto:mail@harbor.example"');
  assert.not.match(html, '<img');
});

test('Markdown formatting is kept; headings become sub-headings', () => {
  const html = renderMessage('# Title\n\n**bold** *it* `code`\n\n- one\n- two\n\n> quoted');
  assert.match(html, '<h3>Title</h3>');
  assert.match(html, '<strong>bold</strong>');
  assert.match(html, '<em>it</em>');
  assert.match(html, '<code>code</code>');
  assert.match(html, '<li>one</li>');
  assert.match(html, '<blockquote>');
});

test('mentions match readers only, longest name first, and are wrapped once', () => {
  const readers = [
    { id: '1', name: 'Ada Lindqvist' },
    { id: '2', name: 'Ada Byron' },
    { id: '3', name: 'Ben Ortiz' },
  ];
  const m = findMentions('Hi @Ada Lindqvist, @ben and @Carol; email ada@x.example', readers);
  assert.equal(m.map((r) => r.id).sort(), ['1', '3']);
  assert.equal(findMentions('@Ada', readers), [], 'an ambiguous first name mentions no one');
  const html = renderMessage('Hi @Ada Lindqvist', [readers[0]!]);
  assert.is(html, '<p>Hi <span class="mention">@Ada Lindqvist</span></p>\n');
  assert.not.match(renderMessage('<b>@Ada Lindqvist</b>', [readers[0]!]), '<b>', 'escaped markup stays text');
});

test.run();
