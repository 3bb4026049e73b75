// Recipient links never leak (Documenso #844: an API listing envelopes and recipients returned
// every recipient's signing token to other users, who could then sign as them). Every page,
// fragment, list, JSON and CSV export that anyone other than the link's own holder can open is
// scanned for every raw token mailed so far and for its stored hash. And a signer's link for
// workspace A cannot be pointed at anything of workspace B.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import { allTokens, makePdf, send, sha, sigWorld, signingLink, uploadPdf, type SigWorld } from './helpers.ts';

const test = suite('signatures: recipient links never leak');
let w: SigWorld;
let envelopeId: string;
let fileId: string;

test.before(async () => {
  w = await sigWorld();
  fileId = await uploadPdf(w, 'Master services agreement.pdf', await makePdf(2, 'MSA'));
  const sent = await send(w, fileId, [
    { userId: w.users.client_admin, page: 1 },
    { name: 'Olu Outside', email: 'olu@outside.example', page: 2 },
    { userId: w.users.client_member, page: 2, position: 'top-right' },
  ], 'MSA');
  envelopeId = sent.envelopeId;
  // A resent link too: the revoked token must not surface either.
  await signingLink(w, w.emails.client_admin);
  await w.as.staff.postForm(`${w.base}/e/${envelopeId}/resend`, {});
  await signingLink(w, w.emails.client_admin, 2);
});
test.after(async () => {
  await w.app.close();
});

function scan(label: string, text: string, tokens: string[], except: string[] = []) {
  for (const t of tokens) {
    if (except.includes(t)) continue;
    assert.not.ok(text.includes(t), `${label} shows a signing token`);
    assert.not.ok(text.includes(sha(Buffer.from(t))), `${label} shows a signing token's hash`);
  }
  assert.not.match(text, /\/l\/signatures\/[A-Za-z0-9_-]{20,}/, `${label} shows a signing link`);
}

test('Documenso #844: no list, page, fragment or export seen by staff, clients or admins holds any signer\'s token or link', async () => {
  const tokens = await allTokens(w);
  assert.is(tokens.length, 2, 'two links were mailed (the first and its replacement)');
  const ws = `/w/${w.ws.slug}`;
  const views: Array<[string, keyof typeof w.as | 'owner', string, Record<string, string>?]> = [
    ['staff: envelope list', 'staff', `${w.base}/`],
    ['staff: envelope list (htmx)', 'staff', `${w.base}/?status=sent`, { 'HX-Request': 'true' }],
    ['staff: envelope page', 'staff', `${w.base}/e/${envelopeId}`],
    ['staff: envelope page (htmx)', 'staff', `${w.base}/e/${envelopeId}`, { 'HX-Request': 'true' }],
    ['staff: workspace home', 'staff', `${ws}/`],
    ['staff: the file', 'staff', `${ws}/files/f/${fileId}`],
    ['client admin: workspace home', 'client_admin', `${ws}/`],
    ['client admin: files', 'client_admin', `${ws}/files/`],
    ['client admin: the file', 'client_admin', `${ws}/files/f/${fileId}`],
    ['client admin: activity', 'client_admin', `${ws}/audit`],
    ['client member: workspace home', 'client_member', `${ws}/`],
    ['owner: envelope page', 'owner', `${w.base}/e/${envelopeId}`],
    ['owner: workspace activity export (JSON)', 'owner', `${ws}/audit/export.json`],
    ['owner: workspace activity export (CSV)', 'owner', `${ws}/audit/export.csv`],
    ['owner: audit log', 'owner', '/admin/audit'],
    ['owner: audit export (JSON)', 'owner', '/admin/audit/export.json'],
  ];
  for (const [label, who, url, headers] of views) {
    const c = who === 'owner' ? w.owner : w.as[who];
    const res = await c.get(url, headers);
    assert.ok(res.status < 500, `${label}: ${res.status}`);
    scan(label, res.text, tokens);
  }
  // Nothing the database keeps outside the mail itself holds a raw token.
  for (const table of ['signatures_envelopes', 'signatures_signers', 'signatures_events', 'audit_events', 'notifications']) {
    const rows = JSON.stringify(await w.app.kernel.db(table).select('*'));
    for (const t of tokens) assert.not.ok(rows.includes(t), `${table} holds a raw token`);
  }
});

test('Documenso #844: the admin mail outbox page shows the request mails without their signing links', async () => {
  const tokens = await allTokens(w);
  const list = await w.owner.get('/admin/mail');
  assert.is(list.status, 200);
  scan('admin: mail outbox', list.text, tokens);
  const ids = (await w.app.kernel.db('outbox').whereRaw("subject like '%sign: MSA%'").pluck('id')) as string[];
  assert.ok(ids.length >= 2);
  for (const id of ids) {
    const one = await w.owner.get(`/admin/mail/${id}`);
    assert.is(one.status, 200);
    scan(`admin: mail ${id}`, one.text, tokens);
  }
});

test('a signer\'s own page shows no other signer\'s link, and the next signer\'s link is a different, single-purpose one', async () => {
  const mine = await signingLink(w, w.emails.client_admin, 2);
  const signer = w.app.client();
  const page = await signer.get(mine.path);
  assert.is(page.status, 200);
  scan('signer 1: own page', page.text.replaceAll(mine.path, ''), await allTokens(w));
  assert.not.match(page.text, 'olu@outside.example', 'other signers\' addresses are not shown to a signer');
  await signer.postForm(`${mine.path}/consent`, { agree: 'yes' });
  const done = await signer.postForm(`${mine.path}/sign`, { kind: 'typed', typed_name: 'Ada Admin' });
  assert.is(done.status, 200);
  const next = await signingLink(w, 'olu@outside.example');
  assert.is.not(next.token, mine.token);
  const theirs = await w.app.client().get(next.path);
  assert.is(theirs.status, 200);
  scan('signer 2: own page', theirs.text.replaceAll(next.path, ''), await allTokens(w));
  // The earlier signer's (used) link shows nothing at all now, not even to them.
  assert.is((await signer.get(mine.path)).status, 404);
  const list = await w.as.staff.get(`${w.base}/e/${envelopeId}`);
  scan('staff: envelope page after signing', list.text, await allTokens(w));
});

test('a signer\'s link for workspace A cannot load anything of workspace B, whatever ids are put beside it', async () => {
  const k = w.app.kernel;
  const hash = await k.passwords.hash('bravo-password-123456');
  const b = await transaction(k.db, async (trx) => {
    const ws = await createWorkspace(k, trx, { name: 'Bravo CANARY-B', slug: 'bravo' }, { actorId: null, via: 'cli' });
    const u = await createUser(k, trx, { email: 'staff@bravo.example', name: 'Bravo Staff', passwordHash: hash, firmRole: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: ws.id, userId: u.id, role: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: ws.id, userId: w.users.staff, role: 'staff' }, { actorId: null, via: 'cli' });
    return ws;
  });
  // Staff of both send one envelope in B, so B has a file, an envelope and a signer of its own.
  const bPdf = await makePdf(1, 'CANARY-B contract');
  const { upload } = await import('../files/helpers.ts');
  assert.is((await upload(w.as.staff, '/w/bravo/files/upload', [{ name: 'CANARY-B.pdf', data: bPdf }])).status, 200);
  const bFile = String((await k.db('files_files').where({ workspace_id: b.id }).first('id')).id);
  const bWorld = { ...w, ws: { id: b.id, slug: 'bravo' }, base: '/w/bravo/signatures' };
  const bSent = await send(bWorld, bFile, [{ name: 'Bea B', email: 'bea@bravo-client.example', page: 1 }], 'CANARY-B envelope');
  assert.is(bSent.res.status, 303);
  const bSigner = String((await k.db('signatures_signers').where({ envelope_id: bSent.envelopeId }).first('id')).id);
  const bEnv = (await k.db('signatures_envelopes').where({ id: bSent.envelopeId }).first('version_id'));

  // A's live link (Olu, signer 2 of the MSA in Acme).
  const a = await signingLink(w, 'olu@outside.example');
  const c = w.app.client();
  const tries = [
    `${a.path}?envelope=${bSent.envelopeId}&signer=${bSigner}&file=${bFile}&version=${bEnv.version_id}`,
    `${a.path}/document?envelope=${bSent.envelopeId}&file=${bFile}&version=${bEnv.version_id}`,
    `${a.path}/e/${bSent.envelopeId}`,
    `${a.path}/${bSigner}`,
    `${a.path}/document/${bFile}`,
    `/w/bravo/signatures/e/${bSent.envelopeId}`,
    `/w/bravo/files/f/${bFile}/download`,
  ];
  for (const url of tries) {
    const res = await c.get(url);
    assert.not.ok(res.text.includes('CANARY-B'), `${url} showed B`);
    if (res.status === 200) {
      // Only A's own page and document answer: the ids beside the link are ignored.
      assert.ok(url.startsWith(`${a.path}?`) || url.startsWith(`${a.path}/document?`), `${url} answered 200`);
    } else assert.is(res.status, url.startsWith('/w/bravo') ? 302 : 404, url);
  }
  // Forms posted through A's link with B's ids act on A's signer only.
  await c.postForm(`${a.path}/consent`, { agree: 'yes', signer: bSigner }).then((r) => assert.is(r.status, 400, 'unknown fields are refused'));
  const bRow = await k.db('signatures_signers').where({ id: bSigner }).first('consented_at', 'status');
  assert.is(bRow.consented_at, null);
  assert.is(bRow.status, 'pending');
  // A's document download is A's bytes, not B's.
  const { download } = await import('../files/helpers.ts');
  const doc = await download(c, `${a.path}/document?file=${bFile}`);
  const aEnv = await k.db('signatures_envelopes').where({ id: envelopeId }).first('sha256_sent');
  assert.is(sha(doc.body), aEnv.sha256_sent);
  // And B's token tried under A's plugin path with A's workspace ids: the token alone decides.
  const bLink = await signingLink(w, 'bea@bravo-client.example');
  const bPage = await w.app.client().get(bLink.path);
  assert.is(bPage.status, 200);
  assert.not.match(bPage.text, 'Master services agreement');
});

test.run();
