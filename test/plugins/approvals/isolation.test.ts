// The isolation kit over every route with the approvals plugin (and files, which registers the
// approvable subject): A's people acting on B's workspace, B's requests or an unknown link get
// 404 and change nothing; B's canary (titles, messages, file names) never reaches A; A's own
// emailed decision link shows only A's request, also without a session, and a GET of it writes
// nothing but the download receipt.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { FILES_GET_WRITES, FILES_VOLATILE, seedFiles } from '../files/seed.ts';
import { transaction } from '../../../core/db/index.ts';
import { WorkspaceScope } from '../../../core/tenancy.ts';
import { createRequest } from '../../../plugins/approvals/service.ts';
import { settingsSchema } from '../../../plugins/approvals/settings.ts';

const test = suite('approvals isolation');

async function seed({ kernel, workspace, canary, users }: SeedContext) {
  const now = Date.now();
  const files = await seedFiles({ kernel, workspace, canary, users }, { name: `design ${canary}.txt`, bytes: Buffer.from(`content ${canary}`), contentType: 'text/plain' });
  const { fileId } = files;
  const deps = { db: kernel.db, audit: kernel.audit, events: kernel.events, notifications: kernel.notifications, links: kernel.links, approvables: kernel.approvables, clock: kernel.clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
  const ws = { id: workspace.id, slug: workspace.slug, name: workspace.name };
  const subject = (await kernel.approvables.describe(new WorkspaceScope(kernel.db, workspace.id), 'files.version', fileId))!;
  // Every A role is an approver, so each of A's people sees the request and its decision form.
  const requestId = await transaction(kernel.db, (trx) =>
    createRequest(deps, trx, ws, { actorId: users.staff }, { subject, title: `Approve ${canary}`, message: `Message ${canary}`, sequence: 'parallel', dueAt: now + 86_400_000, autoApprove: false, approverIds: [users.client_admin, users.client_member, users.staff] }),
  );
  const url = await transaction(kernel.db, (trx) => kernel.links.issue(trx, { plugin: 'approvals', purpose: 'decide', workspaceId: workspace.id, userId: users.client_member, subjectId: requestId, ttlMs: 86_400_000 }));
  // A page number (documents read in place): B's is one no document here has, so A's link with
  // B's values is a page that does not exist (404).
  return { ...files.values, requestId, 'token@/l/approvals': url.split('/').pop()!, page: canary ? '99' : '1' };
}

test('every route x method x role with approvals: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['files', 'approvals'],
    seed,
    volatileTables: FILES_VOLATILE,
    getWrites: {
      ...FILES_GET_WRITES,
      'GET /l/approvals/:token/download': 'a download through the decision link is a receipt in the audit log, like every file download',
    },
  });
  const mine = report.routes.filter((r) => r.path.includes('approvals'));
  assert.ok(mine.length >= 9, `${mine.length} approvals routes enumerated`);
  assert.equal(report.violations, []);
});

test.run();
