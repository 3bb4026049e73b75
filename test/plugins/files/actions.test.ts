// Actions other plugins offer on a file's page (definePlugin `actions`): the files plugin lists
// them without knowing who offers them; each shows only where its ability and predicate allow.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE } from '../../helpers/app.ts';
import { filesWorld, fileIdByName, upload, PNG, type FilesWorld } from './helpers.ts';

const test = suite('files: subject actions from other plugins');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld({ plugins: ['files', FIXTURE] });
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'notes.txt', data: 'plain text' }, { name: 'logo.png', data: PNG }])).status, 200);
});
test.after(() => w.app.close());

test('a text file shows the fixture\'s action to staff, with the file id in its link', async () => {
  const id = await fileIdByName(w, 'notes.txt');
  const page = await w.as.staff.get(`${w.base}/f/${id}`);
  assert.is(page.status, 200);
  // (Handlebars escapes '=' in attributes; the browser decodes it.)
  assert.match(page.text, `<a class="button" href="/w/${w.ws.slug}/fixture/check?file&#x3D;${id}">Check with fixture</a>`);
});

test('the predicate hides it on other files; the ability hides it from clients', async () => {
  const png = await fileIdByName(w, 'logo.png');
  assert.not.match((await w.as.staff.get(`${w.base}/f/${png}`)).text, 'Check with fixture');
  const txt = await fileIdByName(w, 'notes.txt');
  const client = await w.as.client_admin.get(`${w.base}/f/${txt}`);
  assert.is(client.status, 200);
  assert.not.match(client.text, 'Check with fixture');
});

test.run();
