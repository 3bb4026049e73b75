// "Download selected as zip" with nothing ticked (issue 14: it gave a full error page): without
// JavaScript the answer is the same folder page again, with the sentence beside the button; with
// it, ui.js says the same without posting (seen in Chromium). Ticked files still download.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { filesWorld, upload, type FilesWorld } from './helpers.ts';

const test = suite('files: download selected with nothing ticked');
let w: FilesWorld;
let folderId: string;

const decode = (s: string) => s.replaceAll('&amp;', '&').replaceAll('&#x3D;', '=');
/** The selection form's action on a page. */
const zipAction = (html: string) => decode(/<form method="post" action="([^"]*\/zip[^"]*)" class="ui-files">/.exec(html)?.[1] ?? '');
const NONE = 'Tick the files you want in the zip first.';

test.before(async () => {
  w = await filesWorld();
  const made = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Reports', parent: '', area: 'shared', client_access: 'upload' });
  assert.is(made.status, 303, made.text.slice(0, 300));
  folderId = String((await w.app.kernel.db('files_folders').where({ workspace_id: w.ws.id, name: 'Reports' }).first('id')).id);
  assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [{ name: 'Q1 report.txt', data: 'first quarter' }, { name: 'Q2 report.txt', data: 'second quarter' }])).status, 200);
});
test.after(async () => {
  await w.app.close();
});

test('nothing ticked, no JavaScript: the folder page again, the sentence beside the button, no error page', async () => {
  for (const who of ['client_viewer', 'staff'] as const) {
    const c = w.as[who];
    const folderPage = await c.get(`${w.base}/folders/${folderId}?sort=size&dir=desc`);
    const action = zipAction(folderPage.text);
    assert.ok(action.includes(`folder=${folderId}`), action);
    // The sentence is on the page already, hidden until it is needed (ui.js shows it).
    assert.match(folderPage.text, new RegExp(`<p class="field-error" id="ui-files-none" role="alert" data-ui-files-none hidden>${NONE}</p>`));
    const res = await c.postForm(action, {});
    assert.is(res.status, 400);
    assert.not.match(res.text, 'Something went wrong');
    assert.match(res.text, `<p class="field-error" id="ui-files-none" role="alert" data-ui-files-none>${NONE}</p>`);
    assert.match(res.text, 'aria-describedby="ui-files-none"');
    // The same folder, its files and its order: the page a person was on.
    assert.match(res.text, 'id="file-list"');
    assert.ok(res.text.indexOf('Q2 report.txt') < res.text.indexOf('Q1 report.txt'), 'sorted as before (largest first)');
    assert.is(zipAction(res.text), action);
  }
});

test('nothing ticked at the top level, or from a form without the folder: the top level again', async () => {
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'Welcome.txt', data: 'hello' }])).status, 200);
  const top = await w.as.client_member.get(`${w.base}/`);
  const res = await w.as.client_member.postForm(zipAction(top.text), {});
  assert.is(res.status, 400);
  assert.match(res.text, NONE);
  assert.match(res.text, 'Welcome.txt');
  const bare = await w.as.client_member.postForm(`${w.base}/zip`, {});
  assert.is(bare.status, 400);
  assert.match(bare.text, 'Welcome.txt');
  // A folder that is not there (or not theirs) is the usual 404.
  assert.is((await w.as.client_member.postForm(`${w.base}/zip?folder=00000000-0000-7000-8000-000000000000`, {})).status, 404);
});

test('ticked files still come as a zip', async () => {
  const ids = (await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, folder_id: folderId }).pluck('id')) as string[];
  const c = w.as.client_viewer;
  await c.get(`${w.base}/folders/${folderId}`);
  const res = await c.postForm(`${w.base}/zip?folder=${folderId}`, { ids });
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/zip');
});

test.run();
