// The files plugin's pages on the kernel's components: a real breadcrumb, a list whose cells
// carry data-label (cards on a phone), a grid view that survives sorting, badges instead of plain
// words, and forms in dialogs that still post without JavaScript.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { filesWorld, upload, pdf, fileIdByName, type FilesWorld } from './helpers.ts';

const test = suite('files pages');
let w: FilesWorld;
let folderId: string;

/** Handlebars escapes = in attributes; undo it to follow links out of the HTML. */
const unescape = (s: string) => s.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');

/** The <details> of a ui/dialog, by its id. */
function dialog(html: string, id: string): string {
  const start = html.indexOf(`data-ui-dialog id="${id}"`);
  assert.ok(start > 0, `dialog ${id} on the page`);
  return html.slice(start, html.indexOf('</details>', start));
}

test.before(async () => {
  w = await filesWorld();
  const made = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Contracts', parent: '', area: 'shared', client_access: 'upload' });
  folderId = /\/folders\/([^/?]+)/.exec(made.location ?? '')![1]!;
  const sub = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Signed', parent: folderId, area: 'shared', client_access: 'view' });
  assert.is(sub.status, 303);
  assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [{ name: 'Engagement letter.pdf', data: pdf('letter') }], { area: 'shared', deliverable: 'yes' })).status, 200);
  assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [{ name: 'Budget.csv', data: 'a,b\n1,2\n' }], { area: 'shared' })).status, 200);
});
test.after(async () => {
  await w.app.close();
});

test('a folder page: a breadcrumb with the current folder marked, the folder tree, badges, and a list that becomes cards', async () => {
  const subId = String((await w.app.kernel.db('files_folders').where({ workspace_id: w.ws.id, name: 'Signed' }).first('id')).id);
  const page = await w.as.staff.get(`${w.base}/folders/${subId}`);
  assert.is(page.status, 200);
  assert.match(page.text, /<nav class="ui-breadcrumb" aria-label="Breadcrumb">\s*<ol>\s*<li><a href="\/w\/acme\/files\/">Files<\/a><\/li><li class="ui-breadcrumb-parent"><a href="\/w\/acme\/files\/folders\/[^"]+">Contracts<\/a><\/li>\s*<li><span aria-current="page">Signed<\/span><\/li>/);
  assert.match(page.text, /<nav aria-label="Folders">/);
  assert.match(page.text, /<a href="\/w\/acme\/files\/folders\/[^"]+" aria-current="page"><svg[^>]*>(?:(?!<\/a>)[\s\S])*<\/svg><span>Signed<\/span><\/a>/, 'the tree marks the current folder');

  const contracts = await w.as.client_member.get(`${w.base}/folders/${folderId}`);
  assert.match(contracts.text, '<table class="table ui-files-table" data-cards>');
  const tds = contracts.text.match(/<td\b[^>]*>/g) ?? [];
  assert.ok(tds.length >= 12, 'a folder and two files');
  for (const td of tds) assert.match(td, /data-label="[^"]*"/, `${td} has a data-label`);
  assert.match(contracts.text, /<a href="\/w\/acme\/files\/f\/[^"]+">Engagement letter.pdf<\/a> <span class="ui-badge ui-badge-success">Deliverable<\/span>/);
  assert.match(contracts.text, 'ui-icon-pdf');
  assert.match(contracts.text, 'ui-icon-sheet', 'a CSV has the spreadsheet icon');
  assert.not.match(contracts.text, '📁', 'no emoji folder');
  assert.match(contracts.text, 'data-ui-drop', 'a client who may upload gets the drop zone');
  assert.not.match(contracts.text, 'id="folder-settings"', 'folder settings are for staff');
});

test('the grid view is a query parameter that sorting, paging and the htmx list keep', async () => {
  const grid = await w.as.client_member.get(`${w.base}/folders/${folderId}?view=grid`);
  assert.is(grid.status, 200);
  assert.match(grid.text, '<ul class="ui-files-grid"');
  assert.match(grid.text, /<nav class="ui-view-switch" aria-label="Show files as">/);
  assert.match(grid.text, /<a href="[^"]*view&#x3D;grid[^"]*" aria-current="page">/);
  assert.match(grid.text, /<input type="hidden" name="view" value="grid">/, 'the search keeps the view without JavaScript');
  const fragment = await w.as.client_member.get(`${w.base}/folders/${folderId}?view=grid&sort=size&dir=desc`, { 'HX-Request': 'true', 'HX-Target': 'file-list' });
  assert.match(fragment.text, '<ul class="ui-files-grid"');
  assert.not.match(fragment.text, '<html');
  const list = await w.as.client_member.get(`${w.base}/folders/${folderId}?sort=size`);
  assert.match(list.text, '<table class="table ui-files-table" data-cards>');
  const sortHref = unescape(/<th scope="col" aria-sort="[a-z]+"><a href="([^"]+)"/.exec(list.text)![1]!);
  assert.not.match(sortHref, 'view=', 'the list view needs no parameter');
  const gridSort = unescape(/<a href="([^"]+)"[^>]*>Grid<\/a>/.exec(list.text.replace(/<svg[\s\S]*?<\/svg>/g, ''))![1]!);
  assert.match(gridSort, 'view=grid');
  assert.match(gridSort, 'sort=size', 'switching view keeps the sort');
});

test('the file page: details beside the document, and every form in a dialog that posts without JavaScript', async () => {
  const id = await fileIdByName(w, 'Budget.csv');
  const page = await w.as.staff.get(`${w.base}/f/${id}`);
  assert.is(page.status, 200);
  assert.match(page.text, /<span aria-current="page">Budget.csv<\/span>/);
  assert.match(page.text, /<dl class="ui-kv"[^>]*>[\s\S]*<dt>SHA-256<\/dt><dd class="mono">[0-9a-f]{64}<\/dd>/, 'the full hash for staff, in the details');
  assert.match(page.text, /<td class="cell-main" data-label="Version">Version 1 <span class="ui-badge ui-badge-success ui-badge-status">Current<\/span>\s*<\/td>/);
  for (const id of ['new-version', 'rename-file', 'move-file', 'deliver-file', 'trash-file']) dialog(page.text, id);

  // Rename with a bad name: the page comes back with the rename dialog open and the error beside the field.
  const rename = /<form method="post" action="([^"]+\/rename)">/.exec(dialog(page.text, 'rename-file'))![1]!;
  const bad = await w.as.staff.postForm(rename, { name: '../x', area: 'shared' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'data-ui-dialog id="rename-file" open>');
  assert.match(bad.text, /aria-invalid="true" aria-describedby=" ?file-name-error"/);

  // The trash confirmation is a plain form: posting it (no script) moves the file to the trash.
  const trash = dialog(page.text, 'trash-file');
  const action = /<form method="post" action="([^"]+)">/.exec(trash)![1]!;
  assert.match(trash, /<input type="hidden" name="_csrf" value="[^"]+">/);
  assert.match(trash, /<button type="submit" class="button button-danger">Move to trash<\/button>/);
  const done = await w.as.staff.postForm(action, {});
  assert.is(done.status, 303);
  const row = await w.app.kernel.db('files_files').where({ id }).first('deleted_at');
  assert.ok(row.deleted_at, 'in the trash');

  const client = await w.as.client_viewer.get(`${w.base}/f/${await fileIdByName(w, 'Engagement letter.pdf')}`);
  assert.is(client.status, 200);
  assert.not.match(client.text, 'data-ui-dialog', 'a viewer has nothing to manage');
  assert.not.match(client.text, 'SHA-256', 'no hashes for a client');
  assert.match(client.text, '<span class="ui-badge ui-badge-success">Deliverable</span>');
});

test('the trash page is built from the components', async () => {
  const page = await w.as.staff.get(`${w.base}/trash`);
  assert.is(page.status, 200);
  assert.match(page.text, '<h1 class="page-header-h">Trash</h1>');
  assert.match(page.text, /<nav class="ui-breadcrumb"/);
  for (const td of page.text.match(/<td\b[^>]*>/g) ?? []) assert.match(td, /data-label="[^"]*"/);
  assert.match(page.text, 'Budget.csv');
});

test.run();
