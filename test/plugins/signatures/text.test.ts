// Free text and names on the signatures forms (issue 13, findings 3 and 4): titles, signer names
// and reasons go through the kernel's text validators (line breaks, controls and bidi overrides
// refused beside the field, nothing saved), and the PDF a signer downloads is named by the
// kernel's rule, even when its stored name predates it.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download } from '../files/helpers.ts';
import { makePdf, send, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite('signatures: text and names');
let w: SigWorld;
let fileId: string;

test.before(async () => {
  w = await sigWorld({ slug: 'text' });
  fileId = await uploadPdf(w, 'Engagement letter.pdf', await makePdf(1));
});
test.after(async () => {
  await w.app.close();
});

const envelopes = async () => Number(((await w.app.kernel.db('signatures_envelopes').count({ n: '*' }).first()) as { n: number | string }).n);

test('a title with a line break or an outside signer named with a bidi override is refused beside the field; nothing is sent', async () => {
  const title = await send(w, fileId, [{ userId: w.users.client_admin, page: 1 }], 'Engagement\r\nBcc: x@evil.example');
  assert.is(title.res.status, 400);
  assert.match(title.res.text, /id="title-error" role="alert">Use one line, without line breaks</);
  const signer = await send(w, fileId, [{ name: 'Eve \u202eniamod', email: 'eve@outside.example', page: 1 }]);
  assert.is(signer.res.status, 400);
  assert.match(signer.res.text, /id="s1_name-error" role="alert">Remove the characters that change the direction of the text</);
  assert.is(await envelopes(), 0);
});

test('the document a signer downloads is named safely, even from a name stored before the rule', async () => {
  const sent = await send(w, fileId, [{ userId: w.users.client_admin, page: 1 }]);
  assert.is(sent.res.status, 303, sent.res.text.slice(0, 500));
  await w.app.kernel.db('signatures_envelopes').where({ id: sent.envelopeId }).update({ document_name: 'Engagement\u202efdp.exe.pdf\u200b' });
  const link = await signingLink(w, w.emails.client_admin);
  const doc = await download(w.app.client(), `${link.path}/document`);
  assert.is(doc.status, 200);
  assert.is(doc.headers.get('content-disposition'), "attachment; filename=\"Engagementfdp.exe.pdf\"; filename*=UTF-8''Engagementfdp.exe.pdf");

  // A reason to decline may have lines, but not a direction override.
  const signer = w.app.client();
  await signer.get(link.path);
  const bad = await signer.postForm(`${link.path}/decline`, { reason: 'Wrong \u202eecnerefer' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'Remove the characters that change the direction of the text');
  assert.is((await w.app.kernel.db('signatures_envelopes').where({ id: sent.envelopeId }).first('status')).status, 'sent');
});

test.run();
