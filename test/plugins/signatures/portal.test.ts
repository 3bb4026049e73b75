// Signatures for a signed-in signer (plugins/signatures/portal.ts, waiting.ts): the envelope where
// a person is the current signer (matched by user id) reaches their home card, /inbox and header
// count, live; "To sign" lists their own requests only; they sign from the portal without the mail,
// which consumes the same single-use link (the mailed link is then dead, and a used, revoked or
// voided link closes the portal page too); someone else's request, another client's, staff's, is
// the same 404; outside signers (no account) are in nobody's inbox. The rule on the signer's own
// row agrees in memory and SQL for every person.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ON_PG } from '../../helpers/app.ts';
import { cookieOf, openSse } from '../../helpers/sse.ts';
import { checkRuleAgreement } from '../../kit/rules.ts';
import { makePdf, send, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite(`signatures: signing in the portal (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
let w: SigWorld;
let fileId: string;
let envelopeId: string;
let memberSigner: string;
let adminSigner: string;

test.before(async () => {
  w = await sigWorld();
  fileId = await uploadPdf(w, 'Engagement letter.pdf', await makePdf(1));
});
test.after(async () => {
  await w.app.close();
});

const count = (html: string) => Number(/sse-swap="waiting"[^>]*>(\d+)</.exec(html)?.[1] ?? NaN);
const signerId = async (env: string, position: number) => String((await w.app.kernel.db('signatures_signers').where({ envelope_id: env, position }).first('id')).id);

test('sent to a client then another: waiting on the first only, in the card, /inbox, the header and To sign; never on anyone else', async () => {
  const sent = await send(w, fileId, [
    { userId: w.users.client_member, page: 1 },
    { userId: w.users.client_admin, page: 1 },
  ]);
  assert.is(sent.res.status, 303, sent.res.text.slice(0, 500));
  envelopeId = sent.envelopeId;
  memberSigner = await signerId(envelopeId, 1);
  adminSigner = await signerId(envelopeId, 2);
  const href = `/w/acme/signatures/sign/${memberSigner}/`;

  const inbox = await w.as.client_member.get('/inbox');
  assert.match(inbox.text, `<a href="${href}">Engagement letter</a>`);
  assert.match(inbox.text, `href="${href}">Sign<span class="visually-hidden">: Engagement letter</span>`);
  assert.is(count(inbox.text), 1);
  const home = await w.as.client_member.get('/w/acme/');
  assert.match(home.text, `<a class="ui-list-title" href="${href}">Sign: Engagement letter</a>`, 'in the waiting card');
  const mine = await w.as.client_member.get('/w/acme/signatures/mine');
  assert.is(mine.status, 200);
  assert.match(mine.text, '1 document is waiting for your signature');
  assert.match(mine.text, `href="${href}"`);
  // The menu: clients get "To sign", never the staff's "Signatures".
  assert.match(home.text, 'href="/w/acme/signatures/mine"');
  assert.not.match(home.text, 'href="/w/acme/signatures"');
  // Allow-listed fields only: no other signer, no email, no fingerprint, no envelope page.
  for (const hiddenFact of ['Ada Admin', w.emails.client_admin, w.emails.client_member, `/signatures/e/${envelopeId}`]) assert.not.match(mine.text, hiddenFact);

  // The second signer: not their turn. Their list says so; nothing waits on them yet.
  assert.is(count((await w.as.client_admin.get('/inbox')).text), 0);
  assert.match((await w.as.client_admin.get('/w/acme/signatures/mine')).text, 'Waiting for earlier signers');
  const early = await w.as.client_admin.get(`/w/acme/signatures/sign/${adminSigner}/`);
  assert.is(early.status, 303);
  assert.match(early.location ?? '', '/w/acme/signatures/mine');
  // Not a signer: nothing listed, and someone else's request is a 404, whoever asks.
  const viewerMine = await w.as.client_viewer.get('/w/acme/signatures/mine');
  assert.match(viewerMine.text, 'No documents to sign');
  assert.not.match(viewerMine.text, 'Engagement letter');
  for (const who of ['client_viewer', 'client_admin', 'staff'] as const) {
    assert.is((await w.as[who].get(href)).status, 404, who);
    assert.is((await w.as[who].get(`${href}document`)).status, 404, who);
    assert.is((await w.as[who].postForm(`${href}consent`, { agree: 'yes' })).status, 404, who);
    assert.is((await w.as[who].postForm(`${href}sign`, { kind: 'typed', typed_name: 'Impostor' })).status, 404, who);
    assert.is((await w.as[who].postForm(`${href}decline`, { reason: 'no' })).status, 404, who);
    assert.not.match((await w.as[who].get('/inbox')).text, 'Engagement letter', who);
  }
  // Staff have no "To sign" page of their own (they read every envelope instead).
  assert.is((await w.as.staff.get('/w/acme/signatures/mine')).status, 404);
});

test('the rule on the signer\'s own row agrees in memory and in SQL, for every person', async () => {
  await send(w, fileId, [{ name: 'Olga Outside', email: 'olga@outside.example', page: 1 }], 'Outside only');
  const { checked, violations } = await checkRuleAgreement(w.app.kernel, ['signatures']);
  assert.ok(checked.filter((c) => c.includes('SignatureRequest')).length >= 4, checked.join('; '));
  assert.equal(violations, []);
  // An outside signer has no account: in nobody's inbox.
  for (const who of ['client_member', 'client_admin', 'client_viewer', 'staff'] as const) assert.not.match((await w.as[who].get('/inbox')).text, 'Outside only', who);
});

test('the signer signs in the portal without the mail; the mailed link is then dead; the next signer is told live', async () => {
  const mailed = await signingLink(w, w.emails.client_member);
  const adminStream = await openSse(`${w.app.url}/live`, cookieOf(w.as.client_admin.cookies));
  const base = `/w/acme/signatures/sign/${memberSigner}`;
  const review = await w.as.client_member.get(`${base}/`);
  assert.is(review.status, 200);
  assert.match(review.text, 'agree to sign this document electronically');
  assert.match(review.text, `action="${base}/consent"`);
  assert.is((await w.as.client_member.get(`${base}/document`)).status, 200);
  const consent = await w.as.client_member.postForm(`${base}/consent`, { agree: 'yes' });
  assert.is(consent.status, 303);
  const form = await w.as.client_member.get(`${base}/`);
  assert.match(form.text, 'name="typed_name"');
  const signed = await w.as.client_member.postForm(`${base}/sign`, { kind: 'typed', typed_name: 'Mo Member' });
  assert.is(signed.status, 200, signed.text.slice(0, 500));
  assert.match(signed.text, 'Thank you, you have signed');
  assert.match(signed.text, 'href="/inbox"');
  const row = await w.app.kernel.db('signatures_signers').where({ id: memberSigner }).first('status', 'user_id', 'link_id');
  assert.is(row.status, 'signed');
  const link = await w.app.kernel.db('links').where({ id: row.link_id }).first('used_at');
  assert.ok(link.used_at, 'the single-use link was consumed');
  const audit = await w.app.kernel.db('audit_events').where({ action: 'signatures.signer.sign', subject_id: memberSigner }).first('actor_id');
  assert.is(audit.actor_id, w.users.client_member, 'recorded as the signed-in person');
  // The mail's link is dead now, like any used link; the portal page too.
  assert.is((await w.app.client().get(mailed.path)).status, 404);
  const again = await w.as.client_member.get(`${base}/`);
  assert.is(again.status, 303, 'back to their list: nothing left to do');
  assert.is((await w.as.client_member.postForm(`${base}/sign`, { kind: 'typed', typed_name: 'Mo Member' })).status, 404);
  assert.is(count((await w.as.client_member.get('/inbox')).text), 0);
  assert.match((await w.as.client_member.get('/w/acme/signatures/mine')).text, 'You signed');
  // The second signer's count went up on their open page; their inbox has it now.
  assert.is((await adminStream.next('waiting')).data, '1');
  adminStream.close();
  assert.match((await w.as.client_admin.get('/inbox')).text, `/w/acme/signatures/sign/${adminSigner}/`);
});

test('a link used from the mail, replaced by a resend, or voided closes the portal page too', async () => {
  // The second signer's current link is replaced by a resend: the portal follows the new one.
  const envelope = envelopeId;
  const before = String((await w.app.kernel.db('signatures_signers').where({ id: adminSigner }).first('link_id')).link_id);
  assert.is((await w.as.staff.postForm(`/w/acme/signatures/e/${envelope}/resend`, {})).status, 303);
  const after = String((await w.app.kernel.db('signatures_signers').where({ id: adminSigner }).first('link_id')).link_id);
  assert.is.not(after, before);
  assert.is((await w.as.client_admin.get(`/w/acme/signatures/sign/${adminSigner}/`)).status, 200);
  // Revoked behind the plugin's back (as a void would): the page closes, nothing can be signed.
  await w.app.kernel.db('links').where({ id: after }).update({ revoked_at: Date.now() });
  const closed = await w.as.client_admin.get(`/w/acme/signatures/sign/${adminSigner}/`);
  assert.is(closed.status, 303);
  assert.is((await w.as.client_admin.postForm(`/w/acme/signatures/sign/${adminSigner}/decline`, { reason: 'No' })).status, 404);
  await w.app.kernel.db('links').where({ id: after }).update({ revoked_at: null });
  // Voided: gone from the inbox, live, and the page is closed.
  const stream = await openSse(`${w.app.url}/live`, cookieOf(w.as.client_admin.cookies));
  assert.is((await w.as.staff.postForm(`/w/acme/signatures/e/${envelope}/void`, { reason: 'Replaced' })).status, 303);
  assert.is((await stream.next('waiting')).data, '0');
  stream.close();
  assert.not.match((await w.as.client_admin.get('/inbox')).text, 'Engagement letter');
  assert.is((await w.as.client_admin.get(`/w/acme/signatures/sign/${adminSigner}/`)).status, 303);
  assert.match((await w.as.client_admin.get('/w/acme/signatures/mine')).text, 'Cancelled by the sender');
});

test('a signer who used the mailed link first: the portal page has nothing left to do', async () => {
  const sent = await send(w, fileId, [{ userId: w.users.client_viewer, page: 1 }], 'Viewer letter');
  const sid = await signerId(sent.envelopeId, 1);
  assert.match((await w.as.client_viewer.get('/inbox')).text, 'Viewer letter', 'a viewer asked to sign may sign');
  const mailed = await signingLink(w, w.emails.client_viewer);
  const anon = w.app.client();
  await anon.get(mailed.path);
  const declined = await anon.postForm(`${mailed.path}/decline`, { reason: 'Wrong person' });
  assert.is(declined.status, 200);
  assert.is((await w.as.client_viewer.get(`/w/acme/signatures/sign/${sid}/`)).status, 303);
  assert.is((await w.as.client_viewer.postForm(`/w/acme/signatures/sign/${sid}/sign`, { kind: 'typed', typed_name: 'Vi' })).status, 404);
  assert.match((await w.as.client_viewer.get('/w/acme/signatures/mine')).text, 'You declined');
  assert.is(count((await w.as.client_viewer.get('/inbox')).text), 0);
});

test.run();
