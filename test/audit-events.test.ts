// The audit chain and the event bus at unit level, on the suite's database.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { startApp, type TestApp } from './helpers/app.ts';
import { transaction } from '../core/db/index.ts';
import { EventBus } from '../core/events.ts';
import { AtriumError } from '../core/errors.ts';
import { withoutAuditGuard } from './helpers/audit.ts';

const test = suite('audit and events');
let app: TestApp;

test.before(async () => {
  app = await startApp();
});
test.after(async () => {
  await app.close();
});

test('audit rows chain by hash with a gap-free chain_seq in their chain, and verify() finds an edited row', async () => {
  const { audit, db } = app.kernel;
  for (let i = 0; i < 5; i++) {
    await transaction(db, (trx) => audit.record(trx, { action: 'core.test.write', subjectType: 'Test', subjectId: String(i), detail: { i } }));
  }
  const rows = await db('audit_events').orderBy('seq');
  assert.equal(rows.map((r: { seq: number }) => Number(r.seq)), [1, 2, 3, 4, 5]);
  assert.equal(rows.map((r: { chain_seq: number }) => Number(r.chain_seq)), [1, 2, 3, 4, 5], 'the firm chain, from 1');
  for (let i = 1; i < rows.length; i++) assert.is(rows[i].prev_hash, rows[i - 1].hash);
  assert.equal(await audit.verify(db), { ok: true, count: 5 });
  // An attacker with owner rights drops the append-only triggers first (see the next test).
  await withoutAuditGuard(db, () => db('audit_events').where({ seq: 3 }).update({ detail: '{"i":99}' }));
  const bad = await audit.verify(db);
  assert.is(bad.ok, false);
  assert.is((bad as { seq: number }).seq, 3);
  await withoutAuditGuard(db, () => db('audit_events').where({ seq: 3 }).update({ detail: rows[2].detail }));
  assert.equal(await audit.verify(db), { ok: true, count: 5 });
});

test('the database refuses UPDATE and DELETE of audit rows (append-only), and recording still works', async () => {
  const { audit, db } = app.kernel;
  const before = await db('audit_events').orderBy('seq');
  const denied = async (what: string, q: () => Promise<unknown>) => {
    const err = await q().then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, `${what} must be refused`);
    assert.match(err!.message, /audit_events is append-only: (UPDATE|DELETE|TRUNCATE) denied/, what);
  };
  await denied('update one row', () => db('audit_events').where({ seq: 1 }).update({ detail: '{}' }));
  await denied('update every row', () => db('audit_events').update({ action: 'core.test.other' }));
  await denied('renumber a row', () => db('audit_events').where({ seq: 2 }).update({ seq: 99 }));
  await denied('delete one row', () => db('audit_events').where({ seq: 1 }).del());
  await denied('delete every row', () => db('audit_events').del());
  await denied('update inside a transaction', () => transaction(db, (trx) => trx('audit_events').where({ seq: 1 }).update({ ip: '198.51.100.1' })));
  if (db.client.config.client === 'pg') {
    await denied('truncate', () => db.raw('truncate audit_events'));
    // The trigger function lives in this installation's schema (tests run each app in its own), not public.
    const where = await db.raw("select n.nspname as schema, n.nspname = current_schema() as here from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname = 'audit_events_append_only' and (n.nspname = current_schema() or n.nspname = 'public')");
    assert.equal(where.rows.map((r: { here: boolean }) => r.here), [true]);
  }
  assert.equal(await db('audit_events').orderBy('seq'), before, 'nothing changed');
  // Appending goes on (the chain's head row is still updated), and the chain verifies.
  await transaction(db, (trx) => audit.record(trx, { action: 'core.test.write', detail: { after: 'guard' } }));
  const head = await db('audit_heads').where({ chain: '' }).first('seq');
  assert.is(Number(head.seq), before.length + 1);
  assert.equal(await audit.verify(db), { ok: true, count: before.length + 1 });
});

test('an audit write that fails rolls back the change it records', async () => {
  const { audit, db } = app.kernel;
  const failed = await transaction(db, async (trx) => {
    await trx('settings').insert({ key: 'test.rollback', value: '1', updated_at: 1 });
    await audit.record(trx, { action: 'not a valid action' });
  }).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(failed?.message ?? '', '<plugin>.<subject>.<verb>');
  assert.not.ok(await db('settings').where({ key: 'test.rollback' }).first());
  const outside = await audit.record(db as never, { action: 'core.test.write' }).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(outside?.message ?? '', 'needs the transaction');
});

test('events: delivered after commit, never for a rollback; a failing subscriber does not break the publisher', async () => {
  const bus = new EventBus(pino({ level: 'silent' }));
  bus.declare('core.test.done', 'core');
  const got: unknown[] = [];
  bus.subscribe('core.test.done', () => {
    throw new Error('subscriber bug');
  });
  bus.subscribe('core.test.done', (p) => void got.push(p));
  const { db } = app.kernel;
  await transaction(db, async (trx) => {
    bus.publish(trx, 'core.test.done', { n: 1 });
    assert.equal(got, [], 'not before commit');
  });
  assert.equal(got, [{ n: 1 }]);
  await transaction(db, async (trx) => {
    bus.publish(trx, 'core.test.done', { n: 2 });
    throw new Error('roll back');
  }).catch(() => {});
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(got, [{ n: 1 }]);
  assert.throws(() => bus.publish(db, 'core.test.undeclared', {}), (e: AtriumError) => e.code === 'ATR_EVENT_UNDECLARED');
  assert.throws(() => bus.declare('core.test.done', 'other'), (e: AtriumError) => e.code === 'ATR_PLUGIN_DUPLICATE_EVENT');
});

test.run();
