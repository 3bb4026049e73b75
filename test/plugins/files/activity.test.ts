// A workspace's activity shows a person only events about files and folders they may read
// (issue 13, finding 2): a client admin never sees that staff downloaded, zipped or filed
// something internal, while their own and shared activity stays listed.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download, fileIdByName, filesWorld, upload, type FilesWorld } from './helpers.ts';
import type { HttpClient } from '../../helpers/http.ts';

const test = suite('files activity visibility');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld();
});
test.after(async () => {
  await w.app.close();
});

/** Every event id the activity page lists for this person, following "Older events". */
async function listedEvents(c: HttpClient): Promise<{ ids: string[]; text: string }> {
  const ids: string[] = [];
  let text = '';
  let url: string | null = `/w/${w.ws.slug}/audit`;
  while (url) {
    const res = await c.get(url);
    assert.is(res.status, 200, url);
    text += res.text;
    ids.push(...[...res.text.matchAll(/data-event="([^"]+)"/g)].map((m) => m[1]!));
    const next = /<a href="([^"]+)" rel="next"/.exec(res.text)?.[1];
    url = next ? next.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&') : null;
  }
  return { ids, text };
}

test('a client admin sees no event about an internal file or folder; shared ones stay listed', async () => {
  const staff = w.as.staff;
  // Staff work in an internal folder: create it, file something, download it, zip the folder.
  const folder = await staff.postForm(`${w.base}/folders`, { name: 'Board papers', parent: '', area: 'internal', client_access: 'view' });
  assert.is(folder.status, 303);
  const internalFolder = folder.location!.split('/').pop()!;
  assert.is((await upload(staff, `${w.base}/upload?folder=${internalFolder}`, [{ name: 'secret-plan.txt', data: 'internal only' }], { area: 'internal' })).status, 200);
  const internalFile = await fileIdByName(w, 'secret-plan.txt');
  assert.is((await download(staff, `${w.base}/f/${internalFile}/download`)).status, 200);
  assert.is((await download(staff, `${w.base}/folders/${internalFolder}/zip`)).status, 200);
  // And shared work the client takes part in.
  assert.is((await upload(staff, `${w.base}/upload`, [{ name: 'report.txt', data: 'for the client' }])).status, 200);
  const shared = await fileIdByName(w, 'report.txt');
  assert.is((await download(w.as.client_admin, `${w.base}/f/${shared}/download`)).status, 200);

  const db = w.app.kernel.db;
  const internalEvents = (await db('audit_events').where({ workspace_id: w.ws.id }).whereIn('subject_id', [internalFile, internalFolder]).pluck('id')) as string[];
  assert.ok(internalEvents.length >= 4, `${internalEvents.length} events about internal things were recorded`);

  const { ids, text } = await listedEvents(w.as.client_admin);
  for (const id of internalEvents) assert.not.ok(ids.includes(id), `the client admin's activity lists internal event ${id}`);
  assert.not.match(text, internalFile);
  assert.not.match(text, internalFolder);
  const clientDownload = (await db('audit_events').where({ workspace_id: w.ws.id, action: 'files.file.download', subject_id: shared }).first('id')) as { id: string };
  assert.ok(ids.includes(clientDownload.id), "the client's own download of a shared file is listed");
  const sharedUpload = (await db('audit_events').where({ workspace_id: w.ws.id, action: 'files.version.create', subject_id: shared }).first('id')) as { id: string };
  assert.ok(ids.includes(sharedUpload.id), 'the upload of a shared file is listed');

  const all = await db('audit_events').where({ workspace_id: w.ws.id }).count({ n: '*' }).first();
  assert.ok(Number((all as { n: number | string }).n) > ids.length, 'clients see fewer rows than the log holds');
});

test.run();
