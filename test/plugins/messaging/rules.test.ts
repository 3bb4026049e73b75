// One rule, two forms, for messaging's row-filtering grant `read Message {visibility: 'public'}`:
// the kernel's test/permissions.test.ts boots only `team` and the fixture, so messaging's grant is
// checked here, by the rules kit over rows of both visibilities, and by name: for a public and
// an internal message, the in-memory check and the SQL form agree for each client role (public
// only) and for staff (both).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, type TestApp } from '../../helpers/app.ts';
import { checkRuleAgreement } from '../../kit/rules.ts';
import { accessibleBy, canOnRow } from '../../../core/permissions.ts';
import { transaction } from '../../../core/db/index.ts';
import { createUser, createWorkspace } from '../../../core/identity/users.ts';
import { depsOfKernel, seedPost, seedThread } from './support.ts';

const test = suite('messaging rules: memory and SQL agree');
let app: TestApp;
let publicId = '';
let internalId = '';

test.before(async () => {
  app = await startApp({ plugins: ['files', 'messaging'], overrides: { plugins: { settings: { messaging: { jobIntervalSeconds: 3600 } } } } });
  const k = app.kernel;
  const { wsId, staffId } = await transaction(k.db, async (trx) => {
    const ws = await createWorkspace(k, trx, { name: 'Rules Ltd', slug: 'rules' }, { actorId: null });
    const u = await createUser(k, trx, { email: 'staff@rules.example', name: 'Staff', passwordHash: 'x', firmRole: 'staff' }, { actorId: null });
    return { wsId: ws.id, staffId: u.id };
  });
  const deps = depsOfKernel(k);
  const t = await seedThread(deps, { workspaceId: wsId, kind: 'general', key: 'general', title: 'General', by: staffId });
  publicId = (await seedPost(deps, t, { by: staffId, firm: true, body: 'public answer' })).id;
  internalId = (await seedPost(deps, t, { by: staffId, firm: true, body: 'internal note', internal: true })).id;
});
test.after(async () => {
  await app?.close();
});

test("the rules kit: every row-filtering grant of messaging agrees in memory and SQL", async () => {
  const { checked, violations } = await checkRuleAgreement(app.kernel, ['messaging']);
  for (const role of ['client_admin', 'client_member', 'client_viewer']) assert.ok(checked.includes(`${role} read Message`), `checked: ${checked.join('; ')}`);
  assert.equal(violations, []);
});

test('a public and an internal message: clients read the public one only, staff both, in both forms', async () => {
  const k = app.kernel;
  const rows = (await k.db('messaging_messages').whereIn('id', [publicId, internalId]).select('*')) as Array<Record<string, unknown>>;
  assert.is(rows.length, 2);
  const expect: Array<[string | null, string, string[]]> = [
    [null, 'client_admin', [publicId]],
    [null, 'client_member', [publicId]],
    [null, 'client_viewer', [publicId]],
    ['staff', 'staff', [publicId, internalId].sort()],
  ];
  for (const [firm, role, want] of expect) {
    const ability = k.permissions.abilityFor(firm as never, firm ? null : (role as never));
    const memory = rows.filter((r) => canOnRow(ability, 'read', 'Message', r)).map((r) => String(r.id)).sort();
    const sql = ((await k.db('messaging_messages').whereIn('id', [publicId, internalId]).modify(accessibleBy(ability, 'read', 'Message')).pluck('id')) as unknown[]).map(String).sort();
    assert.equal(memory, want, `${role}: in memory`);
    assert.equal(sql, want, `${role}: as SQL`);
  }
});

test.run();
