// A client's upload tells the firm (issue 14: it notified nobody): the workspace's account team
// (its assigned staff) get one notice per upload request, however many files, by their own
// preference; never the uploader, nobody outside the account team, never about an internal area.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser } from '../../../core/identity/users.ts';
import { notifyClientUpload, type FilesDeps } from '../../../plugins/files/service.ts';
import { filesWorld, upload, type FilesWorld } from './helpers.ts';

const test = suite('files: client uploads tell the account team');
let w: FilesWorld;
let colleague: string;
let outsider: string;

const notices = (kind = 'files.upload') => w.app.kernel.db('notifications').where({ kind }).orderBy('created_at').select('user_id', 'subject', 'body', 'link') as Promise<Array<{ user_id: string; subject: string; body: string; link: string }>>;

test.before(async () => {
  w = await filesWorld();
  const k = w.app.kernel;
  // A second member of the account team, and a staff member of the firm not assigned here.
  await transaction(k.db, async (trx) => {
    const hash = await k.passwords.hash('another-staff-password-123');
    const c = await createUser(k, trx, { email: 'colleague@firm.example', name: 'Cleo Colleague', passwordHash: hash, firmRole: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: w.ws.id, userId: c.id, role: 'staff' }, { actorId: null, via: 'cli' });
    colleague = c.id;
    outsider = (await createUser(k, trx, { email: 'outsider@firm.example', name: 'Otto Outsider', passwordHash: hash, firmRole: 'staff' }, { actorId: null, via: 'cli' })).id;
  });
});
test.after(async () => {
  await w.app.close();
});

test('a client uploads three files at once: one notice to each of the account team, naming them', async () => {
  const res = await upload(w.as.client_member, `${w.base}/upload`, [
    { name: 'Receipts March.pdf', data: '%PDF-1.4 march' },
    { name: 'Receipts April.pdf', data: '%PDF-1.4 april' },
    { name: 'Bank statement.pdf', data: '%PDF-1.4 bank' },
  ]);
  assert.is(res.status, 200, res.text.slice(0, 500));
  const got = await notices();
  assert.equal(got.map((n) => n.user_id).sort(), [w.users.staff, colleague].sort(), 'the account team, once each');
  for (const n of got) {
    assert.is(n.subject, 'client_member person uploaded 3 files to Acme Ltd');
    assert.is(n.body, 'client_member person uploaded 3 files to Acme Ltd: Bank statement.pdf, Receipts April.pdf, Receipts March.pdf.');
    assert.is(n.link, `/w/${w.ws.slug}/files/`);
  }
  // Mailed at once (their preference), one mail each, with the link into the portal.
  const mails = (await w.app.kernel.db('outbox').where('subject', 'client_member person uploaded 3 files to Acme Ltd').select('to_address', 'text_body')) as Array<{ to_address: string; text_body: string }>;
  assert.equal(mails.map((m) => m.to_address).sort(), ['colleague@firm.example', 'staff@acme.example']);
  assert.match(mails[0]!.text_body, `/w/${w.ws.slug}/files/`);
  // Nobody else: not the uploader, not the other clients, not staff outside the account team.
  for (const who of [w.users.client_member, w.users.client_admin, w.users.client_viewer, outsider]) assert.not.ok(got.some((n) => n.user_id === who));
});

test('one file, or a new version: the notice names it and links to it', async () => {
  await upload(w.as.client_admin, `${w.base}/upload`, [{ name: 'Signed lease.pdf', data: '%PDF-1.4 lease' }]);
  const file = await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Signed lease.pdf' }).first('id');
  let last = (await notices()).filter((n) => n.subject.includes('Signed lease.pdf'));
  assert.is(last.length, 2);
  assert.is(last[0]!.subject, 'client_admin person uploaded Signed lease.pdf to Acme Ltd');
  assert.is(last[0]!.body, 'client_admin person uploaded Signed lease.pdf to Acme Ltd.');
  assert.is(last[0]!.link, `/w/${w.ws.slug}/files/f/${file.id}`);
  await upload(w.as.client_admin, `${w.base}/upload`, [{ name: 'Signed lease.pdf', data: '%PDF-1.4 lease, corrected' }]);
  last = (await notices()).filter((n) => n.subject.includes('Signed lease.pdf'));
  assert.is(last.length, 4);
  assert.is(last[3]!.body, 'client_admin person uploaded Signed lease.pdf (a new version) to Acme Ltd.');
});

test('staff uploads tell no one about an upload (a deliverable is its own notice)', async () => {
  const before = (await notices()).length;
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'Engagement letter.pdf', data: '%PDF-1.4 letter' }])).status, 200);
  assert.is((await notices()).length, before);
});

test('never about an internal area: nothing is told when the files or the folder are internal', async () => {
  const before = (await notices()).length;
  const deps = { notifications: w.app.kernel.notifications } as unknown as FilesDeps;
  const ws = { id: w.ws.id, slug: w.ws.slug, name: 'Acme Ltd' };
  const uploader = { id: w.users.client_admin, name: 'client_admin person' };
  await transaction(w.app.kernel.db, async (trx) => {
    await notifyClientUpload(deps, trx, uploader, ws, { id: null, name: 'Files', area: 'shared' }, [{ id: 'x', name: 'Board minutes.pdf', area: 'internal', newVersion: false }]);
    await notifyClientUpload(deps, trx, uploader, ws, { id: 'f', name: 'Partners only', area: 'internal' }, [{ id: 'y', name: 'Fees.pdf', area: 'shared', newVersion: false }]);
  });
  assert.is((await notices()).length, before);
  assert.not.match(JSON.stringify(await notices()), 'Board minutes');
});

test.run();
