// The design system: each ui/* partial's accessible markup (rendered through the real engine and
// the default theme), the helpers behind them, and the style-guide page that lists them all.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ViewEngine } from '../core/views/engine.ts';
import { fileKind, iconSvg, ICON_NAMES } from '../core/views/ui.ts';
import { seedDemo } from '../core/demo.ts';
import { setupOwner, startApp, type TestApp } from './helpers/app.ts';

const test = suite('design system');
const PW = 'demo-password-for-tests';
const dir = mkdtempSync(join(tmpdir(), 'atrium-ui-'));
let engine: ViewEngine;
let app: TestApp;
let n = 0;

/** Render a template string (it may call any ui/* partial) with a model. */
function render(template: string, model: Record<string, unknown> = {}): string {
  const name = `t${n++}`;
  writeFileSync(join(dir, `${name}.hbs`), template);
  return engine.render(`t/${name}`, { csrfToken: 'tok', ...model });
}

/** Every <td …> opening tag in the markup. */
const cells = (html: string) => html.match(/<td\b[^>]*>/g) ?? [];

test.before(async () => {
  engine = new ViewEngine({ themesRoot: join(process.cwd(), 'themes'), theme: 'default', cache: false });
  engine.registerNamespace('core', join(process.cwd(), 'core/views/templates'));
  engine.registerNamespace('t', dir);
  app = await startApp({ plugins: [] });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, PW);
});
test.after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('breadcrumb: a labelled nav with an ordered list; ancestors are links, the current page is aria-current and not a link', () => {
  const html = render('{{> ui/breadcrumb items=trail current="Signed <b>"}}', { trail: [{ label: 'Files', href: '/w/a/files/' }, { label: 'Contracts', href: '/w/a/files/folders/1' }] });
  assert.match(html, /<nav class="ui-breadcrumb" aria-label="Breadcrumb">\s*<ol>/);
  assert.match(html, '<li><a href="/w/a/files/">Files</a></li>');
  assert.match(html, '<li class="ui-breadcrumb-parent"><a href="/w/a/files/folders/1">Contracts</a></li>', 'the parent is the way up on a phone');
  assert.match(html, '<span aria-current="page">Signed &lt;b&gt;</span>', 'current page marked and escaped');
  assert.not.match(html, /<a[^>]*aria-current/);
});

test('table: a caption, column heads with scope, sortable heads with aria-sort, and data-cards for the phone card list', () => {
  const html = render(
    '{{#> ui/table caption="Clients" columns=(array (object label="Name" href="/x?sort=name" sort="ascending") (object label="Users" num=true) (object label="Actions" hidden=true))}}<tr><td class="cell-main" data-label="Name">A</td><td class="num" data-label="Users">2</td><td class="cell-actions" data-label="">…</td></tr>{{/ui/table}}',
  );
  assert.match(html, '<table class="table" data-cards>');
  assert.match(html, '<caption>Clients</caption>');
  assert.match(html, '<th scope="col" aria-sort="ascending"><a href="/x?sort&#x3D;name">Name</a></th>');
  assert.match(html, '<th scope="col" class="num">Users</th>');
  assert.match(html, '<th scope="col"><span class="visually-hidden">Actions</span></th>');
  assert.match(render('{{#> ui/table columns=(array "A") cards=false}}{{/ui/table}}'), '<table class="table">', 'cards=false keeps a table');
});

test('file browser: every list cell has a data-label, tick boxes are named, type icons are decorative; the grid is a labelled list of tiles', () => {
  const model = {
    folders: [{ name: 'Contracts', href: '/f/1', zip: '/f/1/zip', badges: [] }],
    files: [
      { id: 'a', name: 'Q1.pdf', href: '/f/a', download: '/f/a/download', size: '3 KiB', updatedAt: 1_700_000_000_000, badges: [{ text: 'Deliverable', tone: 'success' }] },
      { id: 'b', name: 'Budget.xlsx', href: '/f/b', download: '/f/b/download', size: '1 KiB', updatedAt: 1_700_000_000_000, badges: [] },
    ],
  };
  const list = render('{{> ui/file-browser view="list" caption="2 files" folders=folders files=files selectAction="/zip" sorts=false hxTarget=false folderColumn=false}}', model);
  const tds = cells(list);
  assert.ok(tds.length >= 10);
  for (const td of tds) assert.match(td, /data-label="[^"]*"/, `${td} has a data-label`);
  assert.match(list, '<input type="checkbox" name="ids" value="a" aria-label="Select Q1.pdf">');
  assert.match(list, /<svg class="ui-icon ui-icon-file ui-icon-pdf" viewBox="0 0 24 24" aria-hidden="true" focusable="false">/);
  assert.match(list, /ui-icon-sheet/);
  assert.match(list, '<span class="ui-badge ui-badge-success">Deliverable</span>');
  assert.match(list, /<form method="post" action="\/zip" class="ui-files"><input type="hidden" name="_csrf" value="tok">/);
  const grid = render('{{> ui/file-browser view="grid" caption="2 files" folders=folders files=files selectAction=false sorts=false hxTarget=false folderColumn=false}}', model);
  assert.match(grid, '<ul class="ui-files-grid" aria-labelledby="ui-files-caption">');
  assert.match(grid, '<p class="visually-hidden" id="ui-files-caption">2 files</p>');
  assert.is((grid.match(/<li class="ui-files-tile/g) ?? []).length, 3);
  assert.not.match(grid, /<form/, 'no zip form without selectAction');
});

test('dialog: without JavaScript a <details> whose panel is a plain POST form with the CSRF token and a visible submit; Cancel only for the modal', () => {
  const html = render('{{> ui/dialog id="trash" trigger="Move to trash" triggerTone="danger" title="Move it?" text="It can be restored." action="/f/1/delete" confirm="Move to trash" confirmTone="danger"}}');
  assert.match(html, /<details class="ui-dialog" data-ui-dialog id="trash">\s*<summary class="button button-danger">Move to trash<\/summary>/);
  assert.match(html, '<div class="ui-dialog-panel" role="group" aria-labelledby="trash-title">');
  assert.match(html, '<h2 class="ui-dialog-title" id="trash-title">Move it?</h2>');
  assert.match(html, /<form method="post" action="\/f\/1\/delete">\s*<input type="hidden" name="_csrf" value="tok">\s*<p>It can be restored.<\/p>/);
  assert.match(html, '<button type="submit" class="button button-danger">Move to trash</button>');
  assert.match(html, '<button type="button" class="button" data-ui-dialog-close hidden>Cancel</button>');
  assert.not.match(html, / open[ >]/, 'closed unless asked');
  const withForm = render('{{#> ui/dialog id="nf" trigger="New folder" title="New folder" open=errors}}<form method="post" action="/folders">{{> ui/dialog-actions submit="Create"}}</form>{{/ui/dialog}}', { errors: { name: 'Give the folder a name' } });
  assert.match(withForm, '<details class="ui-dialog" data-ui-dialog id="nf" open>', 'open when the form has errors');
  assert.match(withForm, '<button type="submit" class="button button-primary">Create</button>');
  const row = render('{{> ui/dialog id="revoke-7" trigger="Revoke" triggerHint="the invitation to a@b.example" triggerTone="quiet" triggerSize="small" title="Revoke it?" action="/i/7/revoke" confirm="Revoke" confirmTone="danger" text=false}}');
  assert.match(row, '<summary class="button button-quiet button-small">Revoke<span class="visually-hidden"> the invitation to a@b.example</span></summary>', 'a row trigger names its row to a screen reader');
});

test('fields: a label for the input; an error marks it invalid and is described by the message; hints are described too', () => {
  const html = render('{{> ui/field id="n" name="name" label="Name" value=v error=e hint="Up to 255 characters." required=true}}', { v: '<x>', e: 'Give it a name' });
  assert.match(html, '<label for="n">Name</label>');
  assert.match(html, '<input id="n" name="name" type="text" value="&lt;x&gt;" required aria-invalid="true" aria-describedby="n-hint n-error">');
  assert.match(html, '<p class="field-error" id="n-error" role="alert">Give it a name</p>');
  const ok = render('{{> ui/field id="m" name="m" label="M" value="" error=false hint=false}}');
  assert.not.match(ok, /aria-invalid|aria-describedby/);
  const select = render('{{> ui/select id="s" name="s" label="Pick" options=(array (object value="a" label="A") (object value="b" label="B" selected=true)) hint=false error=false}}');
  assert.match(select, '<label for="s">Pick</label>');
  assert.match(select, '<option value="b" selected>B</option>');
});

test('badges, toasts, pagination, key-value, timeline, tabs, empty state and disclosure render their accessible markup', () => {
  assert.match(render('{{> ui/badge text="Pending" tone="warning" pill=true icon=false}}'), '<span class="ui-badge ui-badge-warning ui-badge-status">Pending</span>');
  const toasts = render('{{> ui/toast items=flash}}', { flash: [{ kind: 'success', text: 'Saved' }, { kind: 'error', text: 'Failed' }] });
  assert.match(toasts, /<div class="ui-toast ui-toast-success" role="status">.*<p class="ui-toast-text">Saved<\/p>/s);
  assert.match(toasts, /<div class="ui-toast ui-toast-error" role="alert">/);
  assert.is(render('{{> ui/toast items=flash}}', { flash: [] }).trim(), '');
  const pages = render('{{> ui/pagination page=2 pages=3 prev="/p1" next="/p3" hxTarget="#list" label=false}}');
  assert.match(pages, '<nav class="pagination" aria-label="Pages">');
  assert.match(pages, /<a href="\/p1" rel="prev" hx-get="\/p1" hx-target="#list" hx-push-url="true">/);
  assert.match(pages, '<span class="ui-pagination-status" aria-current="page">Page 2 of 3</span>');
  assert.is(render('{{> ui/pagination page=1 pages=1 prev=false next=false}}').trim(), '', 'nothing when there is one page');
  const log = render('{{> ui/pagination pages=false prev="/new" next="/old" prevText="Newer events" nextText="Older events" firstHref="/top" firstText="Newest events" hxTarget="#r" label="Pages of the log"}}');
  assert.match(log, /<a href="\/top" hx-get="\/top" hx-target="#r" hx-push-url="true">Newest events<\/a>/, 'a cursor-paged list links back to its start');
  assert.match(log, /<a href="\/old" rel="next" hx-get="\/old" hx-target="#r" hx-push-url="true">Older events <svg/);
  assert.match(log, /rel="prev"[^>]*><svg[^>]*>.*<\/svg> Newer events<\/a>/s);
  assert.not.match(log, 'ui-pagination-status', 'no "Page x of y" without a page count');
  const kv = render('{{> ui/kv items=(array (object key="Size" value="3 KiB") (onlyIf false (object key="Never" value="x")) (object key="Folder" value="Top" href="/f"))}}');
  assert.match(kv, /<dl class="ui-kv">\s*<div><dt>Size<\/dt><dd>3 KiB<\/dd><\/div><div><dt>Folder<\/dt><dd><a href="\/f">Top<\/a><\/dd><\/div>/);
  assert.not.match(kv, 'Never');
  const tl = render('{{> ui/timeline items=events label="History"}}', { events: [{ text: 'Signed', at: 1_700_000_000_000, tone: 'success' }] });
  assert.match(tl, '<ol class="ui-timeline" aria-label="History">');
  assert.match(tl, '<time datetime="2023-11-14T22:13:20.000Z">');
  assert.match(tl, '<li class="is-success">');
  const tabs = render('{{> ui/tabs label="Views" items=items}}', { items: [{ label: 'Open', href: '/o', current: true, count: 2 }, { label: 'All', href: '/a' }] });
  assert.match(tabs, '<nav class="ui-tabs" aria-label="Views">');
  assert.match(tabs, '<a href="/o" aria-current="page">Open <span class="ui-counter">2</span></a>');
  const empty = render('{{#> ui/empty icon="folder" title="Nothing yet" text="Files will appear here."}}<a class="button" href="/new">New</a>{{/ui/empty}}');
  assert.match(empty, /<div class="empty-state ui-empty">\s*<svg class="ui-icon ui-icon-folder ui-icon-xl"/);
  assert.match(empty, '<div class="ui-actions"><a class="button" href="/new">New</a></div>');
  const details = render('{{#> ui/details title="More" open=true}}<p>Body</p>{{/ui/details}}');
  assert.match(details, /<details class="ui-details" open>\s*<summary><span>More<\/span><\/summary>\s*<div class="ui-details-body"><p>Body<\/p><\/div>/);
});

test('page header: one heading, badges, a lede and the actions block', () => {
  const html = render('{{#> ui/page-header title="Contracts" lede="Shared with Acme." badges=(array (object text="Internal" tone="warning"))}}<a class="button" href="/x">Go</a>{{/ui/page-header}}');
  assert.match(html, '<h1 class="page-header-h">Contracts</h1>');
  assert.match(html, '<span class="ui-badge ui-badge-warning">Internal</span>');
  assert.match(html, '<p class="lede">Shared with Acme.</p>');
  assert.match(html, '<div class="page-header-actions"><a class="button" href="/x">Go</a></div>');
  assert.not.match(render('{{> ui/page-header title="T" badges=false}}'), 'page-header-actions', 'no empty actions box');
});

test('a component’s block is rendered once, with the page’s data, and its wrapper only when it printed something', () => {
  // A block that starts with a block helper (the `if` helper used to call the block and get '').
  const opts = render('{{#> ui/drop-zone id="f" name="files" label="Drop" optionsShown=staff}}{{#if staff}}<p>staff only</p>{{/if}}{{/ui/drop-zone}}', { staff: true });
  assert.match(opts, '<div class="ui-drop-options"><p>staff only</p></div>');
  const none = render('{{#> ui/page-header title="T" badges=false}}{{#if canCreate}}<a href="/new">New</a>{{/if}}{{/ui/page-header}}', { canCreate: false });
  assert.not.match(none, 'page-header-actions', 'no empty actions box when the block prints nothing');
  const nested = render('{{#> ui/page-header title="T" badges=false}}<a href="/a">A</a>{{> ui/dialog id="d" trigger="X" title="Y" action="/del" confirm="Delete" text=false}}{{/ui/page-header}}');
  assert.is((nested.match(/href="\/a"/g) ?? []).length, 1, 'a dialog without a block does not repeat the outer block');
  const rows = render('{{#each rows}}{{#> ui/empty title="T" compact=true}}{{#if open}}<a href="/x">{{n}}</a>{{/if}}{{/ui/empty}}{{/each}}', { rows: [{ n: 'r1', open: true }, { n: 'r2', open: false }] });
  assert.match(rows, '<div class="ui-actions"><a href="/x">r1</a></div>', 'the row’s fields reach the block');
  assert.not.match(rows, 'r2');
});

test('icons: decorative unless labelled; unknown names draw nothing; file kinds come from the extension, then the content type', () => {
  assert.match(iconSvg('download'), 'aria-hidden="true"');
  assert.match(iconSvg('lock', { label: 'Internal "x"' }), 'role="img" aria-label="Internal &quot;x&quot;"');
  assert.is(iconSvg('nope'), '');
  for (const name of ICON_NAMES) assert.match(iconSvg(name), /^<svg class="ui-icon[^"]*" viewBox="0 0 24 24" aria-hidden="true" focusable="false">.+<\/svg>$/);
  assert.is(fileKind('Q1.PDF'), 'pdf');
  assert.is(fileKind('Budget.csv'), 'sheet');
  assert.is(fileKind('photo.heic'), 'image');
  assert.is(fileKind('noext', 'application/pdf'), 'pdf');
  assert.is(fileKind('archive.tar.gz'), 'zip');
  assert.is(fileKind('strange.bin', 'application/octet-stream'), 'generic');
  assert.match(render('{{> ui/icon name=(fileKind "a.docx")}}'), 'ui-icon-doc');
});

test('the components follow the CSP: no inline style, no handlers, no inline script, no triple-stash', () => {
  const partials = join(process.cwd(), 'core/views/ui/partials');
  for (const f of [...readdirSync(partials).map((p) => join(partials, p)), join(process.cwd(), 'core/views/ui/style-guide.hbs')]) {
    const src = readFileSync(f, 'utf8');
    assert.not.match(src, /\sstyle=|<style|\son[a-z]+=|hx-on|\{\{\{|<script(?![^>]*\bsrc=)/i, f);
  }
});

test('the style guide lists every component with an example, for admins only', async () => {
  const owner = app.client();
  assert.is((await owner.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 303);
  const page = await owner.get('/admin/style-guide');
  assert.is(page.status, 200);
  for (const partial of readdirSync(join(process.cwd(), 'core/views/ui/partials')).map((f) => f.replace(/\.hbs$/, ''))) {
    if (partial === 'dialog-actions') continue; // shown inside the dialog's example
    assert.match(page.text, `ui/${partial}`, `the style guide names ui/${partial}`);
  }
  for (const id of ['tokens', 'page-header', 'breadcrumb', 'tabs', 'buttons', 'badge', 'card', 'empty', 'table', 'pagination', 'filter-bar', 'details', 'dialog', 'fields', 'toast', 'kv', 'timeline', 'icons', 'drop-zone', 'file-browser', 'layout']) {
    assert.match(page.text, `<section class="ui-guide" id="${id}"`, `section ${id}`);
    assert.match(page.text, `<a href="#${id}">`, `contents link to ${id}`);
  }
  assert.match(page.text, 'href="/assets/core/components.css?v=', 'the kernel stylesheet is linked');
  assert.match(page.text, /<a href="\/admin\/style-guide" aria-current="page">Style guide<\/a>/, 'in the admin menu');
  assert.is((await app.client().get('/assets/core/components.css')).status, 200);
  assert.is((await app.client().get('/assets/core/ui.js')).status, 200);

  const staff = app.client();
  assert.is((await staff.login('sam.staff@firm.example', PW)).status, 303);
  assert.is((await staff.get('/admin/style-guide')).status, 404, 'staff without the admin area');
  const client = app.client();
  assert.is((await client.login('ada@northwind.example', PW)).status, 303);
  assert.is((await client.get('/admin/style-guide')).status, 404, 'a client');
});

test.run();
