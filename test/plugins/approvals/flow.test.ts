// The approval workflow end to end over HTTP: a sequential two-approver request decided from the
// emailed link and in the portal; request changes needs a comment and closes the round; decisions
// are final; a new file version re-opens an approved (or pending) request against it.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { approvalsWorld, hidden, linkIn, mailsTo, requestApproval, uploadFile, type World } from './helpers.ts';
import { upload } from '../files/helpers.ts';

const test = suite('approvals flow');
let w: World;

test.before(async () => {
  w = await approvalsWorld();
});
test.after(async () => {
  await w.app.close();
});

const db = () => w.app.kernel.db;
const req = (id: string) => db()('approvals_requests').where({ id }).first();
const decisions = (id: string) => db()('approvals_decisions').where({ request_id: id }).orderBy('round').orderBy('created_at').orderBy('id');
const fingerprint = async () => JSON.stringify([await db()('approvals_decisions').select('*'), await db()('approvals_requests').select('id', 'status', 'round'), await db()('links').select('id', 'used_at', 'revoked_at')]);

test('sequential, two approvers: the first approves from the email link, the second in the portal', async () => {
  const fileId = await uploadFile(w, 'Design v1.txt', 'the first design');
  const version = await db()('files_versions').where({ file_id: fileId }).first('id', 'sha256');
  // The file page offers "Request approval" to staff (a subject action), never to clients.
  const filePage = await w.as.staff.get(`/w/acme/files/f/${fileId}`);
  assert.match(filePage.text.replaceAll('&#x3D;', '=').replaceAll('&amp;', '&'), `href="/w/acme/approvals/new?type=files.version&subject=${fileId}">Request approval</a>`);
  assert.not.match((await w.as.admin.get(`/w/acme/files/f/${fileId}`)).text, 'Request approval');
  const form = await w.as.staff.get(`/w/acme/approvals/new?type=files.version&subject=${fileId}`);
  assert.match(form.text, version.sha256);
  assert.not.match(form.text, w.emails.viewer, 'viewers cannot approve, so they are not offered');
  const { res, id } = await requestApproval(w, fileId, { sequence: 'sequential', approvers: [w.users.member, w.users.admin], [`step:${w.users.member}`]: '1', [`step:${w.users.admin}`]: '2', message: 'Please check the colours' });
  assert.is(res.status, 303, res.text.slice(0, 500));
  assert.ok(id);
  // Only the first in line is asked; the second waits for their turn.
  assert.is((await mailsTo(w, w.emails.member)).filter((m) => /Approval requested/.test(m.subject)).length, 1);
  assert.is((await mailsTo(w, w.emails.admin)).length, 0);
  const early = await w.as.admin.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: version.id });
  assert.is(early.status, 409);
  assert.match(early.text, 'not your turn');
  assert.is((await decisions(id!)).length, 0);

  // The link works without signing in; GET shows the document and changes nothing.
  const path = await linkIn(w, w.emails.member, /Approval requested/);
  const anon = w.app.client();
  const before = await fingerprint();
  const page = await anon.get(path);
  assert.is(page.status, 200);
  assert.match(page.text, 'Design v1.txt');
  assert.match(page.text, version.sha256);
  assert.match(page.text, 'Please check the colours');
  assert.match(page.text, 'Approve version 1');
  assert.is(page.headers.get('referrer-policy'), 'no-referrer');
  assert.is(await fingerprint(), before, 'a GET of the link must not decide or use it');
  const dl = await anon.get(`${path}/download`);
  assert.is(dl.status, 200);
  assert.is(dl.text, 'the first design');

  w.clock.advance(60_000);
  const done = await anon.postForm(path, { decision: 'approve', version: hidden(page.text, 'version') }, { headers: { 'user-agent': 'MailClient/1.0' } });
  assert.is(done.status, 200, done.text.slice(0, 400));
  assert.match(done.text, 'Decision recorded');
  const [first] = await decisions(id!);
  assert.is(first.approver_id, w.users.member);
  assert.is(first.decided_by, w.users.member);
  assert.is(first.decision, 'approved');
  assert.is(first.via, 'link');
  assert.is(first.sha256, version.sha256);
  assert.is(first.version_id, version.id);
  assert.is(first.user_agent, 'MailClient/1.0');
  assert.ok(first.ip);
  assert.ok(Number(first.created_at) > 0);
  // Single use: the same link again is the same 404 as an unknown one.
  assert.is((await anon.get(path)).status, 404);
  assert.is((await anon.postForm(path, { decision: 'approve', version: version.id })).status, 404);
  assert.is((await req(id!)).status, 'pending');

  // The second approver is asked now, and decides in the portal.
  assert.match((await mailsTo(w, w.emails.admin)).map((m) => m.subject).join('|'), 'Your approval is needed');
  const mine = await w.as.admin.get(`/w/acme/approvals/r/${id}`);
  assert.match(mine.text, 'Your decision');
  const home = await w.as.admin.get('/w/acme/');
  // The home's "Waiting on you" card (core/waiting.ts, fed by the approvals provider) and the header count.
  assert.match(home.text, 'id="widget-core-waiting"');
  // The title already says what to do: the link reads it once ("Approve the design", not "Approve: Approve the design").
  assert.match(home.text, `href="/w/acme/approvals/r/${id}">Approve the design</a>`);
  assert.not.match(home.text, 'Approve: Approve');
  assert.match(home.text, /sse-swap="waiting"[^>]*>1</);
  w.clock.advance(60_000);
  const ok = await w.as.admin.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(mine.text, 'version') }, { headers: { 'user-agent': 'Browser/2.0' } });
  assert.is(ok.status, 303);
  const r = await req(id!);
  assert.is(r.status, 'approved');
  assert.is(Number(r.turnaround_ms), 120_000, 'turnaround: request to final decision');
  assert.ok(r.decided_at);
  const both = await decisions(id!);
  assert.equal(both.map((d: { approver_id: string; via: string; sha256: string }) => [d.approver_id, d.via, d.sha256]), [
    [w.users.member, 'link', version.sha256],
    [w.users.admin, 'portal', version.sha256],
  ]);
  assert.is(both[1].user_agent, 'Browser/2.0');
  assert.match((await mailsTo(w, w.emails.staff)).map((m) => m.subject).join('|'), '“Approve the design” was approved');
  const audit = await db()('audit_events').where({ subject_id: id }).orderBy('seq').pluck('action');
  assert.equal(audit, ['approvals.request.create', 'approvals.document.download', 'approvals.request.approve', 'approvals.request.approve']);
  // Nothing waits for anyone now.
  assert.not.match((await w.as.admin.get('/w/acme/')).text, 'Approve the design</a>');
});

test('request changes needs a comment (nothing saved without it); decisions are final', async () => {
  const fileId = await uploadFile(w, 'Logo.txt', 'logo one');
  const { id } = await requestApproval(w, fileId, { approvers: [w.users.member, w.users.admin], title: 'Logo sign-off' });
  assert.ok(id);
  const page = await w.as.member.get(`/w/acme/approvals/r/${id}`);
  const version = hidden(page.text, 'version');
  const bad = await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'changes', comment: '   ', version });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'Say what needs to change');
  assert.match(bad.text, 'aria-invalid="true"');
  assert.is((await decisions(id!)).length, 0);

  const adminLink = await linkIn(w, w.emails.admin, /Logo sign-off/);
  const ok = await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'changes', comment: 'Make it bigger', version });
  assert.is(ok.status, 303);
  assert.is((await req(id!)).status, 'changes_requested');
  assert.match((await mailsTo(w, w.emails.staff)).map((m) => m.text).join('\n'), 'Make it bigger');
  // The round is closed: the other approver's link died with it, and a second answer is refused.
  assert.is((await w.app.client().get(adminLink)).status, 404);
  const again = await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version });
  assert.is(again.status, 409);
  const rows = await decisions(id!);
  assert.is(rows.length, 1);
  assert.is(rows[0].comment, 'Make it bigger');
  assert.is(rows[0].decision, 'changes_requested');
});

test('a new version re-opens an approved request against it; the history shows each version', async () => {
  const fileId = await uploadFile(w, 'Brochure.txt', 'brochure v1');
  const { id } = await requestApproval(w, fileId, { approvers: [w.users.member], title: 'Brochure' });
  const page = await w.as.member.get(`/w/acme/approvals/r/${id}`);
  assert.is((await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: hidden(page.text, 'version') })).status, 303);
  assert.is((await req(id!)).status, 'approved');
  const v1 = await req(id!);

  // Staff upload version 2 of the same file (same name, same folder).
  const res = await upload(w.as.staff, `/w/acme/files/upload`, [{ name: 'Brochure.txt', data: 'brochure v2' }]);
  assert.is(res.status, 200);
  const v2 = await db()('files_versions').where({ file_id: fileId, number: 2 }).first('id', 'sha256');
  const r = await req(id!);
  assert.is(r.status, 'pending');
  assert.is(Number(r.round), 2);
  assert.is(r.version_id, v2.id);
  assert.is(r.sha256, v2.sha256);
  assert.is.not(r.sha256, v1.sha256);
  assert.is(r.decided_at, null);
  // The approver is told, with a fresh link for the new version.
  const path = await linkIn(w, w.emails.member, /New version to approve/);
  const linkPage = await w.app.client().get(path);
  assert.match(linkPage.text, 'Approve version 2');
  assert.match(linkPage.text, v2.sha256);
  const history = await w.as.member.get(`/w/acme/approvals/r/${id}`);
  assert.match(history.text, 'Version 2: Open');
  assert.match(history.text, 'Version 1: Approved');
  assert.ok((await db()('audit_events').where({ subject_id: id, action: 'approvals.request.reopen' }).first()));

  // An answer for the old version (a stale page) is refused; the new one is recorded.
  const stale = await w.as.member.postForm(`/w/acme/approvals/r/${id}/decide`, { decision: 'approve', version: v1.version_id });
  assert.is(stale.status, 409);
  assert.match(stale.text, 'newer version');
  const anon = w.app.client();
  const p = await anon.get(path);
  assert.is((await anon.postForm(path, { decision: 'approve', version: hidden(p.text, 'version') })).status, 200);
  const rows = await decisions(id!);
  assert.equal(rows.map((d: { round: number; sha256: string }) => [Number(d.round), d.sha256]), [
    [1, v1.sha256],
    [2, v2.sha256],
  ]);
  assert.is((await req(id!)).status, 'approved');
});

test('a new version of a pending request revokes the old links and asks again', async () => {
  const fileId = await uploadFile(w, 'Plan.txt', 'plan v1');
  const { id } = await requestApproval(w, fileId, { approvers: [w.users.member2], title: 'Plan' });
  const old = await linkIn(w, w.emails.member2, /Plan/);
  assert.is((await w.app.client().get(old)).status, 200);
  await upload(w.as.staff, `/w/acme/files/upload`, [{ name: 'Plan.txt', data: 'plan v2' }]);
  assert.is((await w.app.client().get(old)).status, 404);
  const fresh = await linkIn(w, w.emails.member2, /New version to approve: “Plan/);
  assert.is.not(fresh, old);
  assert.match((await w.app.client().get(fresh)).text, 'Approve version 2');
  const rounds = await db()('approvals_rounds').where({ request_id: id }).orderBy('round').pluck('outcome');
  assert.equal(rounds, ['superseded', null]);
});

test('a line break in the title is a 400 beside the field, nothing saved and nothing mailed (was a 500 from the outbox)', async () => {
  const fileId = await uploadFile(w, 'Title check.txt', 'checking titles');
  const count = async () => Number(((await db()('approvals_requests').count({ n: '*' }).first()) as { n: number | string }).n);
  const outbox = async () => Number(((await db()('outbox').count({ n: '*' }).first()) as { n: number | string }).n);
  const before = [await count(), await outbox()];
  for (const title of ['Approve\r\nBcc: someone@evil.example', 'Approve\nthis', 'Approve\u2028this', 'Approve \u202egnp.exe']) {
    const { res, id } = await requestApproval(w, fileId, { title, approvers: [w.users.member], message: 'Line one\r\nLine two' });
    assert.is(res.status, 400, `${JSON.stringify(title)}: ${res.status}`);
    assert.not.ok(id);
    assert.match(res.text, /<p class="field-error" id="title-error" role="alert">(Use one line, without line breaks|Remove the characters that change the direction of the text)<\/p>/);
    assert.match(res.text, 'aria-describedby="title-error"');
  }
  assert.equal([await count(), await outbox()], before);
  // The message may have lines (CRLF kept as LF); whitespace in the title is folded.
  const { res, id } = await requestApproval(w, fileId, { title: '  Approve\tthe\u00a0 copy\u200b  ', approvers: [w.users.member], message: 'Line one\r\nLine two' });
  assert.is(res.status, 303, res.text.slice(0, 500));
  const row = await req(id!);
  assert.is(row.title, 'Approve the copy');
  assert.is(row.message, 'Line one\nLine two');
});

test.run();
