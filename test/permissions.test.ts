// Permissions: one rule, two forms. Every row-filtering grant any enabled plugin declares is
// checked here in memory (ability.can on each row) and as SQL (accessibleBy) over the same rows,
// and the two must agree. Plus the ability -> SQL translation's own edge cases.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createMongoAbility, type RawRuleOf, type MongoAbility } from '@casl/ability';
import { startApp, FIXTURE, type TestApp } from './helpers/app.ts';
import { accessibleBy, canOnRow, permittedFields } from '../core/permissions.ts';
import { checkRuleAgreement } from './kit/rules.ts';
import { newId } from '../core/ids.ts';
import { transaction } from '../core/db/index.ts';
import { createWorkspace } from '../core/identity/users.ts';
import { WorkspaceScope } from '../core/tenancy.ts';
import { ROLES, FIRM_ROLES, type FirmRole, type WorkspaceRole } from '../core/plugins/define.ts';

const test = suite('permissions');
let app: TestApp;
let wsA: string;
let wsB: string;

test.before(async () => {
  app = await startApp({ plugins: ['team', FIXTURE] });
  const k = app.kernel;
  [wsA, wsB] = await transaction(k.db, async (trx) => [
    (await createWorkspace(k, trx, { name: 'Perm A' }, { actorId: null })).id,
    (await createWorkspace(k, trx, { name: 'Perm B' }, { actorId: null })).id,
  ]);
  // Rows with every value a rule might look at.
  const rows = [];
  for (const ws of [wsA, wsB]) for (const area of ['shared', 'internal', 'shared']) rows.push({ id: newId(), workspace_id: ws, body: `${area} note`, area, created_at: Date.now() });
  await k.db('fixture_notes').insert(rows);
  await k.db.schema.createTable('perm_probe', (t) => {
    t.string('id').primary();
    t.string('area').notNullable();
    t.string('status').notNullable();
    t.integer('amount').notNullable();
    t.string('owner_id').notNullable();
  });
  const probe = [];
  for (const area of ['shared', 'internal']) for (const status of ['draft', 'sent', 'paid']) for (const amount of [0, 50, 100]) for (const owner of ['u1', 'u2']) probe.push({ id: newId(), area, status, amount, owner_id: owner });
  await k.db('perm_probe').insert(probe);
});
test.after(async () => {
  await app.close();
});

async function agree(ability: MongoAbility, action: string, subjectType: string, table: string, extra?: (q: import('knex').Knex.QueryBuilder) => void) {
  const all = (await app.kernel.db(table).select('*')) as Array<Record<string, unknown>>;
  const memory = all.filter((r) => canOnRow(ability, action, subjectType, r)).map((r) => r.id as string).sort();
  const q = app.kernel.db(table).modify(accessibleBy(ability, action, subjectType));
  if (extra) q.modify(extra);
  const sql = ((await q.pluck('id')) as string[]).sort();
  return { memory, sql, total: all.length };
}

test('every row-filtering grant of every enabled plugin: memory and SQL agree on the same rows', async () => {
  const { checked, violations } = await checkRuleAgreement(app.kernel);
  assert.ok(checked.length >= 2, `the fixture declares row-filtering rules (${checked.join('; ')})`);
  assert.equal(violations, []);
});

test('every built-in role and declared subject: memory and SQL agree (including allow-all and deny-all)', async () => {
  const { permissions } = app.kernel;
  for (const role of ROLES) {
    const firm = (FIRM_ROLES as readonly string[]).includes(role) ? (role as FirmRole) : null;
    const ability = permissions.abilityFor(firm, firm ? null : (role as WorkspaceRole));
    for (const action of ['read', 'create', 'delete']) {
      const { memory, sql } = await agree(ability, action, 'Note', 'fixture_notes');
      assert.equal(sql, memory, `${role} ${action} Note`);
    }
  }
});

const probe = (rules: RawRuleOf<MongoAbility>[]) => createMongoAbility(rules);

test('SQL form of and/or/not/in/nin/ne/comparisons agrees with memory', async () => {
  const cases: RawRuleOf<MongoAbility>[][] = [
    [{ action: 'read', subject: 'Probe', conditions: { area: 'shared', status: { $in: ['sent', 'paid'] } } }],
    [{ action: 'read', subject: 'Probe', conditions: { status: { $nin: ['draft'] } } }, { action: 'read', subject: 'Probe', conditions: { owner_id: 'u1' } }],
    [{ action: 'read', subject: 'Probe' }, { action: 'read', subject: 'Probe', inverted: true, conditions: { area: 'internal' } }],
    [{ action: 'read', subject: 'Probe', conditions: { amount: { $gte: 50, $lt: 100 } } }],
    [{ action: 'read', subject: 'Probe', conditions: { status: { $ne: 'paid' }, owner_id: 'u2' } }],
    [{ action: 'read', subject: 'Probe', conditions: { area: 'shared' } }, { action: 'read', subject: 'Probe', inverted: true, conditions: { status: 'draft' } }],
  ];
  for (const rules of cases) {
    const { memory, sql } = await agree(probe(rules), 'read', 'Probe', 'perm_probe');
    assert.equal(sql, memory, JSON.stringify(rules));
  }
});

test('nothing allowed becomes 1 = 0; an unknown subject or action matches no row', async () => {
  const none = probe([{ action: 'read', subject: 'Other' }]);
  const q = app.kernel.db('perm_probe').modify(accessibleBy(none, 'read', 'Probe'));
  assert.match(q.toSQL().sql, '1 = 0');
  assert.is((await q).length, 0);
});

test("a rule's OR never escapes into the caller's own filter", async () => {
  const ability = probe([
    { action: 'read', subject: 'Probe', conditions: { owner_id: 'u1' } },
    { action: 'read', subject: 'Probe', conditions: { status: 'paid' } },
  ]);
  const rows = await app.kernel.db('perm_probe').where('area', 'internal').modify(accessibleBy(ability, 'read', 'Probe')).select('area', 'owner_id', 'status');
  assert.ok(rows.length > 0);
  for (const r of rows) {
    assert.is(r.area, 'internal', 'caller filter kept');
    assert.ok(r.owner_id === 'u1' || r.status === 'paid');
  }
});

test('a field-restricted rule limits columns, never opens rows', async () => {
  const ability = probe([
    { action: 'read', subject: 'Probe', fields: ['status'] },
    { action: 'read', subject: 'Probe', conditions: { area: 'shared' } },
  ]);
  const { memory, sql } = await agree(probe([{ action: 'read', subject: 'Probe', conditions: { area: 'shared' } }]), 'read', 'Probe', 'perm_probe');
  const sqlWithField = ((await app.kernel.db('perm_probe').modify(accessibleBy(ability, 'read', 'Probe')).pluck('id')) as string[]).sort();
  assert.equal(sqlWithField, sql);
  assert.equal(sql, memory);
  const fields = permittedFields(probe([{ action: 'read', subject: 'Probe', fields: ['status', 'amount'] }]), 'read', 'Probe', { area: 'x' }, ['area', 'status', 'amount', 'owner_id']);
  assert.equal(fields.sort(), ['amount', 'status']);
});

test('an operator with no SQL form fails closed', () => {
  const ability = probe([{ action: 'read', subject: 'Probe', conditions: { status: { $regex: '^p' } } }]);
  assert.throws(() => app.kernel.db('perm_probe').modify(accessibleBy(ability, 'read', 'Probe')).toSQL(), /no SQL form/);
});

test('the workspace scope filters reads and stamps inserts; a child cannot reference another workspace’s parent', async () => {
  const k = app.kernel;
  const scope = new WorkspaceScope(k.db, wsA);
  const mine = (await scope.table('fixture_notes').pluck('workspace_id')) as string[];
  assert.ok(mine.length === 3 && mine.every((w) => w === wsA));
  const id = newId();
  await scope.insert('fixture_notes', { id, body: 'scoped', created_at: 1 });
  assert.is((await k.db('fixture_notes').where({ id }).first()).workspace_id, wsA);
  await scope.insert('fixture_notes', { id: newId(), body: 'x', created_at: 1, workspace_id: wsB }).then(
    () => assert.unreachable('an insert naming another workspace must be refused'),
    (e: Error) => assert.match(e.message, 'another workspace'),
  );
  const bNote = (await k.db('fixture_notes').where({ workspace_id: wsB }).first('id')).id;
  const fk = await k.db('fixture_comments').insert({ id: newId(), workspace_id: wsA, note_id: bNote, body: 'cross', created_at: 1 }).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(fk, 'composite foreign key (workspace_id, note_id) refuses a cross-workspace child');
  const cols = (await k.db('fixture_comments').columnInfo()) as Record<string, { nullable: boolean }>;
  assert.is(cols.workspace_id!.nullable, false);
});

test('audit rules: one owner per subject type, `via` needs `read`, a rule reads either way but not both', async () => {
  const { PermissionRegistry } = await import('../core/permissions.ts');
  const { auditRulesSchema } = await import('../core/audit-visibility.ts');
  const reg = new PermissionRegistry();
  reg.seed('one', { subjects: { Thing: ['read'] }, tables: { Thing: 'one_things' }, audit: { Thing: { read: ['read', 'Thing'] } } });
  assert.throws(() => reg.seed('two', { subjects: { Other: ['read'] }, audit: { Thing: { read: ['read', 'Other'] } } }), /audit subject "Thing" declared by one and two/);
  assert.is(reg.audit.get('Thing')!.rowsTable, 'one_things');
  assert.not.ok(auditRulesSchema.safeParse({ X: { via: { table: 't', column: 'c' }, visible: () => null } }).success);
  assert.not.ok(auditRulesSchema.safeParse({ X: { read: ['read', 'X'], visible: () => null } }).success);
  assert.not.ok(auditRulesSchema.safeParse({ X: {} }).success);
  assert.ok(auditRulesSchema.safeParse({ X: { read: ['read', 'X'], path: '/x/:id' } }).success);
});

test('audit visibility in SQL: a client sees events about rows it may read, firm admins everything, unknown types nobody else', async () => {
  const k = app.kernel;
  const shared = newId();
  const internal = newId();
  await k.db('fixture_notes').insert([
    { id: shared, workspace_id: wsA, body: 'shared', area: 'shared', created_at: 1 },
    { id: internal, workspace_id: wsA, body: 'internal', area: 'internal', created_at: 1 },
  ]);
  await transaction(k.db, async (trx) => {
    for (const [type, id] of [['Note', shared], ['Note', internal], ['Unknown', shared], ['Workspace', wsA]] as const) {
      await k.audit.record(trx, { actorId: null, workspaceId: wsA, action: 'fixture.note.probe', subjectType: type, subjectId: id });
    }
  });
  const seen = async (firm: FirmRole | null, role: WorkspaceRole | null) => {
    const ability = k.permissions.abilityFor(firm, role);
    const filter = k.permissions.audit.filter({ ability, userId: 'nobody', workspaceId: wsA, workspaceRole: role, scope: new WorkspaceScope(k.db, wsA), db: k.db });
    const rows = (await k.db('audit_events as e').where('e.workspace_id', wsA).where('e.action', 'fixture.note.probe').modify(filter).select('e.subject_type', 'e.subject_id')) as Array<{ subject_type: string; subject_id: string }>;
    return rows.map((r) => `${r.subject_type}:${r.subject_id === shared ? 'shared' : r.subject_id === internal ? 'internal' : 'ws'}`).sort();
  };
  assert.equal(await seen(null, 'client_admin'), ['Note:shared', 'Workspace:ws']);
  assert.equal(await seen(null, 'client_member'), ['Note:shared', 'Workspace:ws']);
  assert.equal(await seen('staff', 'staff'), ['Note:internal', 'Note:shared', 'Workspace:ws']);
  assert.equal(await seen('owner', null), ['Note:internal', 'Note:shared', 'Unknown:shared', 'Workspace:ws']);
});

test.run();
