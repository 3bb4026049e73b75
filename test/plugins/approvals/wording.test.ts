// Approvals wording (issue 14): a title is the requester's words and often starts with a verb
// ("Approve Q1 brand guidelines"), so no subject or notice puts our own verb in front of it
// ("Approved: Approve Q1…"); and the page after deciding from the mailed link says who keeps the
// record: the firm (its name from branding), not the client's workspace.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { approvalsWorld, hidden, linkIn, mailsTo, requestApproval, uploadFile, type World } from './helpers.ts';

const test = suite('approvals wording');
let w: World;
let fileId: string;

test.before(async () => {
  w = await approvalsWorld();
  fileId = await uploadFile(w, 'Q1 brand guidelines.txt', 'the guidelines');
});
test.after(async () => {
  await w.app.close();
});

/** Every subject and text the firm's people and the approvers were told (notices and mails). */
async function told(): Promise<string[]> {
  const notices = (await w.app.kernel.db('notifications').select('subject', 'body')) as Array<{ subject: string; body: string }>;
  const mails = (await w.app.kernel.db('outbox').select('subject', 'text_body')) as Array<{ subject: string; text_body: string }>;
  return [...notices.flatMap((n) => [n.subject, n.body]), ...mails.flatMap((m) => [m.subject, m.text_body])];
}

/** Our verb right before the title's own ("approve "Approve", "Approved: Approve"). */
const DOUBLED = /approv(?:e|ed|al)\b[:\s]*["“]?Approve\b/i;

test('a title that starts with a verb reads well in every subject and notice, start to finish', async () => {
  const { id } = await requestApproval(w, fileId, { title: 'Approve Q1 brand guidelines', sequence: 'sequential', approvers: [w.users.member, w.users.admin], [`step:${w.users.member}`]: '1', [`step:${w.users.admin}`]: '2' });
  assert.ok(id);
  // The first approves from the mail, the second in the portal: asked, next, approved.
  const path = await linkIn(w, w.emails.member, /Approve Q1/);
  const anon = w.app.client();
  const page = await anon.get(path);
  assert.is((await anon.postForm(path, { decision: 'approve', version: hidden(page.text, 'version') })).status, 200);
  const mine = await w.as.admin.get(`/w/acme/approvals/r/${id}`);
  assert.is((await w.as.admin.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(mine.text, 'version') })).status, 303);
  const subjects = (await mailsTo(w, w.emails.staff)).map((m) => m.subject);
  assert.ok(subjects.includes('“Approve Q1 brand guidelines” was approved'), JSON.stringify(subjects));
  assert.ok((await mailsTo(w, w.emails.member)).some((m) => m.subject === 'Approval requested: “Approve Q1 brand guidelines”'));
  assert.ok((await mailsTo(w, w.emails.admin)).some((m) => m.subject === 'Your approval is needed: “Approve Q1 brand guidelines”'));
  for (const line of await told()) assert.not.match(line, DOUBLED, line);
});

test('changes requested and withdrawn read well too', async () => {
  const changed = await requestApproval(w, fileId, { title: 'Approve the logo', approvers: [w.users.member] });
  const page = await w.as.member.get(`/w/acme/approvals/r/${changed.id}`);
  assert.is((await w.as.member.postForm(`/w/acme/approvals/r/${changed.id}/decide`, { decision: 'changes', comment: 'Bigger, please', version: hidden(page.text, 'version') })).status, 303);
  const withdrawn = await requestApproval(w, fileId, { title: 'Approve the banner', approvers: [w.users.member] });
  assert.is((await w.as.staff.postForm(`/w/acme/approvals/r/${withdrawn.id}/cancel`, {})).status, 303);
  assert.ok((await mailsTo(w, w.emails.staff)).some((m) => m.subject === 'Changes requested on “Approve the logo”'));
  assert.ok((await mailsTo(w, w.emails.member)).some((m) => m.subject === '“Approve the banner” was withdrawn'));
  for (const line of await told()) assert.not.match(line, DOUBLED, line);
});

test('the page after deciding from the link: the firm keeps the record, not the client', async () => {
  const { id } = await requestApproval(w, fileId, { title: 'Approve the colours', approvers: [w.users.member] });
  assert.ok(id);
  const path = await linkIn(w, w.emails.member, /Approve the colours/);
  const anon = w.app.client();
  const page = await anon.get(path);
  const done = await anon.postForm(path, { decision: 'changes', comment: 'Warmer reds', version: hidden(page.text, 'version') });
  assert.is(done.status, 200, done.text.slice(0, 400));
  assert.match(done.text, 'Harbor &amp; Vale LLP keeps a record of your decision');
  assert.match(done.text, 'Your answer to “Approve the colours” is recorded: changes requested. Harbor &amp; Vale LLP has been told.');
  assert.not.match(done.text, /Acme Ltd keeps/);
  assert.not.match(done.text, DOUBLED);
});

test.run();
