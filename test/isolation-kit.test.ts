// The isolation kit catches what it exists to catch: a route that reads, lists or deletes another
// workspace's rows, and a route it has no fixture for.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE, fixturePlugin } from './helpers/app.ts';
import { runIsolationKit, type SeedContext } from './kit/isolation.ts';
import { newId } from '../core/ids.ts';
import { transaction } from '../core/db/index.ts';

const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

const test = suite('isolation kit');

test('a leaky plugin is reported route by route', async () => {
  const report = await runIsolationKit({
    plugins: [FIXTURE, fixturePlugin('leaky')],
    seed: async ({ kernel, workspace, canary }: SeedContext) => {
      const id = newId();
      await kernel.db('fixture_notes').insert({ id, workspace_id: workspace.id, body: `note ${canary}`, area: 'shared', created_at: Date.now() });
      // Events about an internal note: the leaky plugin's rule shows them to clients, the
      // fixture's own rule (read Note, shared only) does not.
      const internal = newId();
      await kernel.db('fixture_notes').insert({ id: internal, workspace_id: workspace.id, body: `internal ${canary}`, area: 'internal', created_at: Date.now() });
      await transaction(kernel.db, async (trx) => {
        await kernel.audit.record(trx, { actorId: null, workspaceId: workspace.id, action: 'leaky.note.view', subjectType: 'LeakyNote', subjectId: internal });
        await kernel.audit.record(trx, { actorId: null, workspaceId: workspace.id, action: 'fixture.note.create', subjectType: 'Note', subjectId: internal });
        await kernel.audit.record(trx, { actorId: null, workspaceId: workspace.id, action: 'fixture.note.create', subjectType: 'Note', subjectId: id });
      });
      const link = (plugin: string) => transaction(kernel.db, (trx) => kernel.links.issue(trx, { plugin, purpose: 'read', workspaceId: workspace.id, userId: null, subjectId: id, ttlMs: 3_600_000 }));
      return { noteId: id, 'token@/l/fixture': tokenOf(await link('fixture')), 'token@/l/leaky': tokenOf(await link('leaky')) };
    },
  });
  const v = report.violations.join('\n');
  assert.match(v, /GET \/w\/:workspace\/leaky\/notes\/:noteId: client_viewer of A on \/w\/iso-a\/leaky\/notes\/\S+ answered 200, expected 404/);
  assert.match(v, /GET \/w\/:workspace\/leaky\/notes\/:noteId: .* saw B's canary/);
  assert.match(v, /GET \/staff\/leaky\/all: staff of A on \/staff\/leaky\/all saw B's canary/);
  assert.match(v, /POST \/w\/:workspace\/leaky\/notes\/:noteId\/delete: .* changed the database/);
  assert.match(v, /GET \/w\/:workspace\/leaky\/things\/:thingId: no isolation fixture for :thingId/);
  // A webhook that acts on an unsigned body naming B's workspace.
  assert.match(v, /POST \/hooks\/leaky\/events: anonymous without a signature answered 200, expected 4xx/);
  assert.match(v, /POST \/hooks\/leaky\/events: anonymous without a signature changed the database/);
  // A link page that ignores its link's workspace: A's token with B's note id is served.
  assert.match(v, /GET \/l\/leaky\/:token\/notes\/:noteId: \/l\/leaky\/\S+ answered 200, expected 404/);
  // Finding 2 of issue 13: an activity rule that filters by workspace only shows clients events
  // about an internal note; the fixture's rule (the note's own read permission) does not.
  assert.match(v, /audit: client_admin of A sees "leaky\.note\.view" on LeakyNote \S+ in the activity, but \/w\/iso-a\/fixture\/notes\/\S+ answers 404/);
  assert.not.match(v, /sees "fixture\.note\.create"/);
  // The well-behaved fixture plugin's routes are not reported (the audit line above names its page).
  assert.not.match(report.violations.filter((l) => !l.startsWith('audit:')).join('\n'), /\/fixture\//);
});

test.run();
