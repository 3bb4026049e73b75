// Proof of service from approvals (plugins/approvals/evidence.ts): every decision of a period on a
// request shared with the client (approved, changes asked for, approved by the agreed rule), in
// time order; never a request internal to the firm, never another workspace's, nothing outside
// the period.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newId } from '../../../core/ids.ts';
import { allEvidence, CANARY, evidenceWorld, providerItems, queryFor, type EvidenceWorld } from '../../helpers/evidence.ts';

const test = suite('approvals evidence');
let w: EvidenceWorld;
const t = (iso: string) => Date.parse(iso);

async function request(ws: string, title: string, clientVisible: boolean, by: string) {
  const id = newId();
  await w.app.kernel.db('approvals_requests').insert({ id, workspace_id: ws, subject_type: 'files.version', subject_id: newId(), subject_title: `${title}.pdf`, version_id: newId(), version_number: 2, sha256: 'a'.repeat(64), client_visible: clientVisible, title, message: '', sequence: 'parallel', current_position: null, due_at: null, auto_approve: false, status: 'pending', round: 1, round_opened_at: 1, created_by: by, created_at: 1, updated_at: 1, decided_at: null, turnaround_ms: null });
  return id;
}
async function decision(ws: string, requestId: string, approver: string, decidedBy: string | null, what: string, at: string, round = 1) {
  await w.app.kernel.db('approvals_decisions').insert({ id: newId(), workspace_id: ws, request_id: requestId, round, approver_id: approver, decided_by: decidedBy, decision: what, comment: 'A private comment', version_id: newId(), version_number: 2, sha256: 'a'.repeat(64), via: decidedBy ? 'portal' : 'rule', ip: '10.0.0.1', user_agent: 'test', created_at: t(at) });
}

test.before(async () => {
  w = await evidenceWorld(['files', 'approvals']);
  const { A, B } = w;
  const logo = await request(A.id, 'Logo concepts', true, A.staff);
  await decision(A.id, logo, A.client, A.client, 'changes_requested', '2026-11-03T10:00:00Z', 1);
  await decision(A.id, logo, A.client, A.client, 'approved', '2026-11-05T10:00:00Z', 2);
  const terms = await request(A.id, 'Terms of service', true, A.staff);
  await decision(A.id, terms, A.client, null, 'approved', '2026-11-20T00:00:00Z');
  const late = await request(A.id, 'December plan', true, A.staff);
  await decision(A.id, late, A.client, A.client, 'approved', '2026-12-02T10:00:00Z');
  // The firm's own sign-off, never shown to the client.
  const internal = await request(A.id, 'Internal margin review', false, A.staff);
  await decision(A.id, internal, A.staff, A.staff, 'approved', '2026-11-06T10:00:00Z');
  const bravo = await request(B.id, `Bravo ${CANARY}`, true, B.staff);
  await decision(B.id, bravo, B.client, B.client, 'approved', '2026-11-05T10:00:00Z');
});
test.after(async () => {
  await w.app.close();
});

test('A’s November: each decision on a shared request, in time order, who decided and on which version', async () => {
  const items = await providerItems(w, 'approvals.decisions', queryFor(w, w.A.id, w.A.client, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  assert.equal(
    items.map((i) => [new Date(i.at).toISOString().slice(0, 10), i.kind, i.title, i.detail, i.who]),
    [
      ['2026-11-03', 'Changes requested', 'Logo concepts', 'Logo concepts.pdf, version 2', 'Cleo Client alpha'],
      ['2026-11-05', 'Approved', 'Logo concepts', 'Logo concepts.pdf, version 2', 'Cleo Client alpha'],
      ['2026-11-20', 'Approved', 'Terms of service', 'Terms of service.pdf, version 2 (approved by the agreed rule: no answer by the due date)', ''],
    ],
  );
});

test('nothing internal, nothing of another workspace, no comment, address or agent', async () => {
  const a = JSON.stringify(await allEvidence(w, queryFor(w, w.A.id, w.A.staff, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')));
  assert.not.ok(a.includes('Internal margin review'));
  assert.not.ok(a.includes(CANARY));
  for (const secret of ['A private comment', '10.0.0.1']) assert.not.ok(a.includes(secret), secret);
  const b = await allEvidence(w, queryFor(w, w.B.id, w.B.client, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  assert.equal(b.map((e) => [e.source, e.kind]), [['Approvals', 'Approved']]);
  assert.ok(b[0]!.title.includes(CANARY));
});

test.run();
