// The isolation kit catches what it exists to catch: a route that reads, lists or deletes another
// workspace's rows, and a route it has no fixture for.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE, fixturePlugin } from './helpers/app.ts';
import { runIsolationKit, type SeedContext } from './kit/isolation.ts';
import { newId } from '../core/ids.ts';

const test = suite('isolation kit');

test('a leaky plugin is reported route by route', async () => {
  const report = await runIsolationKit({
    plugins: [FIXTURE, fixturePlugin('leaky')],
    seed: async ({ kernel, workspace, canary }: SeedContext) => {
      const id = newId();
      await kernel.db('fixture_notes').insert({ id, workspace_id: workspace.id, body: `note ${canary}`, area: 'shared', created_at: Date.now() });
      return { noteId: id };
    },
  });
  const v = report.violations.join('\n');
  assert.match(v, /GET \/w\/:workspace\/leaky\/notes\/:noteId: client_viewer of A on \/w\/iso-a\/leaky\/notes\/\S+ answered 200, expected 404/);
  assert.match(v, /GET \/w\/:workspace\/leaky\/notes\/:noteId: .* saw B's canary/);
  assert.match(v, /GET \/staff\/leaky\/all: staff of A on \/staff\/leaky\/all saw B's canary/);
  assert.match(v, /POST \/w\/:workspace\/leaky\/notes\/:noteId\/delete: .* changed the database/);
  assert.match(v, /GET \/w\/:workspace\/leaky\/things\/:thingId: no isolation fixture for :thingId/);
  // The well-behaved fixture plugin's routes are not reported.
  assert.not.match(v, /\/fixture\//);
});

test.run();
