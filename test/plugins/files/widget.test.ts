// The workspace home's "New deliverables" card: one query counts and lists what was delivered
// since the person's last visit to Files (all of it on a first visit), five at most listed, and
// a client never counts an internal file.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { filesWorld, upload, type FilesWorld } from './helpers.ts';

const test = suite('files: new deliverables card');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld();
});
test.after(() => w.app.close());

const card = async (who: 'client_member' | 'staff') => {
  const html = (await w.as[who].get(`/w/${w.ws.slug}/`)).text;
  const i = html.indexOf('id="widget-files-new-deliverables"');
  assert.ok(i >= 0, 'the card is on the home page');
  return html.slice(i, html.indexOf('All files', i));
};

test('a first visit counts every deliverable and lists the newest five; internal files are not counted for clients', async () => {
  const files = Array.from({ length: 7 }, (_, i) => ({ name: `report ${i + 1}.txt`, data: `report ${i + 1}` }));
  assert.is((await upload(w.as.staff, `${w.base}/upload`, files, { deliverable: 'yes' })).status, 200);
  // One more, delivered, then moved to the internal area: staff count it, clients never do.
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'internal memo.txt', data: 'memo' }], { deliverable: 'yes' })).status, 200);
  await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'internal memo.txt' }).update({ area: 'internal' });

  // A person who has never opened Files (the test world's clients have: forget that visit).
  await w.app.kernel.db('files_visits').where({ workspace_id: w.ws.id, user_id: w.users.client_member }).delete();
  const client = await card('client_member');
  assert.match(client, '7 new deliverables for you');
  assert.is((client.match(/<li>/g) ?? []).length, 5);
  assert.not.match(client, 'internal memo');
  assert.match(await card('staff'), /8 new deliverables|No new deliverables/); // staff delivered them: their own visit may be newer
});

test('after a visit to Files only what came later counts', async () => {
  await w.as.client_member.get(`${w.base}/`);
  assert.match(await card('client_member'), 'No new deliverables since your last visit');
  await new Promise((r) => setTimeout(r, 5));
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'later.txt', data: 'later' }], { deliverable: 'yes' })).status, 200);
  const client = await card('client_member');
  assert.match(client, '1 new deliverable since your last visit');
  assert.match(client, 'later.txt');
});

test.run();
