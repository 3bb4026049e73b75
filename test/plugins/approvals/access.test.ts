// Who may see and do what: a viewer, a client who is not an approver, a client of another
// workspace and staff of another workspace get 404; an internal file can only be approved by the
// firm; a bad form is returned with the message beside the field and nothing is saved; a
// withdrawn request's links stop working.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { HttpClient } from '../../helpers/http.ts';
import { approvalsWorld, linkIn, mailsTo, requestApproval, uploadFile, type World } from './helpers.ts';
import { upload } from '../files/helpers.ts';

const test = suite('approvals access');
let w: World;
let other: { client: HttpClient; staff: HttpClient; requestId: string };
let mine: string;
let fileId: string;

test.before(async () => {
  w = await approvalsWorld();
  const k = w.app.kernel;
  // A second client, Beta, with its own client and its own account manager (not a member of Acme).
  const hash = await k.passwords.hash(w.password);
  const beta = await transaction(k.db, async (trx) => {
    const ws = await createWorkspace(k, trx, { name: 'Beta Co', slug: 'beta' }, { actorId: null, via: 'cli' });
    const c = await createUser(k, trx, { email: 'client@beta.example', name: 'Beta Client', passwordHash: hash, firmRole: null }, { actorId: null, via: 'cli' });
    const s = await createUser(k, trx, { email: 'staff@beta.example', name: 'Beta Staff', passwordHash: hash, firmRole: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: ws.id, userId: c.id, role: 'client_admin' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: ws.id, userId: s.id, role: 'staff' }, { actorId: null, via: 'cli' });
    return { ws, clientId: c.id };
  });
  const client = w.app.client();
  await client.login('client@beta.example', w.password);
  const staff = w.app.client();
  await staff.login('staff@beta.example', w.password);
  await staff.get('/w/beta/files/');
  const up = await upload(staff, '/w/beta/files/upload', [{ name: 'Beta secret plan.txt', data: 'beta' }]);
  assert.is(up.status, 200);
  const betaFile = await k.db('files_files').where({ workspace_id: beta.ws.id }).first('id');
  await staff.get(`/w/beta/approvals/new?type=files.version&subject=${betaFile.id}`);
  const res = await staff.postForm('/w/beta/approvals/', { type: 'files.version', subject: String(betaFile.id), title: 'Beta secret approval', sequence: 'parallel', approvers: beta.clientId });
  assert.is(res.status, 303);
  other = { client, staff, requestId: /r\/([0-9a-f-]{36})$/.exec(res.location!)![1]! };
  fileId = await uploadFile(w, 'Acme terms.txt', 'terms');
  const made = await requestApproval(w, fileId, { title: 'Acme terms', approvers: [w.users.member] });
  mine = made.id!;
});
test.after(async () => {
  await w.app.close();
});

test('a viewer has no approvals; a client who is not an approver gets 404 for the request and its decision', async () => {
  assert.is((await w.as.viewer.get('/w/acme/approvals/')).status, 404);
  assert.is((await w.as.viewer.get(`/w/acme/approvals/r/${mine}`)).status, 404);
  assert.not.match((await w.as.viewer.get('/w/acme/')).text, 'Acme terms');
  assert.not.match((await w.as.viewer.get('/inbox')).text, 'Acme terms');
  assert.not.match((await w.as.member2.get('/inbox')).text, 'Acme terms');
  assert.match((await w.as.member.get('/inbox')).text, 'Acme terms');
  assert.is((await w.as.member2.get(`/w/acme/approvals/r/${mine}`)).status, 404);
  assert.is((await w.as.member2.postForm(`/w/acme/approvals/r/${mine}/decide`, { decision: 'approve', version: 'x' })).status, 404);
  assert.not.match((await w.as.member2.get('/w/acme/approvals/')).text, 'Acme terms');
  // The client admin sees every request shared with the workspace but cannot answer for others.
  const seen = await w.as.admin.get(`/w/acme/approvals/r/${mine}`);
  assert.is(seen.status, 200);
  assert.not.match(seen.text, 'Your decision');
  assert.is((await w.as.admin.postForm(`/w/acme/approvals/r/${mine}/decide`, { decision: 'approve', version: 'x' })).status, 404);
  // Clients cannot ask for approvals.
  assert.is((await w.as.admin.get(`/w/acme/approvals/new?type=files.version&subject=${fileId}`)).status, 404);
  assert.is((await w.as.admin.postForm('/w/acme/approvals/', { type: 'files.version', subject: fileId, title: 'x', sequence: 'parallel', approvers: w.users.member })).status, 404);
  assert.is((await w.app.kernel.db('approvals_decisions').where({ request_id: mine })).length, 0);
});

test('another workspace: its client and its staff get 404 for Acme requests, and never see them listed', async () => {
  for (const c of [other.client, other.staff]) {
    assert.is((await c.get(`/w/acme/approvals/r/${mine}`)).status, 404);
    assert.is((await c.get(`/w/beta/approvals/r/${mine}`)).status, 404);
    assert.is((await c.postForm(`/w/beta/approvals/r/${mine}/decide`, { decision: 'approve', version: 'x' })).status, 404);
    assert.is((await c.postForm(`/w/beta/approvals/r/${mine}/cancel`, {})).status, 404);
  }
  assert.is((await other.staff.get(`/w/beta/approvals/new?type=files.version&subject=${fileId}`)).status, 404);
  const queue = await other.staff.get('/staff/approvals/?status=all');
  assert.match(queue.text, 'Beta secret approval');
  assert.not.match(queue.text, 'Acme terms');
  // And the other way round: Acme's people never see Beta's.
  assert.is((await w.as.staff.get(`/w/acme/approvals/r/${other.requestId}`)).status, 404);
  assert.not.match((await w.as.staff.get('/staff/approvals/?status=all&workspace=beta')).text, 'Beta secret');
  assert.is((await other.client.get('/staff/approvals/')).status, 404);
});

test('an internal file can only be approved by the firm; the form explains and saves nothing', async () => {
  await w.as.staff.get('/w/acme/files/');
  const up = await upload(w.as.staff, '/w/acme/files/upload', [{ name: 'Internal notes.txt', data: 'internal' }], { area: 'internal' });
  assert.is(up.status, 200);
  const internal = String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Internal notes.txt' }).first('id')).id);
  const form = await w.as.staff.get(`/w/acme/approvals/new?type=files.version&subject=${internal}`);
  assert.match(form.text, 'only firm staff can be asked');
  assert.not.match(form.text, w.emails.member);
  const refused = await requestApproval(w, internal, { title: 'Internal', approvers: [w.users.member] });
  assert.is(refused.res.status, 400);
  assert.match(refused.res.text, 'Choose approvers from the list');
  const ok = await requestApproval(w, internal, { title: 'Internal review', approvers: [w.users.staff] });
  assert.is(ok.res.status, 303);
  assert.is((await w.as.admin.get(`/w/acme/approvals/r/${ok.id}`)).status, 404);
  assert.not.match((await w.as.admin.get('/w/acme/approvals/')).text, 'Internal review');
});

test('a bad request form comes back with messages beside the fields and saves nothing', async () => {
  const before = (await w.app.kernel.db('approvals_requests')).length;
  const none = await requestApproval(w, fileId, { title: '', approvers: [] });
  assert.is(none.res.status, 400);
  assert.match(none.res.text, 'Give the request a title');
  assert.match(none.res.text, 'Choose at least one approver');
  const past = await requestApproval(w, fileId, { approvers: [w.users.member], due: '2020-01-01' });
  assert.is(past.res.status, 400);
  assert.match(past.res.text, 'Choose today or a later date');
  const rule = await requestApproval(w, fileId, { approvers: [w.users.member], autoApprove: 'yes' });
  assert.is(rule.res.status, 400);
  assert.match(rule.res.text, 'needs a due date');
  assert.is((await w.app.kernel.db('approvals_requests')).length, before);
  assert.is((await w.as.staff.get('/w/acme/approvals/new?type=files.version&subject=00000000-0000-7000-8000-000000000000')).status, 404);
  assert.is((await w.as.staff.get('/w/acme/approvals/new')).status, 200);
});

test('staff withdraw a waiting request: the approver is told and the link stops working', async () => {
  const made = await requestApproval(w, fileId, { title: 'To withdraw', approvers: [w.users.member] });
  const path = await linkIn(w, w.emails.member, /To withdraw/);
  assert.is((await w.as.member.postForm(`/w/acme/approvals/r/${made.id}/cancel`, {})).status, 404);
  const page = await w.as.staff.get(`/w/acme/approvals/r/${made.id}`);
  // Withdrawing is confirmed in a dialog: a plain POST form that works without JS.
  assert.match(page.text, /<details class="ui-dialog" data-ui-dialog id="withdraw">[\s\S]*?Withdraw this request\?[\s\S]*?<form method="post" action="[^"]+\/cancel">[\s\S]*?<button type="submit" class="button button-danger">Withdraw the request<\/button>/);
  assert.is((await w.as.staff.postForm(`/w/acme/approvals/r/${made.id}/cancel`, {})).status, 303);
  assert.is((await w.app.kernel.db('approvals_requests').where({ id: made.id }).first()).status, 'cancelled');
  assert.is((await w.app.client().get(path)).status, 404);
  assert.match((await mailsTo(w, w.emails.member)).map((m) => m.subject).join('|'), '“To withdraw” was withdrawn');
  const late = await w.as.member.postForm(`/w/acme/approvals/r/${made.id}/decide`, { decision: 'approve', version: (await w.app.kernel.db('approvals_requests').where({ id: made.id }).first()).version_id });
  assert.is(late.status, 409);
  assert.match(late.text, 'already been closed');
  assert.ok(await w.app.kernel.db('audit_events').where({ subject_id: made.id, action: 'approvals.request.cancel' }).first());
});

test.run();
