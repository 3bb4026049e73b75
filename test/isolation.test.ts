// The cross-tenant matrix over every route of the kernel and the built-in and fixture plugins.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE } from './helpers/app.ts';
import { runIsolationKit, type SeedContext } from './kit/isolation.ts';
import { newId } from '../core/ids.ts';
import { transaction } from '../core/db/index.ts';

const test = suite('isolation');

/** The fixture plugin's rows in one workspace, B's carrying the canary. */
async function seed({ kernel, workspace, canary }: SeedContext) {
  const shared = newId();
  const internal = newId();
  await kernel.db('fixture_notes').insert([
    { id: shared, workspace_id: workspace.id, body: `shared note ${canary}`, area: 'shared', created_at: Date.now() },
    { id: internal, workspace_id: workspace.id, body: `internal note ${canary}`, area: 'internal', created_at: Date.now() },
  ]);
  await kernel.db('fixture_comments').insert({ id: newId(), workspace_id: workspace.id, note_id: shared, body: `comment ${canary}`, created_at: Date.now() });
  const url = await transaction(kernel.db, (trx) => kernel.links.issue(trx, { plugin: 'fixture', purpose: 'read', workspaceId: workspace.id, userId: null, subjectId: shared, ttlMs: 3_600_000 }));
  return { noteId: shared, 'token@/l/fixture': url.slice(url.lastIndexOf('/') + 1) };
}

test('every route x method x role: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['team', FIXTURE],
    seed,
  });
  assert.ok(report.routes.length > 30, `${report.routes.length} routes enumerated`);
  assert.ok(report.requests > 200, `${report.requests} requests made`);
  assert.equal(report.violations, []);
  assert.ok(report.cache.usable && report.cache.hits > 100, `the kernel's cache was on and used (${report.cache.hits} hits)`);
});

test.run();
