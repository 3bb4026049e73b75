// WorkspaceScope.upsert (core/tenancy.ts): the row always gets this workspace's id, the conflict
// target must include workspace_id (so the update can only reach this workspace's row), and a
// WHERE added to it limits the update without touching anything else.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../core/db/index.ts';
import { newId } from '../core/ids.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import { WorkspaceScope } from '../core/tenancy.ts';
import { startApp, type TestApp } from './helpers/app.ts';

const test = suite('workspace scope: upsert');
let app: TestApp;
let a: string;
let b: string;
let user: string;

test.before(async () => {
  app = await startApp();
  const k = app.kernel;
  await transaction(k.db, async (trx) => {
    const actor = { actorId: null, via: 'cli' as const };
    a = (await createWorkspace(k, trx, { name: 'Acme Ltd', slug: 'acme' }, actor)).id;
    b = (await createWorkspace(k, trx, { name: 'Bolt Ltd', slug: 'bolt' }, actor)).id;
    user = (await createUser(k, trx, { email: 'mo@example.com', name: 'Mo', passwordHash: 'x', firmRole: null }, actor)).id;
    await addMember(k, trx, { workspaceId: a, userId: user, role: 'client_member' }, actor);
    await addMember(k, trx, { workspaceId: b, userId: user, role: 'client_member' }, actor);
  });
});
test.after(() => app.close());

const roles = async () => Object.fromEntries((await app.kernel.db('memberships').where({ user_id: user }).select('workspace_id', 'role')).map((r) => [r.workspace_id === a ? 'a' : 'b', r.role]));
const row = (role: string) => ({ id: newId(), user_id: user, role, created_at: 1 });

test('a conflict updates this workspace\'s row only; a WHERE that leaves it out writes nothing', async () => {
  const scope = new WorkspaceScope(app.kernel.db, a);
  await scope.upsert('memberships', row('client_admin'), ['workspace_id', 'user_id'], ['role']);
  assert.equal(await roles(), { a: 'client_admin', b: 'client_member' });
  await scope.upsert('memberships', row('client_viewer'), ['workspace_id', 'user_id'], ['role']).where('memberships.role', 'client_member');
  assert.equal(await roles(), { a: 'client_admin', b: 'client_member' });
});

test('refused: a conflict target without workspace_id, or a row naming another workspace', async () => {
  const scope = new WorkspaceScope(app.kernel.db, a);
  assert.throws(() => scope.upsert('memberships', row('client_admin'), ['user_id'], ['role']), /must include workspace_id/);
  assert.throws(() => scope.upsert('memberships', { ...row('client_admin'), workspace_id: b }, ['workspace_id', 'user_id'], ['role']), /another workspace/);
  assert.equal(await roles(), { a: 'client_admin', b: 'client_member' });
});

test.run();
