// Proof of service from signatures (plugins/signatures/evidence.ts): each signature, each refusal
// and each document signed by everyone in a period, on documents sent to someone of the client;
// a document the firm's people signed among themselves is internal and never appears; nothing of
// another workspace, nothing outside the period, no address, agent or reason.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newId } from '../../../core/ids.ts';
import { allEvidence, CANARY, evidenceWorld, providerItems, queryFor, type EvidenceWorld } from '../../helpers/evidence.ts';

const test = suite('signatures evidence');
let w: EvidenceWorld;
const t = (iso: string) => Date.parse(iso);

async function envelope(ws: string, title: string, signers: Array<{ userId: string | null; name: string }>) {
  const id = newId();
  await w.app.kernel.db('signatures_envelopes').insert({ id, workspace_id: ws, title, message: '', file_id: newId(), version_id: newId(), document_name: `${title}.pdf`, document_size: 1, sha256_sent: 'a'.repeat(64), page_count: 1, status: 'sent', created_by: null, created_at: 1, sent_at: 1 });
  const ids: string[] = [];
  for (const [i, s] of signers.entries()) {
    const sid = newId();
    await w.app.kernel.db('signatures_signers').insert({ id: sid, workspace_id: ws, envelope_id: id, position: i + 1, user_id: s.userId, name: s.name, email: `${i}@sign.example`, status: 'pending' });
    ids.push(sid);
  }
  return { id, signers: ids };
}
let seq = 0;
async function event(ws: string, envelopeId: string, signerId: string | null, kind: string, at: string, actor: string) {
  await w.app.kernel.db('signatures_events').insert({ id: newId(), workspace_id: ws, envelope_id: envelopeId, seq: ++seq, signer_id: signerId, kind, actor_name: actor, at: t(at), ip: '10.9.9.9', user_agent: 'agent', detail: JSON.stringify({ reason: 'A private reason' }) });
}

test.before(async () => {
  w = await evidenceWorld(['files', 'signatures']);
  const { A, B } = w;
  const msa = await envelope(A.id, 'Master services agreement', [{ userId: A.client, name: 'Cleo Client alpha' }, { userId: A.staff, name: 'Sam Staff alpha' }]);
  await event(A.id, msa.id, null, 'sent', '2026-11-01T09:00:00Z', 'Sam Staff alpha');
  await event(A.id, msa.id, msa.signers[0]!, 'opened', '2026-11-02T09:00:00Z', 'Cleo Client alpha');
  await event(A.id, msa.id, msa.signers[0]!, 'signed', '2026-11-02T09:05:00Z', 'Cleo Client alpha');
  await event(A.id, msa.id, msa.signers[1]!, 'signed', '2026-11-03T09:00:00Z', 'Sam Staff alpha');
  await event(A.id, msa.id, null, 'completed', '2026-11-03T09:00:01Z', 'Atrium');
  // Sent to someone outside the portal (no account): the client's side too.
  const nda = await envelope(A.id, 'Mutual NDA', [{ userId: null, name: 'Dana Outside' }]);
  await event(A.id, nda.id, nda.signers[0]!, 'declined', '2026-11-05T12:00:00Z', 'Dana Outside');
  await event(A.id, nda.id, nda.signers[0]!, 'signed', '2026-12-01T00:00:00Z', 'Dana Outside'); // after the period
  // Signed among the firm's people only: internal.
  const internal = await envelope(A.id, 'Internal bonus letter', [{ userId: A.staff, name: 'Sam Staff alpha' }]);
  await event(A.id, internal.id, internal.signers[0]!, 'signed', '2026-11-04T10:00:00Z', 'Sam Staff alpha');
  const bravo = await envelope(B.id, `Bravo ${CANARY}`, [{ userId: B.client, name: 'Cleo Client bravo' }]);
  await event(B.id, bravo.id, bravo.signers[0]!, 'signed', '2026-11-02T09:00:00Z', 'Cleo Client bravo');
});
test.after(async () => {
  await w.app.close();
});

test('A’s November: signatures, the completion and a refusal, in time order', async () => {
  const items = await providerItems(w, 'signatures.decisions', queryFor(w, w.A.id, w.A.client, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  assert.equal(
    items.map((i) => [new Date(i.at).toISOString().slice(0, 10), i.kind, i.title, i.detail, i.who]),
    [
      ['2026-11-02', 'Signed', 'Master services agreement', 'Master services agreement.pdf', 'Cleo Client alpha'],
      ['2026-11-03', 'Signed', 'Master services agreement', 'Master services agreement.pdf', 'Sam Staff alpha'],
      ['2026-11-03', 'Signed by everyone', 'Master services agreement', 'Master services agreement.pdf', ''],
      ['2026-11-05', 'Declined to sign', 'Mutual NDA', 'Mutual NDA.pdf', 'Dana Outside'],
    ],
  );
});

test('nothing internal, nothing of another workspace, no address, agent or reason', async () => {
  const a = JSON.stringify(await allEvidence(w, queryFor(w, w.A.id, w.A.staff, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')));
  assert.not.ok(a.includes('Internal bonus letter'));
  assert.not.ok(a.includes(CANARY));
  for (const secret of ['A private reason', '10.9.9.9', 'agent']) assert.not.ok(a.includes(secret), secret);
  const b = await allEvidence(w, queryFor(w, w.B.id, w.B.client, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  assert.equal(b.map((e) => [e.source, e.kind]), [['Signatures', 'Signed']]);
});

test.run();
