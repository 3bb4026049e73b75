// What can go wrong around a signature: the document changed after sending (a new version, or
// its stored bytes altered) is refused and recorded; a signer declines; staff void or resend;
// a bad form saves nothing and says why beside the field; clients never reach the staff pages.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { upload } from '../files/helpers.ts';
import { mails, makePdf, prepare, send, sha, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite('signatures: tamper, decline, void, forms');
let w: SigWorld;

test.before(async () => {
  w = await sigWorld();
});
test.after(async () => {
  await w.app.close();
});

const events = async (envelopeId: string) => (await w.app.kernel.db('signatures_events').where({ envelope_id: envelopeId }).orderBy('seq').pluck('kind')) as string[];

async function consented(path: string) {
  const c = w.app.client();
  assert.is((await c.get(path)).status, 200);
  assert.is((await c.postForm(`${path}/consent`, { agree: 'yes' })).status, 303);
  return c;
}

test('a new version uploaded after sending: signing is refused with a clear message, recorded, the sender told', async () => {
  const fileId = await uploadPdf(w, 'Statement of work.pdf', await makePdf(2, 'SOW'));
  const { envelopeId } = await send(w, fileId, [{ userId: w.users.client_admin, page: 1 }], 'SOW');
  const link = await signingLink(w, w.emails.client_admin);
  const signer = await consented(link.path);
  const v2 = await makePdf(2, 'SOW (edited)');
  assert.is((await upload(w.as.staff, `/w/${w.ws.slug}/files/f/${fileId}/versions`, [{ name: 'Statement of work.pdf', data: v2, field: 'file' }])).status, 200);
  const page = await signer.get(link.path);
  assert.match(page.text, 'changed after it was sent');
  const res = await signer.postForm(`${link.path}/sign`, { kind: 'typed', typed_name: 'Ada Admin' });
  assert.is(res.status, 409);
  assert.match(res.text, 'changed after it was sent');
  const s = await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId }).first('status', 'signed_at');
  assert.is(s.status, 'pending');
  assert.is(s.signed_at, null);
  assert.ok((await events(envelopeId)).includes('refused'));
  const audit = await w.app.kernel.db('audit_events').where({ action: 'signatures.signer.refuse' }).first('detail');
  assert.match(String(typeof audit.detail === 'string' ? audit.detail : JSON.stringify(audit.detail)), 'new-version');
  assert.ok(await w.app.kernel.db('notifications').where({ user_id: w.users.staff, kind: 'signatures.envelope' }).whereRaw("subject like 'Signing stopped%'").first());
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status', 'signed_version_id');
  assert.is(env.status, 'sent');
  assert.is(env.signed_version_id, null);
});

test('the stored bytes altered after sending (same version): signing is refused, nothing is signed', async () => {
  const original = await makePdf(1, 'NDA');
  const fileId = await uploadPdf(w, 'NDA.pdf', original);
  const { envelopeId } = await send(w, fileId, [{ userId: w.users.client_member, page: 1 }], 'NDA');
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('version_id', 'sha256_sent');
  assert.is(env.sha256_sent, sha(original));
  const link = await signingLink(w, w.emails.client_member);
  const signer = await consented(link.path);
  // Flip one byte of the encrypted blob on disk.
  const v = await w.app.kernel.db('files_versions').where({ id: env.version_id }).first('blob_key');
  const path = join(w.app.db.dataDir, 'blobs', String(v.blob_key).slice(0, 2), String(v.blob_key));
  const bytes = readFileSync(path);
  bytes[bytes.length - 40] ^= 0x01;
  writeFileSync(path, bytes);
  const res = await signer.postForm(`${link.path}/sign`, { kind: 'typed', typed_name: 'Mo Member' });
  assert.is(res.status, 409);
  assert.match(res.text, 'no longer matches what was sent');
  assert.is((await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId }).first('status')).status, 'pending');
  assert.ok((await events(envelopeId)).includes('refused'));
  // The link was not used up by the refusal: once the sender fixes things it still identifies the signer.
  assert.is((await w.app.client().get(link.path)).status, 200);
});

test('a signer declines with a reason: the envelope ends, later signers are never asked, the sender is told', async () => {
  const fileId = await uploadPdf(w, 'Retainer.pdf', await makePdf(2, 'Retainer'));
  const { envelopeId } = await send(w, fileId, [
    { name: 'Erin External', email: 'erin@outside.example', page: 1 },
    { userId: w.users.client_viewer, page: 2 },
  ], 'Retainer');
  const link = await signingLink(w, 'erin@outside.example');
  const signer = w.app.client();
  await signer.get(link.path);
  const empty = await signer.postForm(`${link.path}/decline`, { reason: '' });
  assert.is(empty.status, 400);
  assert.match(empty.text, 'Tell the sender why you decline');
  assert.match(empty.text, 'id="decline-reason-error"');
  assert.is((await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status')).status, 'sent');
  const res = await signer.postForm(`${link.path}/decline`, { reason: 'The fee is wrong.' });
  assert.is(res.status, 200);
  assert.match(res.text, 'You declined to sign');
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status', 'finished_at');
  assert.is(env.status, 'declined');
  assert.ok(env.finished_at);
  const signers = (await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId }).orderBy('position').select('status', 'decline_reason')) as Array<{ status: string; decline_reason: string | null }>;
  assert.equal(signers.map((s) => s.status), ['declined', 'voided']);
  assert.is(signers[0]!.decline_reason, 'The fee is wrong.');
  assert.ok((await events(envelopeId)).includes('declined'));
  assert.is((await w.app.client().get(link.path)).status, 404);
  await new Promise((r) => setTimeout(r, 1500));
  assert.not.ok((await mails(w)).some((m) => m.to === w.emails.client_viewer && m.subject.includes('Retainer')), 'the second signer was never asked');
  const staffPage = await w.as.staff.get(`${w.base}/e/${envelopeId}`);
  assert.match(staffPage.text, 'The fee is wrong.');
  assert.match(staffPage.text, 'Declined');
});

test('staff resend a link (the old one dies) and void an envelope after confirming (every link dies)', async () => {
  const fileId = await uploadPdf(w, 'Lease.pdf', await makePdf(1, 'Lease'));
  const { envelopeId } = await send(w, fileId, [{ name: 'Lee Lessee', email: 'lee@outside.example', page: 1 }], 'Lease');
  const old = await signingLink(w, 'lee@outside.example');
  const page = await w.as.staff.get(`${w.base}/e/${envelopeId}`);
  // Voiding is confirmed in a dialog: a plain form (reason field, confirm button) that works without JS.
  assert.match(page.text, /<details class="ui-dialog" data-ui-dialog id="void">[\s\S]*?<h2 class="ui-dialog-title" id="void-title">Void this envelope\?<\/h2>[\s\S]*?<form method="post" action="[^"]+\/void">[\s\S]*?name="reason"[\s\S]*?<button type="submit" class="button button-danger">Void envelope<\/button>/);
  assert.is((await w.as.staff.postForm(`${w.base}/e/${envelopeId}/resend`, {})).status, 303);
  const fresh = await signingLink(w, 'lee@outside.example', 2);
  assert.is.not(fresh.token, old.token);
  assert.is((await w.app.client().get(old.path)).status, 404);
  assert.is((await w.app.client().get(fresh.path)).status, 200);
  const v = await w.as.staff.postForm(`${w.base}/e/${envelopeId}/void`, { reason: 'Wrong property' });
  assert.is(v.status, 303);
  assert.is((await w.app.client().get(fresh.path)).status, 404);
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status', 'void_reason');
  assert.is(env.status, 'voided');
  assert.is(env.void_reason, 'Wrong property');
  assert.equal(await events(envelopeId), ['created', 'sent', 'resent', 'opened', 'voided']);
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'signatures.envelope.void', subject_id: envelopeId }).first());
});

test('forms: a non-PDF is refused; no signer, a bad email or a page out of range come back beside the field and save nothing', async () => {
  const txt = await upload(w.as.staff, `/w/${w.ws.slug}/files/upload`, [{ name: 'notes.txt', data: 'plain' }]);
  assert.is(txt.status, 200);
  const txtId = String((await w.app.kernel.db('files_files').where({ name: 'notes.txt' }).first('id')).id);
  const notPdf = await w.as.staff.get(`${w.base}/new?file=${txtId}`);
  assert.is(notPdf.status, 400);
  assert.match(notPdf.text, 'is not a PDF');
  const fileId = await uploadPdf(w, 'Forms.pdf', await makePdf(2, 'Forms'));
  const picker = await w.as.staff.get(`${w.base}/new`);
  assert.is(picker.status, 200);
  assert.match(picker.text, 'Choose a PDF');
  assert.match(picker.text, fileId);
  assert.not.match(picker.text, txtId, 'only PDFs are offered');
  assert.is((await w.as.staff.get(`${w.base}/new?file=0190aaaa-0000-7000-8000-000000000000`)).status, 404);
  const count = async () => Number((await w.app.kernel.db('signatures_envelopes').count({ n: '*' }).first())!.n);
  const before = await count();
  const { version } = await prepare(w, fileId);
  const none = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Forms', version });
  assert.is(none.status, 400);
  assert.match(none.text, 'Choose at least one signer');
  assert.match(none.text, 'id="s1_who-error"');
  const bad = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Forms', version, s1_who: 'other', s1_name: 'X', s1_email: 'not-an-email', s1_page: '3', s1_position: 'bottom-left' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'Enter a valid email address');
  assert.match(bad.text, 'Choose a page from 1 to 2');
  assert.match(bad.text, 'value="X"', 'what was typed comes back');
  // SECURITY.md 46: header injection and quoted local parts are refused beside the field.
  const inject = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Forms', version, s1_who: 'other', s1_name: 'Bob\r\nBcc: x@evil.example', s1_email: '"a@evil.com x"@corp.example', s1_page: '1', s1_position: 'bottom-left' });
  assert.is(inject.status, 400);
  assert.match(inject.text, 'id="s1_name-error"');
  assert.match(inject.text, 'id="s1_email-error"');
  const noTitle = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: '', version, s1_who: `user:${w.users.client_admin}`, s1_page: '1', s1_position: 'bottom-left' });
  assert.is(noTitle.status, 400);
  assert.match(noTitle.text, 'Give the envelope a title');
  const stranger = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Forms', version, s1_who: 'user:0190aaaa-0000-7000-8000-000000000000', s1_page: '1', s1_position: 'bottom-left' });
  assert.is(stranger.status, 400);
  const stale = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Forms', version: 'an-older-version', s1_who: `user:${w.users.client_admin}`, s1_page: '1', s1_position: 'bottom-left' });
  assert.is(stale.status, 409);
  assert.match(stale.text, 'A new version of this file was uploaded');
  const extra = await w.as.staff.postForm(`${w.base}/new?file=${fileId}`, { title: 'Forms', version, s1_who: `user:${w.users.client_admin}`, s1_page: '1', s1_position: 'bottom-left', status: 'completed' });
  assert.is(extra.status, 400, 'unknown fields are refused');
  assert.is(await count(), before);
});

test('clients never reach the staff side: list, form, envelope, void and resend are 404 for every client role', async () => {
  const fileId = await uploadPdf(w, 'Client view.pdf', await makePdf(1, 'Client view'));
  const { envelopeId } = await send(w, fileId, [{ userId: w.users.client_admin, page: 1 }], 'Client view');
  for (const role of ['client_admin', 'client_member', 'client_viewer'] as const) {
    const c = w.as[role];
    assert.is((await c.get(`${w.base}/`)).status, 404, role);
    assert.is((await c.get(`${w.base}/new?file=${fileId}`)).status, 404, role);
    assert.is((await c.get(`${w.base}/e/${envelopeId}`)).status, 404, role);
    assert.is((await c.postForm(`${w.base}/e/${envelopeId}/void`, {})).status, 404, role);
    assert.is((await c.postForm(`${w.base}/e/${envelopeId}/resend`, {})).status, 404, role);
  }
  assert.is((await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status')).status, 'sent');
  const list = await w.as.staff.get(`${w.base}/`);
  assert.match(list.text, 'Client view');
  const staffHome = await w.as.staff.get(`/w/${w.ws.slug}/`);
  assert.match(staffHome.text, 'waiting for signatures');
  assert.match(staffHome.text, `${w.base}/e/${envelopeId}`);
  const clientHome = await w.as.client_admin.get(`/w/${w.ws.slug}/`);
  assert.not.match(clientHome.text, 'Out for signature');
  assert.not.match(clientHome.text, envelopeId);
  const filtered = await w.as.staff.get(`${w.base}/?status=voided`);
  assert.not.match(filtered.text, 'Client view');
});

test.run();
