// The kernel's read cache (core/cache.ts): which writes drop which entries (`prefix:key` for the
// rows a write pins down, else `t:<table>`; always `k:<table>` for entries that read a whole table), that a transaction's
// writes hold their tags until it ends, that a load overtaken by a write is not kept, and that
// another process's commit empties it (SQLite: PRAGMA data_version; PostgreSQL: the triggers'
// NOTIFY through the LISTEN connection). The HTTP side (a signed-out session refused on the next
// request, on every process) is in test/cache-sessions.test.ts and test/scale-out.test.ts.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { cacheOf, DbCache, watchCardTables } from '../core/cache.ts';
import { createDb, transaction, type Db } from '../core/db/index.ts';
import { freshDatabase, ON_PG, testConfig, type TestDb } from './helpers/app.ts';
import { CORE_MIGRATIONS, migrateAll } from '../core/db/migrations.ts';
import { LiveService } from '../core/live.ts';
import { AuditService } from '../core/audit.ts';
import { ManualClock } from '../core/clock.ts';

const tags = suite('cache: the tags of a write');
const plain = new DbCache(false);
plain.watch({ table: 'files', keys: [{ column: 'workspace_id', prefix: 'ws' }] });
const knexOnly = createDb(testConfig({ overrides: { dataDir: '/tmp', database: { url: '', sqliteFile: ':memory:' } }, dataDir: '/tmp', drop: async () => {} }));

tags('a write by key drops that key; anything less certain drops the whole table', () => {
  const of = (b: unknown) => plain.tagsOfWrite(b);
  assert.equal(of(knexOnly('sessions').where({ id_hash: 'h1' }).update({ last_seen_at: 1 })), ['session:h1', 'k:sessions']);
  assert.equal(of(knexOnly('sessions').where({ user_id: 'u1' }).delete()), ['user:u1', 'k:sessions']);
  assert.equal(of(knexOnly('sessions').whereIn('user_id', ['u1', 'u2']).delete()), ['user:u1', 'user:u2', 'k:sessions']);
  assert.equal(of(knexOnly('sessions as s').where('s.id_hash', 'h2').delete()), ['session:h2', 'k:sessions']);
  // An OR, a negation, a comparison or a subquery: the rows cannot be told, so the table.
  assert.equal(of(knexOnly('sessions').where({ id_hash: 'h1' }).orWhere({ id_hash: 'h2' }).delete()), ['t:sessions', 'k:sessions']);
  assert.equal(of(knexOnly('sessions').whereNot({ id_hash: 'h1' }).delete()), ['t:sessions', 'k:sessions']);
  assert.equal(of(knexOnly('sessions').where('expires_at', '<=', 5).delete()), ['t:sessions', 'k:sessions']);
  assert.equal(of(knexOnly('sessions').where('user_id', knexOnly.raw('?', ['u1'])).delete()), ['t:sessions', 'k:sessions']);
  // Both keys of a table when both are pinned.
  assert.equal(of(knexOnly('sessions').where({ id_hash: 'h1', user_id: 'u1' }).delete()), ['session:h1', 'user:u1', 'k:sessions']);
  // Inserts: each row's key.
  assert.equal(of(knexOnly('notifications').insert([{ id: 'n1', user_id: 'u1' }, { id: 'n2', user_id: 'u2' }])), ['user:u1', 'user:u2', 'k:notifications']);
  assert.equal(of(knexOnly('notifications').insert([{ id: 'n1', user_id: 'u1' }, { id: 'n2' }])), ['t:notifications', 'k:notifications']);
  // An upsert whose conflict target is not the key may update another key's row.
  assert.equal(of(knexOnly('waiting_counts').insert({ user_id: 'u1', count: 2 }).onConflict('user_id').merge()), ['user:u1', 'k:waiting_counts']);
  assert.equal(of(knexOnly('users').insert({ id: 'u9', email: 'a@b' }).onConflict('email').merge()), ['t:users', 'k:users']);
  // Tables without keys, plugin tables, unwatched tables, reads.
  assert.equal(of(knexOnly('workspaces').where({ id: 'w1' }).update({ name: 'x' })), ['t:workspaces', 'k:workspaces']);
  assert.equal(of(knexOnly('files').where({ workspace_id: 'w1', id: 'f1' }).update({ name: 'x' })), ['ws:w1', 'k:files']);
  assert.is(of(knexOnly('audit_log').insert({ seq: 1 })), null);
  assert.is(of(knexOnly('sessions').where({ id_hash: 'h1' }).first()), null);
  // A write inside a WITH counts as that write (the outer one here is to an unwatched table).
  assert.equal(of(knexOnly.with('e', knexOnly('files').insert({ id: 'f1', workspace_id: 'w1' })).table('audit_heads').where({ chain: 'w1' }).update({ seq: 2 })), ['ws:w1', 'k:files']);
  assert.equal(of(knexOnly.with('e', knexOnly('files').insert({ id: 'f1', workspace_id: 'w1' })).table('sessions').where({ id_hash: 'h1' }).update({ data: '{}' })), ['ws:w1', 'k:files', 'session:h1', 'k:sessions']);
  assert.is(of(knexOnly.with('e', knexOnly('files').select('id')).table('audit_heads').where({ chain: 'w1' }).update({ seq: 2 })), null);
  assert.equal(of(knexOnly('sessions').truncate()), ['t:sessions', 'k:sessions']);
  // Raw SQL: a write to a watched table drops the table, a read nothing, anything else everything.
  assert.equal(of(knexOnly.raw('update "sessions" set last_seen_at = 1 where id_hash = ?', ['h1'])), ['t:sessions', 'k:sessions']);
  assert.equal(of(knexOnly.raw('delete from main.users where id = ?', ['u1'])), ['t:users', 'k:users']);
  assert.is(of(knexOnly.raw('select 1')), null);
  assert.is(of(knexOnly.raw('insert into audit_log (seq) values (1)')), null);
  assert.is(of(knexOnly.raw('drop table sessions')), 'all');
  assert.is(of(knexOnly.schema.createTable('x', () => {})), 'all');
});

tags.after(() => knexOnly.destroy());
tags.run();

const live = suite('cache: fed by the database');
let tdb: TestDb;
let db: Db;
let cache: DbCache;
let listener: LiveService | undefined;
let uid = 0;

live.before(async () => {
  tdb = await freshDatabase();
  const config = testConfig(tdb);
  db = createDb(config);
  await migrateAll(db, [CORE_MIGRATIONS]);
  cache = cacheOf(db)!;
  if (ON_PG) {
    listener = new LiveService(config, pino({ level: 'silent' }), db);
    listener.attachCache(cache);
    assert.is(cache.usable, false, 'on PostgreSQL the cache is bypassed until the LISTEN connection is up');
    await listener.start();
  }
  assert.ok(cache.usable);
});
live.after(async () => {
  await listener?.stop();
  await db.destroy();
  await tdb.drop();
});

const addUser = async () => {
  const id = `u${++uid}`;
  await db('users').insert({ id, email: `${id}@example.com`, name: `Person ${uid}`, password_hash: 'x', created_at: 1 });
  // PostgreSQL: the insert's own notice reaches the cache through LISTEN after the commit; the
  // barrier a request passes before reading makes sure it has been handled, so it cannot drop a
  // read the test makes next.
  await cache.sync();
  return id;
};
/** Read a person's name through the cache, counting loads. */
let loads = 0;
const nameOf = (id: string) =>
  cache.read(`name:${id}`, [`user:${id}`, 't:users'], async () => {
    loads++;
    return ((await db('users').where({ id }).first('name')) as { name: string }).name;
  });

live('a keyed write drops that person only; an unkeyed one drops everyone', async () => {
  const [a, b] = [await addUser(), await addUser()];
  loads = 0;
  assert.is(await nameOf(a), `Person ${uid - 1}`);
  await nameOf(a);
  await nameOf(b);
  assert.is(loads, 2, 'the second read of a is a hit');
  await db('users').where({ id: a }).update({ name: 'Ann' });
  assert.is(await nameOf(a), 'Ann');
  await nameOf(b);
  assert.is(loads, 3, 'b was kept');
  await db('users').where('created_at', '<', 10).update({ last_login_at: 2 });
  await nameOf(a);
  await nameOf(b);
  assert.is(loads, 5, 'a write the cache cannot pin down drops every person');
});

live('a write that changed no row drops nothing (a count of 0, an empty RETURNING); one that did, does', async () => {
  const a = await addUser();
  // PostgreSQL: the insert's own notice arrives through LISTEN after the commit; the barrier
  // (what a request does before it reads the cache) makes sure it has been handled.
  await cache.sync();
  await nameOf(a);
  loads = 0;
  await db('users').where({ id: a, name: 'nobody has this name' }).update({ name: 'Zed' });
  await db('users').where({ id: 'no-such-person' }).delete();
  await db('users').insert({ id: a, email: `${a}@example.com`, name: 'Zed', password_hash: 'x', created_at: 1 }).onConflict('id').merge(['name']).where('users.created_at', '<', 0).returning('id');
  await db('users').insert({ id: a, email: `${a}@example.com`, name: 'Zed', password_hash: 'x', created_at: 1 }).onConflict('id').ignore().returning('id');
  await cache.sync();
  await nameOf(a);
  assert.is(loads, 0, 'still a hit after four writes that changed nothing');
  const kept = await db('users').insert({ id: a, email: `${a}@example.com`, name: 'Zed', password_hash: 'x', created_at: 1 }).onConflict('id').merge(['name']).where('users.created_at', '>', 0).returning('id');
  assert.is(kept.length, 1, 'this upsert updated the row');
  await cache.sync();
  assert.is(await nameOf(a), 'Zed');
  assert.is(loads, 1, 'the upsert that changed the row dropped it');
  // Raw SQL is answered with rows, not a count (SQLite: [] for any write): it always drops.
  await db.raw('update users set name = ? where id = ?', ['Raw', a]);
  await cache.sync();
  assert.is(await nameOf(a), 'Raw', 'a raw write is never taken for one that changed nothing');
});

live('a statement whose WITH wrote rows drops their tags even when the outer statement changed none', async () => {
  cache.watch({ table: 'cte_rows', keys: [{ column: 'workspace_id', prefix: 'ws' }] });
  let n = 0;
  const read = () => cache.read('cte:w1', ['ws:w1'], async () => ++n);
  await read();
  assert.is(await read(), 1, 'cached');
  // As knex reports it: the outer UPDATE matched no row (rowCount 0), the CTE inserted one.
  const builder = db.with('e', db('cte_rows').insert({ id: 'r1', workspace_id: 'w1' })).table('audit_heads').where({ chain: 'nobody' }).update({ seq: 1 });
  db.client.emit('query-response', { rowCount: 0 }, {}, builder);
  assert.is(await read(), 2, 'dropped: the insert in the WITH changed the workspace');
  db.client.emit('query-response', { rowCount: 0 }, {}, db('cte_rows').where({ workspace_id: 'w1', id: 'none' }).update({ id: 'x' }));
  assert.is(await read(), 2, 'kept: a plain update that changed nothing');
});

live('an audited write drops its own workspace only (the append is tagged, not a flush)', async () => {
  cache.watch({ table: 'audit_events', keys: [{ column: 'workspace_id', prefix: 'ws' }] });
  const audit = new AuditService(new ManualClock(1_000));
  let n = 0;
  const read = (ws: string) => cache.read(`audit:${ws}`, [`ws:${ws}`], async () => ++n);
  await read('wa');
  await read('wb');
  const flushes = cache.stats.flushes;
  await transaction(db, (trx) => audit.record(trx, { action: 'core.test.touch', workspaceId: 'wa' }));
  await cache.sync();
  assert.is(cache.stats.flushes, flushes, 'no flush');
  const before = n;
  await read('wb');
  assert.is(n, before, 'the other workspace is kept');
  await read('wa');
  assert.is(n, before + 1, 'the audited workspace is dropped');
});

live('a transaction holds its tags: nothing read meanwhile is kept, and the commit drops them again', async () => {
  const a = await addUser();
  await nameOf(a);
  loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const writing = transaction(db, async (trx) => {
    await trx('users').where({ id: a }).update({ name: 'Bea' });
    await gate;
  });
  await new Promise((r) => setTimeout(r, 50));
  // PostgreSQL reads the committed row on another connection; SQLite reads it on a reader.
  assert.is(await nameOf(a), `Person ${uid}`, 'the old name while uncommitted');
  assert.is(await nameOf(a), `Person ${uid}`);
  assert.is(loads, 2, 'not kept while the transaction is open');
  release();
  await writing;
  assert.is(await nameOf(a), 'Bea', 'the committed name at once');
  // PostgreSQL: the trigger's own notice of the commit arrives a moment later and drops it once more.
  if (ON_PG) await new Promise((r) => setTimeout(r, 100));
  await nameOf(a);
  const settled = loads;
  assert.is(await nameOf(a), 'Bea');
  assert.is(loads, settled, 'kept again once the transaction is over');
});

live('a load that a write overtook is not kept', async () => {
  const a = await addUser();
  loads = 0;
  const value = await cache.read(`slow:${a}`, [`user:${a}`], async () => {
    loads++;
    const before = ((await db('users').where({ id: a }).first('name')) as { name: string }).name;
    await db('users').where({ id: a }).update({ name: 'Cy' });
    return before;
  });
  assert.is(value, `Person ${uid}`);
  assert.is(await cache.read(`slow:${a}`, [`user:${a}`], async () => (loads++, 'fresh')), 'fresh', 'the stale value was not kept');
  assert.is(loads, 2);
});

live("the mail relay's claims on the outbox leave every workspace's cards cached", async () => {
  await watchCardTables(db, cache);
  assert.ok(cache.cardTables.owned.includes('audit_events'), 'workspace-owned kernel tables are card data');
  assert.not.ok(cache.cardTables.owned.includes('outbox'), 'the outbox is not');
  let n = 0;
  const card = () => cache.read('card:test:wa', cache.cardTags('wa', 'u-card'), async () => ++n);
  await card();
  // The relay's claim, as core/mail.ts writes it: rows by id, across workspaces.
  await db('outbox').whereIn('id', db('outbox').select('id').whereNull('sent_at').limit(10)).update({ claim_token: 'c1' });
  await db('outbox').where({ id: 'none' }).update({ attempts: 1 });
  await cache.sync();
  await card();
  assert.is(n, 1, 'still cached');
  // A write that pins no workspace on a table cards do read still drops them all.
  await db('audit_events').where('seq', '<', 0).update({ detail: '{}' });
  await cache.sync();
  await card();
  assert.is(n, 1, 'an update that changed no row drops nothing');
  db.client.emit('query-response', { rowCount: 3 }, {}, db('invitations').update({ expires_at: 1 }));
  await card();
  assert.is(n, 2, 'a write to invitations of every workspace drops the card');
});

live("another process's commit reaches this cache before its next read", async () => {
  const a = await addUser();
  await cache.sync();
  await nameOf(a);
  loads = 0;
  // Another process: its own connection and cache (a CLI command, say), writing by raw SQL.
  const other = createDb(testConfig(tdb));
  try {
    await other.raw('update users set name = ? where id = ?', ['Dee', a]);
  } finally {
    await other.destroy();
  }
  // PostgreSQL: the trigger's NOTIFY arrives on the LISTEN connection.
  for (let i = 0; i < 50 && ON_PG && cache.size && loads === 0; i++) {
    await cache.sync();
    if ((await nameOf(a)) === 'Dee') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await cache.sync();
  assert.is(await nameOf(a), 'Dee');
});

live('off by configuration: every read loads', async () => {
  const a = await addUser();
  cache.enabled = false;
  try {
    loads = 0;
    await nameOf(a);
    await nameOf(a);
    assert.is(loads, 2);
  } finally {
    cache.enabled = true;
  }
});

live.run();
