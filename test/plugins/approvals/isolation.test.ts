// The isolation kit over every route with the approvals plugin (and files, which registers the
// approvable subject): A's people acting on B's workspace, B's requests or an unknown link get
// 404 and change nothing; B's canary (titles, messages, file names) never reaches A; A's own
// emailed decision link shows only A's request, also without a session, and a GET of it writes
// nothing but the download receipt.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import pino from 'pino';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { newId } from '../../../core/ids.ts';
import { transaction } from '../../../core/db/index.ts';
import { WorkspaceScope } from '../../../core/tenancy.ts';
import { createRequest } from '../../../plugins/approvals/service.ts';
import { settingsSchema } from '../../../plugins/approvals/settings.ts';

const test = suite('approvals isolation');

async function seed({ kernel, workspace, canary, users }: SeedContext) {
  const now = Date.now();
  const fileId = newId();
  const folderId = newId();
  const versionId = newId();
  const blob = await kernel.storage.put(Readable.from([Buffer.from(`content ${canary}`)]), { bind: `files:${fileId}:${versionId}` });
  await transaction(kernel.db, async (trx) => {
    await kernel.storage.record(trx, blob, { plugin: 'files', workspaceId: workspace.id });
    await trx('files_folders').insert({ id: folderId, workspace_id: workspace.id, parent_id: null, name: `Folder ${canary}`, area: 'shared', client_access: 'manage', created_by: users.staff, created_at: now, deleted_at: null });
    await trx('files_files').insert({ id: fileId, workspace_id: workspace.id, folder_id: folderId, name: `design ${canary}.txt`, name_key: `design ${canary}.txt`.toLowerCase(), area: 'shared', current_version_id: versionId, size: blob.size, content_type: 'text/plain', delivered_at: now, delivered_by: users.staff, created_by: users.staff, created_at: now, updated_at: now, deleted_at: null, deleted_by: null });
    await trx('files_versions').insert({ id: versionId, workspace_id: workspace.id, file_id: fileId, number: 1, blob_key: blob.key, size: blob.size, sha256: blob.sha256, content_type: 'text/plain', uploaded_by: users.staff, created_at: now });
  });
  const deps = { db: kernel.db, audit: kernel.audit, events: kernel.events, notifications: kernel.notifications, links: kernel.links, approvables: kernel.approvables, clock: kernel.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
  const ws = { id: workspace.id, slug: workspace.slug, name: workspace.name };
  const subject = (await kernel.approvables.describe(new WorkspaceScope(kernel.db, workspace.id), 'files.version', fileId))!;
  // Every A role is an approver, so each of A's people sees the request and its decision form.
  const requestId = await transaction(kernel.db, (trx) =>
    createRequest(deps, trx, ws, { actorId: users.staff }, { subject, title: `Approve ${canary}`, message: `Message ${canary}`, sequence: 'parallel', dueAt: now + 86_400_000, autoApprove: false, approverIds: [users.client_admin, users.client_member, users.staff] }),
  );
  const url = await transaction(kernel.db, (trx) => kernel.links.issue(trx, { plugin: 'approvals', purpose: 'decide', workspaceId: workspace.id, userId: users.client_member, subjectId: requestId, ttlMs: 86_400_000 }));
  return { requestId, fileId, versionId, folderId, 'token@/l/approvals': url.split('/').pop()! };
}

test('every route x method x role with approvals: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['files', 'approvals'],
    seed,
    volatileTables: ['files_visits'],
    getWrites: {
      'GET /w/:workspace/files/f/:fileId/download': 'every download is an audit event (the receipt)',
      'GET /w/:workspace/files/f/:fileId/v/:versionId/download': 'every download is an audit event (the receipt)',
      'GET /w/:workspace/files/folders/:folderId/zip': 'every zip download is an audit event (the receipt)',
      'GET /w/:workspace/files/report.csv': 'the delivery report export is recorded in the audit log',
      'GET /l/approvals/:token/download': 'a download through the decision link is a receipt in the audit log, like every file download',
    },
  });
  const mine = report.routes.filter((r) => r.path.includes('approvals'));
  assert.ok(mine.length >= 9, `${mine.length} approvals routes enumerated`);
  assert.equal(report.violations, []);
});

test.run();
