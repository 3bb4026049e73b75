// E-signatures end to end: a 2-page PDF from Files sent to two signers in order; each signs
// through their single-purpose link (one typed, one drawn); the result is a new version with both
// signatures on their pages and a certificate page listing every event, and the SHA-256 recorded
// at sending equals the original's. Used links are dead; signatures cannot be made twice.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download } from '../files/helpers.ts';
import { mails, makePdf, makePng, pdfText, send, sha, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite('signatures: signing in order');
let w: SigWorld;
let original: Buffer;
let fileId: string;
let envelopeId: string;
let first: { path: string; token: string };
let second: { path: string; token: string };

test.before(async () => {
  w = await sigWorld();
  original = await makePdf(2);
  fileId = await uploadPdf(w, 'Engagement letter.pdf', original);
});
test.after(async () => {
  await w.app.close();
});

test('staff send a 2-page PDF to two signers; the SHA-256 at sending is the original\'s; only the first is asked', async () => {
  const sent = await send(w, fileId, [
    { userId: w.users.client_admin, page: 1, position: 'bottom-left' },
    { userId: w.users.client_member, page: 2, position: 'bottom-right' },
  ]);
  assert.is(sent.res.status, 303, sent.res.text.slice(0, 2000));
  envelopeId = sent.envelopeId;
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first();
  assert.is(env.sha256_sent, sha(original));
  assert.is(env.status, 'sent');
  assert.is(Number(env.page_count), 2);
  first = await signingLink(w, w.emails.client_admin);
  const signers = await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId }).orderBy('position');
  assert.equal(signers.map((s: { status: string }) => s.status), ['pending', 'waiting']);
  // The links table keeps only the hash; no signer row keeps the token.
  assert.ok(await w.app.kernel.db('links').where({ token_hash: sha(Buffer.from(first.token)) }).first());
  assert.not.ok(JSON.stringify(signers).includes(first.token));
  const page = await w.as.staff.get(`${w.base}/e/${envelopeId}`);
  assert.is(page.status, 200);
  assert.match(page.text, 'Ada Admin');
  assert.match(page.text, sha(original));
});

test('the first signer opens the link without signing in, downloads the exact sent version, consents and types a signature', async () => {
  const signer = w.app.client();
  const review = await signer.get(first.path);
  assert.is(review.status, 200, review.text.slice(0, 500));
  assert.match(review.text, 'Engagement letter');
  assert.match(review.text, 'agree to sign this document electronically');
  assert.not.match(review.text, 'name="typed_name"'); // consent comes first
  const doc = await download(signer, `${first.path}/document`);
  assert.is(doc.status, 200);
  assert.is(sha(doc.body), sha(original));
  assert.match(doc.headers.get('content-disposition')!, /^attachment;/);
  // Signing before consenting is refused.
  const early = await signer.postForm(`${first.path}/sign`, { kind: 'typed', typed_name: 'Ada Admin' });
  assert.is(early.status, 400);
  assert.match(early.text, 'Agree to sign electronically first');
  const noTick = await signer.postForm(`${first.path}/consent`, {});
  assert.is(noTick.status, 400);
  assert.match(noTick.text, 'Tick the box');
  const consent = await signer.postForm(`${first.path}/consent`, { agree: 'yes' });
  assert.is(consent.status, 303);
  const form = await signer.get(first.path);
  assert.match(form.text, 'name="typed_name"');
  const blank = await signer.postForm(`${first.path}/sign`, { kind: 'typed', typed_name: '' });
  assert.is(blank.status, 400);
  assert.match(blank.text, 'Type your full name');
  const done = await signer.postForm(`${first.path}/sign`, { kind: 'typed', typed_name: 'Ada Admin' });
  assert.is(done.status, 200, done.text.slice(0, 500));
  assert.match(done.text, 'you have signed');
  const s = await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId, position: 1 }).first();
  assert.is(s.status, 'signed');
  assert.is(s.consent_version, '2026-11-1');
  assert.is(s.consent_sha256.length, 64);
  assert.is(s.sha256_at_signing, sha(original));
});

test('a used link is dead: a second signature on it, or opening it again, is 404 and changes nothing', async () => {
  const again = w.app.client();
  assert.is((await again.get(first.path)).status, 404);
  await again.ensureCsrf();
  const before = await w.app.kernel.db('signatures_events').where({ envelope_id: envelopeId }).count({ n: '*' }).first();
  const twice = await again.postForm(`${first.path}/sign`, { kind: 'typed', typed_name: 'Someone Else' });
  assert.is(twice.status, 404);
  const after = await w.app.kernel.db('signatures_events').where({ envelope_id: envelopeId }).count({ n: '*' }).first();
  assert.is(Number(after!.n), Number(before!.n));
  const s = await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId, position: 1 }).first();
  assert.is(s.signature_text, 'Ada Admin');
});

test('the second signer is asked only now, and a drawn signature that is not a PNG is refused beside the field', async () => {
  second = await signingLink(w, w.emails.client_member);
  const signer = w.app.client();
  assert.is((await signer.get(second.path)).status, 200);
  assert.is((await signer.postForm(`${second.path}/consent`, { agree: 'yes' })).status, 303);
  await signer.get(second.path);
  const svg = `data:image/png;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>').toString('base64')}`;
  const bad = await signer.postForm(`${second.path}/sign`, { kind: 'drawn', drawn: svg });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'not a valid PNG');
  assert.match(bad.text, 'id="drawn-error"');
  // Over the kernel's 100 kB form limit: refused before the handler (the 200 KB PNG cap itself is
  // checked in pdf.test.ts).
  const huge = `data:image/png;base64,${Buffer.concat([makePng(), Buffer.alloc(210_000)]).toString('base64')}`;
  const tooBig = await signer.postForm(`${second.path}/sign`, { kind: 'drawn', drawn: huge });
  assert.is(tooBig.status, 413);
  const tiny = await signer.postForm(`${second.path}/sign`, { kind: 'drawn', drawn: `data:image/png;base64,${makePng(5, 5).toString('base64')}` });
  assert.is(tiny.status, 400);
  assert.match(tiny.text, 'unexpected dimensions');
  const s = await w.app.kernel.db('signatures_signers').where({ envelope_id: envelopeId, position: 2 }).first();
  assert.is(s.status, 'pending');
  const ok = await signer.postForm(`${second.path}/sign`, { kind: 'drawn', drawn: `data:image/png;base64,${makePng().toString('base64')}` });
  assert.is(ok.status, 200, ok.text.slice(0, 500));
  assert.match(ok.text, 'Everyone has now signed');
});

test('the signed version opens in a PDF parser: both signatures on their pages, then the certificate of every event', async () => {
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first();
  assert.is(env.status, 'completed');
  const file = await w.app.kernel.db('files_files').where({ id: fileId }).first('current_version_id');
  assert.is(file.current_version_id, env.signed_version_id);
  const versions = await w.app.kernel.db('files_versions').where({ file_id: fileId }).orderBy('number').select('number', 'sha256');
  assert.is(versions.length, 2);
  assert.is(versions[0].sha256, sha(original), 'the original version is kept unchanged');
  const signed = await download(w.as.staff, `/w/${w.ws.slug}/files/f/${fileId}/download`);
  assert.is(signed.status, 200);
  assert.is(sha(signed.body), env.sha256_final);
  const pdf = await pdfText(signed.body);
  assert.is(pdf.pages, 3, 'original pages + the certificate');
  assert.match(pdf.text[0]!, 'Ada Admin', 'the typed signature is on page 1');
  assert.match(pdf.text[0]!, 'Signed electronically by Ada Admin');
  assert.not.ok(pdf.images[0], 'no image on page 1');
  assert.ok(pdf.images[1], 'the drawn signature is an image on page 2');
  assert.match(pdf.text[1]!, 'Signed electronically by Mo Member');
  const cert = pdf.text[2]!.replace(/\s+/g, ' ');
  assert.match(cert, 'Certificate of completion');
  assert.match(cert, sha(original), 'the SHA-256 at sending is the original bytes\' hash');
  assert.match(cert, env.sha256_stamped);
  for (const kind of ['CREATED', 'SENT', 'OPENED', 'CONSENTED', 'SIGNED', 'COMPLETED']) assert.match(cert, kind);
  for (const name of ['Ada Admin', 'Mo Member', 'Sam Staff']) assert.match(cert, name);
  assert.match(cert, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  assert.match(cert, '127.0.0.1');
  assert.match(cert, 'node', 'the user agent of the signers (fetch)');
  assert.match(cert, '2026-11-1', 'the consent text version');
  // The final hash is in the completion event and the audit log, and on the envelope page.
  const completed = await w.app.kernel.db('audit_events').where({ action: 'signatures.envelope.complete', subject_id: envelopeId }).first('detail');
  const detail = typeof completed.detail === 'string' ? JSON.parse(completed.detail) : completed.detail;
  assert.is(detail.sha256Final, sha(signed.body));
  assert.is(detail.sha256Sent, sha(original));
  const page = await w.as.staff.get(`${w.base}/e/${envelopeId}`);
  assert.match(page.text, sha(signed.body));
  assert.match(page.text, 'Completed');
  // The files plugin recorded the new version as a version (audit, event).
  assert.ok(await w.app.kernel.db('audit_events').where({ action: 'files.version.create', subject_id: fileId }).whereRaw("detail like '%signatures%'").first());
});

test('everyone is told when it is complete: the sender by notification, each signer by mail with a copy link', async () => {
  const told = (await w.app.kernel.db('notifications').where({ kind: 'signatures.envelope' }).pluck('user_id')) as string[];
  assert.equal(told, [w.users.staff]);
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('sha256_final');
  for (const email of [w.emails.client_admin, w.emails.client_member]) {
    let copy: { path: string; token: string } | undefined;
    for (let i = 0; i < 100 && !copy; i++) {
      const m = (await mails(w)).find((x) => x.to === email && x.subject.startsWith('Signed by everyone'));
      const found = m ? /http:\/\/127\.0\.0\.1:3000(\/l\/signatures\/([A-Za-z0-9_-]{43}))/.exec(m.text) : null;
      if (found) copy = { path: found[1]!, token: found[2]! };
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(copy, `a copy link mailed to ${email}`);
    const c = w.app.client();
    const page = await c.get(copy!.path);
    assert.is(page.status, 200);
    assert.match(page.text, 'Download the signed document');
    assert.match(page.text, env.sha256_final);
    const doc = await download(c, `${copy!.path}/document`);
    assert.is(doc.status, 200);
    assert.is(sha(doc.body), env.sha256_final);
    assert.match(doc.headers.get('content-disposition')!, /Engagement letter \(signed\)\.pdf/);
    // A copy link downloads; it never signs, consents or declines, and it still works after a download.
    assert.is((await c.postForm(`${copy!.path}/sign`, { kind: 'typed', typed_name: 'x' })).status, 404);
    assert.is((await c.postForm(`${copy!.path}/decline`, { reason: 'x' })).status, 404);
    assert.is((await c.get(copy!.path)).status, 200);
    const staffPage = await w.as.staff.get(`${w.base}/e/${envelopeId}`);
    assert.not.ok(staffPage.text.includes(copy!.token), 'the staff page never shows a copy link');
  }
});

test('every state change is in the audit log, and the chain verifies', async () => {
  const actions = (await w.app.kernel.db('audit_events').where({ subject_id: envelopeId }).orWhereRaw('detail like ?', [`%${envelopeId}%`]).pluck('action')) as string[];
  for (const a of ['signatures.envelope.create', 'signatures.envelope.send', 'signatures.signer.open', 'signatures.signer.consent', 'signatures.signer.sign', 'signatures.envelope.complete']) assert.ok(actions.includes(a), a);
  const verify = await w.app.kernel.audit.verify(w.app.kernel.db);
  assert.ok(verify.ok, JSON.stringify(verify));
});

test('signatures are immutable: a completed envelope cannot be voided or resent, and nothing on it changes', async () => {
  const v = await w.as.staff.postForm(`${w.base}/e/${envelopeId}/void`, { reason: 'changed my mind' });
  assert.is(v.status, 409);
  const r = await w.as.staff.postForm(`${w.base}/e/${envelopeId}/resend`, {});
  assert.is(r.status, 303);
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status');
  assert.is(env.status, 'completed');
  assert.is((await w.app.client().get(second.path)).status, 404);
});

test.run();
