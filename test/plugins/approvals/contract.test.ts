// The approvable-subject contract (core/approvables.ts): approvals works with a type registered by
// a plugin it has never heard of (the `quotes` fixture, without `files` enabled), describes
// subjects only inside the workspace, and re-opens requests when the owner reports a revision.
// The registry refuses a type outside the registering plugin's namespace, or registered twice.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { ApprovableRegistry } from '../../../core/approvables.ts';
import { EventBus } from '../../../core/events.ts';
import { PermissionRegistry } from '../../../core/permissions.ts';
import { transaction } from '../../../core/db/index.ts';
import { newId, sha256Hex } from '../../../core/ids.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import { setupOwner, startApp, type TestApp } from '../../helpers/app.ts';
import type { HttpClient } from '../../helpers/http.ts';
import { hidden } from './helpers.ts';

const test = suite('approvable subjects contract');
let app: TestApp;
let staff: HttpClient;
let client: HttpClient;
let ws: { id: string };
let other: { id: string };
let clientId: string;

test.before(async () => {
  app = await startApp({ plugins: ['approvals', './test/plugins/approvals/fixtures/quotes'] });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash('contract-password-123');
  const made = await transaction(k.db, async (trx) => {
    const a = await createWorkspace(k, trx, { name: 'Acme', slug: 'acme' }, { actorId: null, via: 'cli' });
    const b = await createWorkspace(k, trx, { name: 'Other', slug: 'other' }, { actorId: null, via: 'cli' });
    const s = await createUser(k, trx, { email: 'staff@x.example', name: 'Sam Staff', passwordHash: hash, firmRole: 'staff' }, { actorId: null, via: 'cli' });
    const c = await createUser(k, trx, { email: 'client@x.example', name: 'Cleo Client', passwordHash: hash, firmRole: null }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: a.id, userId: s.id, role: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: a.id, userId: c.id, role: 'client_member' }, { actorId: null, via: 'cli' });
    return { a, b, c };
  });
  ws = made.a;
  other = made.b;
  clientId = made.c.id;
  staff = app.client();
  await staff.login('staff@x.example', 'contract-password-123');
  client = app.client();
  await client.login('client@x.example', 'contract-password-123');
});
test.after(async () => {
  await app.close();
});

test('the registry refuses a type outside its owner namespace, and a type registered twice', () => {
  const bus = new EventBus(pino({ level: 'silent' }));
  const reg = new ApprovableRegistry(bus, new PermissionRegistry());
  const describe = async () => undefined;
  assert.throws(() => reg.register('files', { type: 'quotes.quote', label: 'x', describe }), /must start with "files\."/);
  assert.throws(() => reg.register('files', { type: 'nodot', label: 'x', describe }), /<plugin>\.<thing>/);
  reg.register('files', { type: 'files.version', label: 'File', describe });
  assert.throws(() => reg.register('files', { type: 'files.version', label: 'File', describe }), /registered by files and files/);
  assert.equal(reg.list(), [{ type: 'files.version', label: 'File', owner: 'files' }]);
});

test('any registered type: a quote is requested, re-opened on its revision, and approved', async () => {
  const k = app.kernel;
  const quoteId = newId();
  const otherQuote = newId();
  await k.db('quotes_quotes').insert([
    { id: quoteId, workspace_id: ws.id, title: 'Website quote', body: 'EUR 10,000', revision: 1, revision_id: newId() },
    { id: otherQuote, workspace_id: other.id, title: 'Other quote', body: 'EUR 1', revision: 1, revision_id: newId() },
  ]);
  // Another workspace's subject is not found through this workspace: the same 404 as a missing one.
  assert.is((await staff.get(`/w/acme/approvals/new?type=quotes.quote&subject=${otherQuote}`)).status, 404);
  assert.is((await staff.get(`/w/acme/approvals/new?type=files.version&subject=${quoteId}`)).status, 404);
  const form = await staff.get(`/w/acme/approvals/new?type=quotes.quote&subject=${quoteId}`);
  assert.is(form.status, 200);
  assert.match(form.text, 'Website quote');
  assert.match(form.text, sha256Hex('EUR 10,000'));
  const res = await staff.postForm('/w/acme/approvals/', { type: 'quotes.quote', subject: quoteId, title: 'Quote sign-off', sequence: 'parallel', approvers: clientId });
  assert.is(res.status, 303);
  const id = /r\/([0-9a-f-]{36})$/.exec(res.location!)![1]!;

  // The owner reports a revision; approvals re-opens inside that same transaction.
  const revisionId = newId();
  await transaction(k.db, async (trx) => {
    await trx('quotes_quotes').where({ id: quoteId }).update({ body: 'EUR 9,500', revision: 2, revision_id: revisionId });
    await k.approvables.revised(trx, { workspaceId: ws.id, type: 'quotes.quote', subjectId: quoteId, versionId: revisionId, number: 2, sha256: sha256Hex('EUR 9,500') });
  });
  const r = await k.db('approvals_requests').where({ id }).first();
  assert.is(Number(r.round), 2);
  assert.is(r.sha256, sha256Hex('EUR 9,500'));
  const page = await client.get(`/w/acme/approvals/r/${id}`);
  assert.match(page.text, 'Quote');
  assert.is((await client.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(page.text, 'version') })).status, 303);
  const d = await k.db('approvals_decisions').where({ request_id: id }).first();
  assert.is(d.sha256, sha256Hex('EUR 9,500'));
  assert.is(Number(d.version_number), 2);
  assert.is((await k.db('approvals_requests').where({ id }).first()).status, 'approved');
});

test.run();
