// Approvals in "waiting on you" (plugins/approvals/waiting.ts): a request appears for the approver
// whose decision it waits for (sequential: only whoever's turn it is), in the home card, /inbox and
// the header count; a decision takes it away and hands it to the next approver, live; an overdue
// request comes first and says so; a viewer, a client not asked and staff not asked never see it;
// an internal subject's request waits only on the firm.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ON_PG } from '../../helpers/app.ts';
import { cookieOf, openSse } from '../../helpers/sse.ts';
import { upload } from '../files/helpers.ts';
import { approvalsWorld, hidden, requestApproval, signIn, uploadFile, type World } from './helpers.ts';

const test = suite(`approvals: waiting on you (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
let w: World;
let fileId: string;

test.before(async () => {
  w = await approvalsWorld();
  fileId = await uploadFile(w, 'Brand book.txt', 'brand');
});
test.after(async () => {
  await w.app.close();
});

const count = (html: string) => Number(/sse-swap="waiting"[^>]*>(\d+)</.exec(html)?.[1] ?? NaN);
const inbox = async (who: keyof World['as']) => (await w.as[who].get('/inbox')).text;

test('sequential: waits on the first approver only, then on the second, live; the decided request leaves both', async () => {
  const { res, id } = await requestApproval(w, fileId, { title: 'Approve the brand book', sequence: 'sequential', approvers: [w.users.member, w.users.admin], [`step:${w.users.member}`]: '1', [`step:${w.users.admin}`]: '2' });
  assert.is(res.status, 303, res.text.slice(0, 300));
  const member = await inbox('member');
  assert.match(member, `href="/w/acme/approvals/r/${id}">Approve the brand book</a>`);
  assert.match(member, 'Approval');
  assert.is(count(member), 1);
  assert.not.match(await inbox('admin'), 'Approve the brand book', 'not their turn yet');
  assert.is(count(await inbox('admin')), 0);
  for (const who of ['viewer', 'member2', 'staff'] as const) assert.not.match(await inbox(who), 'Approve the brand book', who);

  const adminStream = await openSse(`${w.app.url}/live`, cookieOf(w.as.admin.cookies));
  const page = await w.as.member.get(`/w/acme/approvals/r/${id}`);
  const ok = await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(page.text, 'version') });
  assert.is(ok.status, 303);
  assert.is((await adminStream.next('waiting')).data, '1', "the second approver's count goes up on their open page");
  adminStream.close();
  assert.is(count(await inbox('member')), 0);
  assert.not.match(await inbox('member'), 'Approve the brand book');
  const home = (await w.as.admin.get('/w/acme/')).text;
  assert.match(home, `>Approve the brand book</a>`);
  assert.not.match(home, 'Approve: Approve', 'the verb is not said twice');
  assert.is(count(home), 1);

  const admin = await w.as.admin.get(`/w/acme/approvals/r/${id}`);
  assert.is((await w.as.admin.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(admin.text, 'version') })).status, 303);
  assert.is(count(await inbox('admin')), 0);
  assert.match(await inbox('admin'), 'Nothing is waiting on you');
});

test('parallel: a decision recounts the one who decided; the others, still asked, are not recounted until the round closes', async () => {
  const { id } = await requestApproval(w, fileId, { title: 'Approve the price list', sequence: 'parallel', approvers: [w.users.member, w.users.admin] });
  assert.is(count(await inbox('member')), 1);
  assert.is(count(await inbox('admin')), 1);
  // Who gets recounted: the statements on waiting_counts, by the person they name.
  const recounted = new Set<string>();
  const spy = (q: { sql: string; bindings?: unknown[] }) => {
    if (/waiting_counts/.test(q.sql)) for (const b of q.bindings ?? []) if (b === w.users.admin || b === w.users.member) recounted.add(String(b));
  };
  const page = await w.as.member.get(`/w/acme/approvals/r/${id}`);
  w.app.kernel.db.on('query', spy);
  try {
    assert.is((await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(page.text, 'version') })).status, 303);
    for (let i = 0; i < 50 && !recounted.has(w.users.member); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // time for a recount of the other, if one were coming
  } finally {
    w.app.kernel.db.removeListener('query', spy);
  }
  assert.ok(recounted.has(w.users.member), 'the decider was recounted');
  assert.not.ok(recounted.has(w.users.admin), 'the other approver was not: nothing of theirs changed');
  assert.is(count(await inbox('member')), 0, 'the decider\'s item is gone');
  assert.is(count(await inbox('admin')), 1, 'and their count is still right');
  const admin = await w.as.admin.get(`/w/acme/approvals/r/${id}`);
  assert.is((await w.as.admin.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(admin.text, 'version') })).status, 303);
  assert.is(count(await inbox('admin')), 0, 'the closed request leaves the last one too');
});

test('a due date: an overdue request comes first and is marked; a withdrawn one leaves the inbox', async () => {
  const later = await requestApproval(w, fileId, { title: 'Later one', approvers: [w.users.member2], due: '2026-12-20' });
  const soon = await requestApproval(w, fileId, { title: 'Soon one', approvers: [w.users.member2], due: '2026-12-08' });
  assert.ok(later.id && soon.id);
  w.clock.advance(3 * 86_400_000); // past 2026-12-08 (sessions idle out meanwhile: sign in again)
  await signIn(w, 'member2');
  await signIn(w, 'staff');
  const page = await inbox('member2');
  assert.ok(page.indexOf('Soon one') < page.indexOf('Later one'), 'the overdue one first');
  assert.match(page, /2026-12-08 <span class="ui-badge ui-badge-danger">Overdue<\/span>/);
  assert.match(page, '1 overdue');
  assert.is(count(page), 2);
  assert.is((await w.as.staff.postForm(`/w/acme/approvals/r/${later.id}/cancel`, {})).status, 303);
  assert.not.match(await inbox('member2'), 'Later one');
  assert.is(count(await inbox('member2')), 1);
});

test('an internal file: its request waits on the firm only', async () => {
  await w.as.staff.get('/w/acme/files/');
  assert.is((await upload(w.as.staff, '/w/acme/files/upload', [{ name: 'Internal plan.txt', data: 'internal' }], { area: 'internal' })).status, 200);
  const internal = String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'Internal plan.txt' }).first('id')).id);
  const { id } = await requestApproval(w, internal, { title: 'Internal sign-off', approvers: [w.users.staff] });
  assert.ok(id);
  const staff = await inbox('staff');
  assert.match(staff, 'Internal sign-off');
  // Even a client row naming a client would not show for them: the provider asks client_visible.
  await w.app.kernel.db('approvals_approvers').insert({ id: crypto.randomUUID(), workspace_id: w.ws.id, request_id: id, user_id: w.users.admin, position: 2, notified_at: null });
  assert.not.match(await inbox('admin'), 'Internal sign-off');
});

test.run();
