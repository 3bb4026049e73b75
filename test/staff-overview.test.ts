// The staff overview shows what waits on the firm across the workspaces a person works in:
// client uploads, approvals with changes asked or overdue, envelopes out for signature. Never a
// workspace the person is not assigned to.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import { newId } from '../core/ids.ts';
import { setupOwner, startApp, type TestApp } from './helpers/app.ts';

const test = suite('staff overview');
let app: TestApp;
const PW = 'staff-overview-password';
const ids: Record<string, string> = {};

test.before(async () => { try { await before(); } catch (e) { console.error(e); throw e; } });
async function before() {
  app = await startApp({ plugins: ['files', 'approvals', 'signatures'] });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash(PW);
  await transaction(k.db, async (trx) => {
    const mine = await createWorkspace(k, trx, { name: 'Mine Ltd', slug: 'mine' }, { actorId: null });
    const other = await createWorkspace(k, trx, { name: 'Other Ltd', slug: 'other' }, { actorId: null });
    const sam = await createUser(k, trx, { email: 'sam@firm.example', name: 'Sam Staff', passwordHash: hash, firmRole: 'staff' }, { actorId: null });
    const ada = await createUser(k, trx, { email: 'ada@mine.example', name: 'Ada Client', passwordHash: hash, firmRole: null }, { actorId: null });
    const oz = await createUser(k, trx, { email: 'oz@other.example', name: 'Oz Other', passwordHash: hash, firmRole: null }, { actorId: null });
    await addMember(k, trx, { workspaceId: mine.id, userId: sam.id, role: 'staff' }, { actorId: null });
    await addMember(k, trx, { workspaceId: mine.id, userId: ada.id, role: 'client_admin' }, { actorId: null });
    await addMember(k, trx, { workspaceId: other.id, userId: oz.id, role: 'client_admin' }, { actorId: null });
    Object.assign(ids, { mine: mine.id, other: other.id, sam: sam.id, ada: ada.id, oz: oz.id });
  });
  const now = k.clock.now();
  // Rows as the plugins write them (their own tests cover how): a client upload in each workspace,
  // one by staff, an approval with changes asked, one overdue, one fine, and an envelope out.
  for (const [ws, who, name] of [[ids.mine, ids.ada, 'from-ada.pdf'], [ids.other, ids.oz, 'from-oz.pdf'], [ids.mine, ids.sam, 'from-sam.pdf']] as const) {
    const fileId = newId();
    const versionId = newId();
    await k.db('files_files').insert({ id: fileId, workspace_id: ws, folder_id: null, name, name_key: name, area: 'shared', current_version_id: null, size: 1, content_type: 'application/pdf', delivered_at: null, delivered_by: null, created_by: who, created_at: now, updated_at: now, deleted_at: null, deleted_by: null });
    const blobKey = newId().replace(/-/g, '');
    await k.db('storage_blobs').insert({ key: blobKey, owner: 'files', workspace_id: ws, size: 1, sha256: '0'.repeat(64), alg: 'test', key_id: 'test', wrapped_key: 'test', bind: 'test', created_at: now });
    await k.db('files_versions').insert({ id: versionId, workspace_id: ws, file_id: fileId, number: 1, blob_key: blobKey, size: 1, sha256: '0'.repeat(64), content_type: 'application/pdf', uploaded_by: who, created_at: now });
  }
  const request = (ws: string, title: string, status: string, dueAt: number | null) => ({
    id: newId(), workspace_id: ws, subject_type: 'files.version', subject_id: newId(), subject_title: title, version_id: newId(), version_number: 1, sha256: '0'.repeat(64),
    client_visible: true, title, message: '', sequence: 'parallel', current_position: null, due_at: dueAt, auto_approve: false, status, round: 1, round_opened_at: now,
    created_by: ids.sam, created_at: now, updated_at: now, decided_at: null, turnaround_ms: null,
  });
  await k.db('approvals_requests').insert([
    request(ids.mine, 'Logo v2', 'changes_requested', null),
    request(ids.mine, 'Brochure', 'pending', now - 86_400_000),
    request(ids.mine, 'Letterhead', 'pending', now + 5 * 86_400_000),
    request(ids.other, 'Other firm work', 'changes_requested', null),
  ]);
  await k.db('signatures_envelopes').insert({ id: newId(), workspace_id: ids.mine, title: 'Engagement letter', message: '', file_id: newId(), version_id: newId(), document_name: 'letter.pdf', document_size: 1, sha256_sent: '0'.repeat(64), page_count: 1, status: 'sent', created_by: ids.sam, created_at: now, sent_at: now - 3 * 86_400_000, finished_at: null });
}
test.after(async () => {
  await app.close();
});

test('staff see client uploads, approvals needing the firm and unsigned envelopes of their own clients', async () => {
  const sam = app.client();
  assert.is((await sam.login('sam@firm.example', PW)).status, 303);
  const page = await sam.get('/staff/');
  assert.is(page.status, 200);
  const t = page.text;
  assert.match(t, 'Client uploads');
  assert.match(t, 'from-ada.pdf');
  assert.match(t, 'Ada Client · Mine Ltd');
  assert.not.match(t, 'from-sam.pdf', 'an upload by the firm is not a client upload');
  assert.match(t, 'Approvals needing the firm');
  assert.match(t, 'Logo v2');
  assert.match(t, 'Changes asked');
  assert.match(t, 'Brochure');
  assert.match(t, 'Overdue');
  assert.not.match(t, 'Letterhead', 'not due yet');
  assert.match(t, 'Waiting for signatures');
  assert.match(t, 'Engagement letter');
  assert.match(t, 'sent <time');
  for (const other of ['from-oz.pdf', 'Other firm work', 'Other Ltd']) assert.not.match(t, other, `${other}: a workspace Sam is not assigned to`);
});

/** Whether the client list (not the header's workspace switcher) shows this workspace. */
const listed = (html: string, slug: string) => new RegExp(`<td[^>]*><a href="/w/${slug}/">`).test(html);

test('quick filters: search clients by name (wildcards literal), and owners narrow to their own team', async () => {
  const owner = app.client();
  assert.is((await owner.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 303);
  const all = await owner.get('/staff/');
  assert.ok(listed(all.text, 'mine'));
  assert.ok(listed(all.text, 'other'));
  const found = await owner.get('/staff/?q=OTH');
  assert.ok(listed(found.text, 'other'));
  assert.not.ok(listed(found.text, 'mine'));
  assert.match(found.text, 'value="OTH"');
  const none = await owner.get('/staff/?q=%25');
  assert.match(none.text, 'No client matches');
  assert.match(none.text, 'No client’s name contains “%”');
  const team = await owner.get('/staff/?mine=1');
  assert.match(team.text, 'You are not on any client’s team yet', 'the owner is on no workspace team');
  assert.match(team.text, /<a href="\/staff\/\?mine&#x3D;1" aria-current="page">On my team<\/a>/);
  // Nonsense in the query string is no search, never an error page.
  assert.is((await owner.get('/staff/?q=%0d%0a&mine=2&page=x')).status, 200);
  const sam = app.client();
  assert.is((await sam.login('sam@firm.example', PW)).status, 303);
  const samAll = await sam.get('/staff/?q=ltd');
  assert.ok(listed(samAll.text, 'mine'));
  assert.not.ok(listed(samAll.text, 'other'));
  assert.not.match(samAll.text, 'On my team', 'staff only ever see their own clients');
});

test('clients never get the staff cards', async () => {
  const ada = app.client();
  assert.is((await ada.login('ada@mine.example', PW)).status, 303);
  assert.is((await ada.get('/staff/')).status, 404);
  const home = await ada.get('/w/mine/');
  assert.not.match(home.text, 'Approvals needing the firm');
  assert.not.match(home.text, 'Client uploads');
});

test.run();
