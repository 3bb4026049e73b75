// Signatures speak for the firm (issue 14): the sender is the firm's, so the request mail and the
// signing page name the firm (from branding), never the client's workspace; every signatures mail
// is in the same branded template as the kernel's notice mails; a sender who also signs gets one
// completion mail, not two; and no event, page, mail or certificate a client sees names the
// product ("Atrium") where the firm's name belongs.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download } from '../files/helpers.ts';
import { makePdf, pdfText, send, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite('signatures: in the firm’s name');
let w: SigWorld;
let envelopeId: string;
let fileId: string;
let signingPage = '';
const FIRM = 'Harbor & Vale LLP'; // the firm name setupOwner gives /setup
const PRIMARY = '#1f4e79'; // the default brand colour /setup saves

interface OutMail {
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string | null;
}
const outbox = async (): Promise<OutMail[]> => (await w.app.kernel.db('outbox').orderBy('created_at').orderBy('id').select('to_address', 'subject', 'text_body', 'html_body')) as OutMail[];

async function signAs(path: string, name: string) {
  const c = w.app.client();
  assert.is((await c.get(path)).status, 200);
  assert.is((await c.postForm(`${path}/consent`, { agree: 'yes' })).status, 303);
  await c.get(path);
  const done = await c.postForm(`${path}/sign`, { kind: 'typed', typed_name: name });
  assert.is(done.status, 200, done.text.slice(0, 500));
}

test.before(async () => {
  w = await sigWorld();
  fileId = await uploadPdf(w, 'Retainer.pdf', await makePdf(1, 'Retainer'));
});
test.after(async () => {
  await w.app.close();
});

test('the staff member sends, signs first themselves, then the client admin signs: completed', async () => {
  const sent = await send(w, fileId, [{ userId: w.users.staff, page: 1 }, { userId: w.users.client_admin, page: 1 }], 'Retainer agreement');
  assert.is(sent.res.status, 303, sent.res.text.slice(0, 1000));
  envelopeId = sent.envelopeId;
  const first = await signingLink(w, w.emails.staff);
  signingPage = (await w.app.client().get(first.path)).text;
  await signAs(first.path, 'Sam Staff');
  await signAs((await signingLink(w, w.emails.client_admin)).path, 'Ada Admin');
  const env = await w.app.kernel.db('signatures_envelopes').where({ id: envelopeId }).first('status');
  assert.is(env.status, 'completed');
});

test('the request mail and the signing page: "Sam Staff of <the firm>", never "of <the client’s workspace>"', async () => {
  const request = (await outbox()).find((m) => m.to_address === w.emails.client_admin && m.subject === 'Please sign: Retainer agreement');
  assert.ok(request, 'the second signer was mailed');
  assert.match(request.text_body, `Sam Staff of ${FIRM} asks you to review and sign "Retainer agreement"`);
  assert.not.match(request.text_body, 'of Acme Ltd');
  assert.match(signingPage, 'Sam Staff of Harbor &amp; Vale LLP asks you');
  assert.not.match(signingPage, 'of Acme Ltd');
});

test('every signatures mail is in the firm’s branded template, like a notice mail', async () => {
  const mine = (await outbox()).filter((m) => /sign/i.test(m.subject));
  // Requests to both signers, and the completion mails.
  assert.ok(mine.length >= 3, JSON.stringify(mine.map((m) => m.subject)));
  for (const m of mine) {
    assert.ok(m.html_body, `${m.subject} to ${m.to_address} has an HTML part`);
    assert.match(m.html_body!, `border-top:4px solid ${PRIMARY}`, 'the branded layout');
    assert.match(m.html_body!, 'Harbor &amp; Vale LLP', 'the firm’s name at the head');
    assert.match(m.text_body, `— ${FIRM}`, 'signed by the firm');
  }
  const request = mine.find((m) => m.to_address === w.emails.client_admin && m.subject.startsWith('Please sign'))!;
  assert.match(request.html_body!, '>Review and sign</a>', 'the link is the call to action');
});

test('the sender who also signed gets one completion mail; every other signer gets theirs', async () => {
  const done = (await outbox()).filter((m) => m.subject === 'Signed by everyone: Retainer agreement');
  assert.is(done.filter((m) => m.to_address === w.emails.staff).length, 1, 'one mail for the sender-signer');
  assert.is(done.filter((m) => m.to_address === w.emails.client_admin).length, 1);
  assert.match(done.find((m) => m.to_address === w.emails.client_admin)!.text_body, 'Download your copy');
});

test('white label: the portal’s own steps are the firm’s, on the events and the certificate; no "Atrium"', async () => {
  const events = (await w.app.kernel.db('signatures_events').where({ envelope_id: envelopeId }).orderBy('seq').select('kind', 'actor_name')) as Array<{ kind: string; actor_name: string }>;
  for (const e of events) assert.not.match(e.actor_name, 'Atrium', `${e.kind} by ${e.actor_name}`);
  assert.is(events.find((e) => e.kind === 'completed')!.actor_name, FIRM);
  assert.is(events.filter((e) => e.kind === 'sent')[1]!.actor_name, `${FIRM} (signing order)`);
  const signed = await download(w.as.staff, `/w/${w.ws.slug}/files/f/${fileId}/download`);
  const pdf = await pdfText(signed.body);
  const certificate = pdf.text.slice(1).join(' ');
  assert.match(certificate, 'Certificate of completion');
  assert.match(certificate, FIRM);
  assert.not.match(certificate, 'Atrium');
  // The mails and the signing pages a client sees.
  for (const m of await outbox()) assert.not.match(`${m.subject} ${m.text_body} ${m.html_body ?? ''}`, 'Atrium', m.subject);
});

test.run();
