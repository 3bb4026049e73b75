// The files plugin's background work and streaming guarantees: the trash purge after its
// retention period (rows, versions, storage rows and blob bytes), and a zip whose first bytes
// reach the client while its later entries have not even been opened yet.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ManualClock } from '../../../core/clock.ts';
import type { LocalBlobStore } from '../../../core/storage/local.ts';
import type { StorageService } from '../../../core/storage/index.ts';
import { purgeTrash, type FilesDeps } from '../../../plugins/files/service.ts';
import { filesWorld, upload, pdf, fileIdByName, type FilesWorld } from './helpers.ts';

const DAY = 86_400_000;
const test = suite('files maintenance');
const clock = new ManualClock(Date.UTC(2026, 0, 10, 12));
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld({ clock });
});
test.after(async () => {
  await w.app.close();
});

const deps = (): FilesDeps => {
  const k = w.app.kernel;
  return { db: k.db, storage: k.storage, audit: k.audit, events: k.events, notifications: k.notifications, logger: k.logger };
};
/** A fresh staff session (moving the clock by days ends the ones filesWorld opened). */
async function staff() {
  const c = w.app.client();
  const r = await c.login('staff@acme.example', 'files-test-password-123');
  if (r.status !== 303) throw new Error(`login: ${r.status}`);
  await c.get(`${w.base}/`);
  return c;
}
const blobPath = (key: string) => (w.app.kernel.storage.store as LocalBlobStore).pathOf(key);

test('a zip streams: its first bytes reach the client before the last entry is even opened', async () => {
  const create = await w.as.staff.postForm(`${w.base}/folders`, { name: 'Streamed', parent: '', area: 'shared', client_access: 'view' });
  assert.is(create.status, 303);
  const folderId = create.location!.split('/').pop()!;
  const names = ['a.pdf', 'b.pdf', 'c.pdf', 'd.pdf'];
  for (const name of names) assert.is((await upload(w.as.staff, `${w.base}/upload?folder=${folderId}`, [{ name, data: pdf(randomBytes(150_000).toString('base64')) }])).status, 200);
  // Each PDF upload queues a first-page preview, and the renderer reads the PDF through
  // storage.open too: let it finish first, so only the zip's own reads are counted below.
  const versions = (await w.app.kernel.db('files_versions').whereIn('file_id', w.app.kernel.db('files_files').where({ folder_id: folderId }).select('id')).pluck('id')) as string[];
  for (const deadline = Date.now() + 30_000; (await w.app.kernel.db('files_previews').whereIn('version_id', versions)).length < names.length; ) {
    if (Date.now() > deadline) throw new Error('the previews of the uploaded PDFs were not recorded');
    await new Promise((r) => setTimeout(r, 20));
  }

  const storage = w.app.kernel.storage as StorageService;
  const original = storage.open;
  const events: string[] = [];
  let release!: (why: string) => void;
  const gate = new Promise<string>((r) => (release = r));
  let opened = 0;
  storage.open = async function (this: StorageService, ...args: Parameters<StorageService['open']>) {
    const n = ++opened;
    if (n === names.length) {
      events.push('last entry requested');
      // Held until the client has its first bytes. The fallback only keeps a broken
      // implementation from hanging the suite; the assertion below is on the order of events.
      const fallback = setTimeout(() => release('fallback'), 30_000);
      const why = await gate;
      clearTimeout(fallback);
      events.push(`last entry opened (${why})`);
    } else events.push(`entry ${n} opened`);
    return original.apply(this, args);
  } as StorageService['open'];
  try {
    const c = w.as.staff;
    const res = await fetch(`${c.base}${w.base}/folders/${folderId}/zip`, { headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    assert.is(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    events.push('client got first bytes');
    release('client');
    assert.not.ok(first.done);
    assert.ok(Buffer.from(first.value!).subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04])), 'a zip local file header');
    let total = first.value!.length;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      total += r.value.length;
    }
    assert.ok(total > 4 * 150_000, `the whole archive arrived (${total} bytes)`);
    assert.equal(events, ['entry 1 opened', 'entry 2 opened', 'entry 3 opened', 'last entry requested', 'client got first bytes', 'last entry opened (client)']);
  } finally {
    storage.open = original;
  }
});

test('the trash purge removes files trashed more than 30 days ago (rows and blobs) and keeps newer ones', async () => {
  for (const name of ['old.txt', 'recent.txt', 'live.txt']) assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name, data: `${name} body` }])).status, 200);
  // Two versions of the old file: every version's blob must go.
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'old.txt', data: 'old.txt second version' }])).status, 200);
  const ids = { old: await fileIdByName(w, 'old.txt'), recent: await fileIdByName(w, 'recent.txt'), live: await fileIdByName(w, 'live.txt') };
  const keysOf = async (id: string) => (await w.app.kernel.db('files_versions').where({ file_id: id }).pluck('blob_key')) as string[];
  const oldKeys = await keysOf(ids.old);
  assert.is(oldKeys.length, 2);

  assert.is((await w.as.staff.postForm(`${w.base}/f/${ids.old}/delete`, {})).status, 303);
  clock.advance(2 * DAY);
  assert.is((await (await staff()).postForm(`${w.base}/f/${ids.recent}/delete`, {})).status, 303);
  clock.advance(29 * DAY); // old: 31 days in the trash; recent: 29 days

  // Before the period is over nothing goes.
  assert.is(await purgeTrash(deps(), 30, clock.now() - 2 * DAY), 0);
  for (const key of oldKeys) assert.ok(existsSync(blobPath(key)));

  assert.is(await purgeTrash(deps(), 30, clock.now()), 1);
  const db = w.app.kernel.db;
  assert.not.ok(await db('files_files').where({ id: ids.old }).first('id'));
  assert.is((await db('files_versions').where({ file_id: ids.old })).length, 0);
  assert.is((await db('storage_blobs').whereIn('key', oldKeys)).length, 0);
  for (const key of oldKeys) assert.not.ok(existsSync(blobPath(key)), `blob ${key} deleted`);
  const purge = await db('audit_events').where({ action: 'files.file.purge', subject_id: ids.old }).first('workspace_id', 'detail');
  assert.ok(purge);
  assert.is(purge.workspace_id, w.ws.id);

  for (const id of [ids.recent, ids.live]) {
    assert.ok(await db('files_files').where({ id }).first('id'));
    for (const key of await keysOf(id)) {
      assert.ok(await db('storage_blobs').where({ key }).first('key'));
      assert.ok(existsSync(blobPath(key)));
    }
  }
  assert.ok((await db('files_files').where({ id: ids.recent }).first('deleted_at')).deleted_at, 'recent is still in the trash');
  // Three days later the recent one is past its 30 days too.
  clock.advance(3 * DAY);
  assert.is(await purgeTrash(deps(), 30, clock.now()), 1);
  assert.not.ok(await db('files_files').where({ id: ids.recent }).first('id'));
  assert.ok(await db('files_files').where({ id: ids.live }).first('id'), 'a live file is never purged');
});

test('a trashed folder is restored with its sub-folders and files; a file trashed on its own stays in the trash', async () => {
  const c = await staff();
  const top = await c.postForm(`${w.base}/folders`, { name: 'Engagement', parent: '', area: 'shared', client_access: 'view' });
  const topId = top.location!.split('/').pop()!;
  const sub = await c.postForm(`${w.base}/folders`, { name: 'Letters', parent: topId, area: 'shared', client_access: 'view' });
  const subId = sub.location!.split('/').pop()!;
  assert.is((await upload(c, `${w.base}/upload?folder=${topId}`, [{ name: 'engagement-letter.txt', data: 'signed' }, { name: 'loose.txt', data: 'loose' }])).status, 200);
  assert.is((await upload(c, `${w.base}/upload?folder=${subId}`, [{ name: 'reply.txt', data: 'reply' }])).status, 200);
  const loose = await fileIdByName(w, 'loose.txt');
  assert.is((await c.postForm(`${w.base}/f/${loose}/delete`, {})).status, 303);
  clock.advance(60_000);
  assert.is((await c.postForm(`${w.base}/folders/${topId}/delete`, {})).status, 303);
  const viewer = w.app.client();
  assert.is((await viewer.login('client.viewer@acme.example', 'files-test-password-123')).status, 303);
  assert.is((await viewer.get(`${w.base}/folders/${topId}`)).status, 404);
  const trash = await c.get(`${w.base}/trash`);
  assert.match(trash.text, 'Engagement');
  assert.match(trash.text, `${w.base}/folders/${topId}/restore`);
  // Clients cannot restore a folder.
  assert.is((await viewer.postForm(`${w.base}/folders/${topId}/restore`, {})).status, 404);

  const r = await c.postForm(`${w.base}/folders/${topId}/restore`, {});
  assert.is(r.status, 303);
  assert.is(r.location, `${w.base}/folders/${topId}`);
  const db = w.app.kernel.db;
  for (const id of [topId, subId]) assert.is((await db('files_folders').where({ id }).first('deleted_at')).deleted_at, null);
  for (const name of ['engagement-letter.txt', 'reply.txt']) assert.is((await db('files_files').where({ workspace_id: w.ws.id, name }).first('deleted_at')).deleted_at, null, name);
  assert.ok((await db('files_files').where({ id: loose }).first('deleted_at')).deleted_at, 'trashed before the folder: still in the trash');
  assert.match((await viewer.get(`${w.base}/folders/${topId}`)).text, 'engagement-letter.txt');
  assert.match((await viewer.get(`${w.base}/folders/${subId}`)).text, 'reply.txt');
  const event = await db('audit_events').where({ action: 'files.folder.restore', subject_id: topId }).first('detail');
  assert.ok(event);
  // A live folder is not in the trash: restoring it again is a 404.
  assert.is((await c.postForm(`${w.base}/folders/${topId}/restore`, {})).status, 404);
});

test.run();
