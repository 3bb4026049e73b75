// The staff approvals queue opens on what still needs the firm (issue 14): requests waiting for an
// answer and those where changes were requested (the firm's move), not approved or withdrawn ones;
// the other statuses are one choice away.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { approvalsWorld, hidden, requestApproval, uploadFile, type World } from './helpers.ts';

const test = suite('approvals queue');
let w: World;

test.before(async () => {
  w = await approvalsWorld();
  const fileId = await uploadFile(w, 'Plan.txt', 'the plan');
  const decide = async (title: string, decision: 'approve' | 'changes') => {
    const { id } = await requestApproval(w, fileId, { title, approvers: [w.users.member] });
    const page = await w.as.member.get(`/w/acme/approvals/r/${id}`);
    const res = await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision, comment: 'Not yet', version: hidden(page.text, 'version') });
    if (res.status !== 303) throw new Error(`decide ${title}: ${res.status}`);
  };
  await requestApproval(w, fileId, { title: 'Still waiting', approvers: [w.users.member] });
  await decide('Sent back', 'changes');
  await decide('All done', 'approve');
  const gone = await requestApproval(w, fileId, { title: 'Withdrawn one', approvers: [w.users.member] });
  await w.as.staff.postForm(`/w/acme/approvals/r/${gone.id}/cancel`, {});
});
test.after(async () => {
  await w.app.close();
});

test('the default shows waiting and changes requested, and says so in the filter', async () => {
  const page = await w.as.staff.get('/staff/approvals/');
  assert.is(page.status, 200);
  assert.match(page.text, 'Still waiting');
  assert.match(page.text, 'Sent back', 'changes requested needs the firm');
  assert.not.match(page.text, 'All done');
  assert.not.match(page.text, 'Withdrawn one');
  assert.match(page.text, /<option value="open" selected>Waiting or changes requested<\/option>/);
  // The htmx swap of the results alone gives the same rows.
  const fragment = await w.as.staff.get('/staff/approvals/', { 'HX-Request': 'true', 'HX-Target': 'approvals-queue' });
  assert.match(fragment.text, 'Sent back');
  assert.not.match(fragment.text, 'All done');
});

test('every status is still one choice away; an unknown status falls back to the default', async () => {
  const only = async (status: string) => (await w.as.staff.get(`/staff/approvals/?status=${status}`)).text;
  assert.match(await only('pending'), 'Still waiting');
  assert.not.match(await only('pending'), 'Sent back');
  assert.match(await only('changes_requested'), 'Sent back');
  assert.match(await only('approved'), 'All done');
  assert.match(await only('cancelled'), 'Withdrawn one');
  const all = await only('all');
  for (const t of ['Still waiting', 'Sent back', 'All done', 'Withdrawn one']) assert.match(all, t);
  const odd = await only('nonsense');
  assert.match(odd, 'Sent back');
  assert.not.match(odd, 'All done');
});

test.run();
