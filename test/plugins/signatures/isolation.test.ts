// The isolation kit over every route of files + signatures, the signer's link routes included:
// A's people acting on B's workspace or B's ids get 404 and change nothing; an unknown token, or
// A's token with B's ids, is 404; B's canary (document, envelope and signer names) never reaches A.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { newId } from '../../../core/ids.ts';
import { transaction } from '../../../core/db/index.ts';
import { makePdf, sha } from './helpers.ts';
import { FILES_GET_WRITES, FILES_VOLATILE, seedFiles } from '../files/seed.ts';

const test = suite('signatures isolation');

async function seed({ kernel, workspace, canary, users }: SeedContext) {
  const now = Date.now();
  const envelopeId = newId();
  const signerId = newId();
  const pdf = await makePdf(1, `Contract ${canary}`);
  // The files plugin's own rows (a folder, the PDF, a trashed file): its routes are driven too.
  const files = await seedFiles({ kernel, workspace, canary, users }, { name: `contract ${canary}.pdf`, bytes: pdf, contentType: 'application/pdf' });
  const { fileId, versionId } = files;
  const url = await transaction(kernel.db, async (trx) => {
    await trx('signatures_envelopes').insert({ id: envelopeId, workspace_id: workspace.id, title: `Envelope ${canary}`, message: `Please sign ${canary}`, file_id: fileId, version_id: versionId, document_name: `contract ${canary}.pdf`, document_size: pdf.length, sha256_sent: sha(pdf), page_count: 1, status: 'sent', created_by: users.staff, created_at: now, sent_at: now, finished_at: null, signed_version_id: null, sha256_stamped: null, sha256_final: null, void_reason: null });
    // The signer has an account (the client member): their portal pages (/signatures/sign/:signerId)
    // are driven too, and their /inbox and home card list it (never B's).
    await trx('signatures_signers').insert({ id: signerId, workspace_id: workspace.id, envelope_id: envelopeId, position: 1, user_id: users.client_member, name: `Signer ${canary}`, email: `signer-${canary.toLowerCase() || 'a'}@outside.example`, status: 'pending', link_id: null, consent_version: null, consent_sha256: null, consented_at: null, signature_kind: null, signature_text: null, signature_png: null, sha256_at_signing: null, signed_at: null, decline_reason: null });
    await trx('signatures_placements').insert({ id: newId(), workspace_id: workspace.id, envelope_id: envelopeId, signer_id: signerId, page: 1, x: 48, y: 48, width: 180, height: 60 });
    await trx('signatures_events').insert({ id: newId(), workspace_id: workspace.id, envelope_id: envelopeId, seq: 1, signer_id: null, kind: 'created', actor_name: `Staff ${canary}`, at: now, ip: '127.0.0.1', user_agent: `agent ${canary}`, detail: '{}' });
    const link = await kernel.links.issue(trx, { plugin: 'signatures', purpose: 'sign', workspaceId: workspace.id, userId: users.client_member, subjectId: signerId, ttlMs: 86_400_000 });
    const row = await trx('links').where({ subject_id: signerId }).first('id');
    await trx('signatures_signers').where({ id: signerId }).update({ link_id: row.id });
    return link;
  });
  const token = url.split('/').pop()!;
  // A page number (documents read in place): A's is page 1 of A's one-page PDF; B's is a page no
  // document here has, so A's link or form with B's values is a page that does not exist (404).
  return { ...files.values, envelopeId, signerId, 'token@/l/signatures': token, page: canary ? '99' : '1' };
}

test('every signatures route x method x role: A acting on B gets 404, changes nothing, never sees B; links are bound to their workspace', async () => {
  const report = await runIsolationKit({
    plugins: ['files', 'signatures'],
    seed,
    volatileTables: FILES_VOLATILE,
    getWrites: {
      ...FILES_GET_WRITES,
      'GET /l/signatures/:token': 'the certificate records when the signer opened the document (first open only)',
      'GET /w/:workspace/signatures/sign/:signerId': 'the same signing page for the signed-in signer: the certificate records the first open',
    },
  });
  const mine = report.routes.filter((r) => r.path.startsWith('/w/:workspace/signatures') || r.path.startsWith('/l/signatures'));
  assert.ok(mine.length >= 12, `${mine.length} signatures routes enumerated: ${mine.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  assert.ok(mine.some((r) => r.path.startsWith('/l/signatures/:token') && r.method === 'POST'), 'the link routes are covered');
  assert.ok(mine.some((r) => r.path === '/w/:workspace/signatures/sign/:signerId/sign' && r.method === 'POST'), 'the signed-in signer\'s portal routes are covered');
  assert.ok(mine.some((r) => r.path === '/w/:workspace/signatures/mine'), 'the To sign page is covered');
  assert.ok(report.routes.some((r) => r.path === '/inbox'), 'the inbox is covered');
  assert.equal(report.violations, []);
});

test.run();
