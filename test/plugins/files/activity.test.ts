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

test('the activity reads as sentences, with names linked and times in the reader’s zone; no codes or ids', async () => {
  const { text } = await listedEvents(w.as.client_admin);
  const shared = await fileIdByName(w, 'report.txt');
  assert.match(text, `<strong>client_admin person</strong> downloaded <a href="/w/${w.ws.slug}/files/f/${shared}">report.txt</a>`);
  assert.match(text, `<strong>staff person</strong> uploaded <a href="/w/${w.ws.slug}/files/f/${shared}">report.txt</a>`);
  assert.not.match(text, 'files.file.download');
  assert.not.match(text, /\bFile [0-9a-f]{8}/);
  assert.not.match(text, 'Times are in UTC');
  // Relative, with the exact time on hover, in the firm's zone until the person picks their own.
  assert.match(text, /<time datetime="[^"]+" title="\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC">(just now|\d+ (minute|hour)s? ago)<\/time>/);
  const c = w.as.client_admin;
  const bad = await c.postForm('/account/time-zone', { timeZone: 'Mars/Olympus' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'Choose a time zone from the list');
  assert.is((await c.postForm('/account/time-zone', { timeZone: 'Asia/Tokyo' })).status, 303);
  const after = await listedEvents(c);
  assert.match(after.text, /title="\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d GMT\+9"/);
  assert.match((await c.get('/account')).text, /<option value="Asia\/Tokyo" selected>/);
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'core.user.time_zone' }).first(), 'the change is audited');
  // Back to the firm's zone, which an admin sets on the branding page.
  assert.is((await c.postForm('/account/time-zone', { timeZone: '' })).status, 303);
});

test.run();
