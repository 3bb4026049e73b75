// Tamper evidence: the audit chain is edited, deleted from, reordered and truncated in turn, and
// verify() (and `atrium audit:verify`, run as a real process) names the first bad row each time.
// The seeded rows are firm-wide (the firm chain, so chain_seq = seq); later tests interleave
// workspace chains, write a legacy single chain before the per-workspace migration, and append
// concurrently. Also: the canonical encodings are stable (golden values), record() refuses a
// malformed action, and what is stored is exactly what was hashed. Runs on SQLite, or PostgreSQL
// with DATABASE_URL.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startApp, type TestApp } from './helpers/app.ts';
import { createDb, isPostgresClient, transaction } from '../core/db/index.ts';
import { CORE_MIGRATIONS, migratorConfig } from '../core/db/migrations.ts';
import { canonical, canonicalSql, chainHash, walkChain, GENESIS_HASH, type AuditRow, type ChainReader, type VerifyResult } from '../core/audit.ts';
import { dropAuditGuard, withoutAuditGuard } from './helpers/audit.ts';

const run = promisify(execFile);
const test = suite('audit verify');
const N = 12;
let app: TestApp;
let snapshot: { rows: AuditRow[]; heads: Array<{ chain: string; seq: number; hash: string }> };

const db = () => app.kernel.db;
const verify = (batch?: number) => app.kernel.audit.verify(db(), batch);
const bad = (r: VerifyResult) => r as Extract<VerifyResult, { ok: false }>;

/** verify() with the default batch and with batches of 5 (so a break can sit on a batch edge) agree. */
async function firstBad(expectSeq: number, reason: RegExp): Promise<void> {
  for (const batch of [undefined, 5, 1]) {
    const r = await verify(batch);
    assert.is(r.ok, false, `batch ${batch}: tampering must be found`);
    assert.is(bad(r).seq, expectSeq, `batch ${batch}: ${bad(r).reason}`);
    assert.match(bad(r).reason, reason);
  }
}

async function cli(): Promise<{ code: number; out: string; err: string }> {
  const dbo = app.db.overrides.database as { url: string; schema?: string };
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL'));
  const env = { ...clean, ATRIUM_DATA_DIR: app.db.dataDir, ATRIUM_PLUGINS: '', ...(dbo.url ? { DATABASE_URL: dbo.url } : {}), ...(dbo.schema ? { ATRIUM_DB_SCHEMA: dbo.schema } : {}) };
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/atrium.js', 'audit:verify'], { env, timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** Put the chain back exactly as it was seeded. */
async function restore(): Promise<void> {
  await db().transaction(async (trx) => {
    await trx('audit_events').del();
    await trx('audit_events').insert(snapshot.rows);
    await trx('audit_heads').del();
    await trx('audit_heads').insert(snapshot.heads);
  });
}

/** Record one event in `workspaceId`'s chain (null: the firm chain). */
const recordIn = (workspaceId: string | null, i: number) => transaction(db(), (trx) => app.kernel.audit.record(trx, { action: 'core.test.write', workspaceId, detail: { i } }));

/** Move row `a` to seq `b` and `b` to `a` (seq is the primary key, so via a free number). */
async function swapSeq(a: number, b: number): Promise<void> {
  await db().transaction(async (trx) => {
    await trx('audit_events').where({ seq: a }).update({ seq: -1 });
    await trx('audit_events').where({ seq: b }).update({ seq: a });
    await trx('audit_events').where({ seq: -1 }).update({ seq: b });
  });
}

test.before(async () => {
  app = await startApp();
  for (let i = 1; i <= N; i++) {
    await transaction(db(), (trx) =>
      app.kernel.audit.record(trx, { action: 'core.test.write', actorId: null, subjectType: 'Test', subjectId: `t${i}`, ip: '192.0.2.1', userAgent: 'test', detail: { i, note: `row ${i}` } }),
    );
  }
  const rows = (await db()('audit_events').orderBy('seq')) as AuditRow[];
  snapshot = {
    rows: rows.map((r) => ({ ...r, seq: Number(r.seq), chain_seq: Number(r.chain_seq), created_at: Number(r.created_at) })),
    heads: ((await db()('audit_heads').select('chain', 'seq', 'hash')) as Array<{ chain: string; seq: number; hash: string }>).map((h) => ({ ...h, seq: Number(h.seq) })),
  };
  // The database refuses UPDATE and DELETE on audit_events (control 43). Every test here plays an
  // attacker with owner rights, who drops those triggers first: what is left to catch them is
  // the chain (this file) and the signed checkpoints (audit-checkpoints.test.ts).
  await dropAuditGuard(db());
});
test.after.each(restore);
test.after(async () => {
  await app.close();
});

test('an untouched chain verifies, in any batch size, and the command says so with exit 0', async () => {
  for (const batch of [undefined, 5, 1, N]) assert.equal(await verify(batch), { ok: true, count: N });
  const r = await cli();
  assert.is(r.code, 0, r.err);
  assert.match(r.out, `${N} events, chain intact`);
});

test('an edited row is named, by verify() and by the command (exit 1)', async () => {
  await db()('audit_events').where({ seq: 7 }).update({ detail: '{"i":7,"note":"nothing to see"}' });
  await firstBad(7, /the firm chain's row 7 \(seq 7\) does not match its hash: it was edited/);
  const r = await cli();
  assert.is(r.code, 1);
  assert.match(r.out, 'Audit chain broken at seq 7');
  assert.match(r.out, '6 event(s) before it verified');
});

test('an edit to any hashed column is found: time, actor, workspace, action, subject, ip, user agent', async () => {
  const edits: Array<Record<string, unknown>> = [
    { created_at: snapshot.rows[2]!.created_at + 1 },
    { actor_id: '0190f5c2-7a00-7000-8000-00000000000a' },
    { workspace_id: '0190f5c2-7a00-7000-8000-0000000000ff' },
    { action: 'core.test.read' },
    { subject_type: 'Other' },
    { subject_id: 't99' },
    { ip: '198.51.100.9' },
    { user_agent: 'curl' },
    { id: '0190f5c2-7a00-7000-8000-000000000abc' },
  ];
  for (const edit of edits) {
    await db()('audit_events').where({ seq: 3 }).update(edit);
    const r = await verify();
    assert.is(bad(r).seq, 3, JSON.stringify(edit));
    await restore();
  }
});

test('an edit whose row hash was recomputed breaks the link of the next row', async () => {
  const row = snapshot.rows[6]!; // seq 7
  const forged = { ...row, detail: '{"i":7,"note":"rewritten"}' };
  const { hash: _h, prev_hash: _p, ...base } = forged;
  await db()('audit_events').where({ seq: 7 }).update({ detail: forged.detail, hash: chainHash(base, row.prev_hash) });
  await firstBad(8, /the firm chain's row 8 \(seq 8\) does not link to its row 7/);
});

test('a deleted row is named, with the seq where the gap shows: in the middle, and the first one', async () => {
  await db()('audit_events').where({ seq: 5 }).del();
  await firstBad(6, /the firm chain's row 5 is missing \(seq 6 holds its row 6\)/);
  await restore();
  await db()('audit_events').where({ seq: 1 }).del();
  await firstBad(2, /the firm chain's row 1 is missing/);
  const r = await cli();
  assert.is(r.code, 1);
  assert.match(r.out, 'seq 2');
});

test('reordered rows are named: two rows swap their seq, or swap their contents', async () => {
  await swapSeq(4, 9);
  await firstBad(4, /the firm chain's row 4 is missing \(seq 4 holds its row 9\)/);
  const r = await cli();
  assert.is(r.code, 1);
  assert.match(r.out, 'Audit chain broken at seq 4');
  await restore();
  // Contents swapped, seq left in place (what an UPDATE of every other column does).
  const [a, b] = [snapshot.rows[5]!, snapshot.rows[6]!]; // seq 6 and 7
  const { seq: _sa, ...ra } = a;
  const { seq: _sb, ...rb } = b;
  await db()('audit_events').where({ seq: 6 }).update({ ...rb, id: 'tmp-swap' });
  await db()('audit_events').where({ seq: 7 }).update(ra);
  await db()('audit_events').where({ seq: 6 }).update({ id: rb.id });
  await firstBad(6, /the firm chain's row 6 is missing \(seq 6 holds its row 7\)/);
  await restore();
  // Contents and chain positions swapped, seq left in place: the seq order no longer follows the chain.
  await db()('audit_events').where({ seq: 6 }).update({ ...rb, seq: 6, id: 'tmp-swap' });
  await db()('audit_events').where({ seq: 7 }).update({ ...ra, seq: 7 });
  await db()('audit_events').where({ seq: 6 }).update({ id: rb.id });
  await firstBad(6, /seq 6 holds its row 7/);
});

test('a truncated log is named: rows cut from the end, and every row deleted', async () => {
  await db()('audit_events').where('seq', '>', 9).del();
  await firstBad(10, /the firm chain ends at its row 9 \(seq 9\) but its head records row 12: rows 10-12 were removed from the end/);
  await restore();
  await db()('audit_events').del();
  await firstBad(1, /the firm chain has no rows but its head records row 12: the whole chain was deleted/);
});

test('rows added behind the application are named: past the head, and below seq 1', async () => {
  const last = snapshot.rows.at(-1)!;
  const base = { ...last, seq: N + 1, chain_seq: N + 1, id: '0190f5c2-7a00-7000-8000-00000000f0f0', detail: '{"forged":true}' };
  const { hash: _h, prev_hash: _p, ...content } = base;
  await db()('audit_events').insert({ ...base, prev_hash: last.hash, hash: chainHash(content, last.hash) });
  await firstBad(N + 1, /the firm chain's rows 13-13 are beyond its recorded head \(row 12\)/);
  await restore();
  await db()('audit_events').insert({ ...snapshot.rows[0]!, seq: 0, id: '0190f5c2-7a00-7000-8000-00000000f0f1' });
  await firstBad(0, /seq 0, outside the log/);
  await restore();
  // A row without a chain position after the legacy chain (empty here) was not written by the app.
  const { hash: _h2, prev_hash: _p2, ...legacy } = { ...last, seq: N + 5, chain_seq: null, id: '0190f5c2-7a00-7000-8000-00000000f0f2' };
  await db()('audit_events').insert({ ...legacy, prev_hash: GENESIS_HASH, hash: chainHash(legacy, GENESIS_HASH) });
  await firstBad(N + 5, /row 17 has no chain position \(chain_seq\) but lies past the end of the legacy chain/);
});

test('a rewritten head is named, and a chain without a head, and a head without a chain', async () => {
  await db()('audit_heads').where({ chain: '' }).update({ hash: 'f'.repeat(64) });
  await firstBad(N, /the firm chain's head's hash does not match its row 12 \(seq 12\)/);
  await restore();
  await db()('audit_heads').where({ chain: '' }).del();
  await firstBad(N, /the firm chain has rows 1-12 \(the last at seq 12\) but no head/);
  await restore();
  await db()('audit_heads').insert({ chain: 'ws-gone', seq: 3, hash: 'a'.repeat(64) });
  const r = await verify();
  assert.is(r.ok, false);
  assert.match(bad(r).reason, /workspace ws-gone's chain has no rows but its head records row 3: the whole chain was deleted/);
});

test("two workspaces' chains and the firm chain interleaved verify, each chain_seq counting from 1", async () => {
  const order = ['ws-a', 'ws-b', 'ws-a', null, 'ws-b', 'ws-b', 'ws-a'];
  for (const [i, ws] of order.entries()) await recordIn(ws, i);
  const rows = (await db()('audit_events').where('seq', '>', N).orderBy('seq')) as AuditRow[];
  assert.equal(rows.map((r) => [r.workspace_id, Number(r.chain_seq)]), [['ws-a', 1], ['ws-b', 1], ['ws-a', 2], [null, N + 1], ['ws-b', 2], ['ws-b', 3], ['ws-a', 3]]);
  assert.is(rows[2]!.prev_hash, rows[0]!.hash, "ws-a's row 2 links to ws-a's row 1, not to the row before it in seq");
  const heads = (await db()('audit_heads').orderBy('chain').select('chain', 'seq')) as Array<{ chain: string; seq: number }>;
  assert.equal(heads.map((h) => [h.chain, Number(h.seq)]), [['', N + 1], ['ws-a', 3], ['ws-b', 3]]);
  for (const batch of [undefined, 1, 4]) assert.equal(await verify(batch), { ok: true, count: N + order.length });
  const r = await cli();
  assert.is(r.code, 0, r.out + r.err);
});

test("a row deleted from one workspace's chain names that workspace's chain and the seq where it shows", async () => {
  for (const [i, ws] of ['ws-a', 'ws-b', 'ws-a', 'ws-b', 'ws-a'].entries()) await recordIn(ws, i);
  const a = (await db()('audit_events').where({ workspace_id: 'ws-a' }).orderBy('seq').pluck('seq')).map(Number);
  await db()('audit_events').where({ seq: a[1] }).del();
  await firstBad(a[2]!, new RegExp(`workspace ws-a's row 2 is missing \\(seq ${a[2]} holds its row 3\\)`));
  const r = await cli();
  assert.is(r.code, 1);
  assert.match(r.out, `Audit chain broken at seq ${a[2]}: workspace ws-a's row 2 is missing`);
  await restore();
  // The end of one chain cut, its head left: that chain is named, the others are fine.
  for (const [i, ws] of ['ws-a', 'ws-b', 'ws-b'].entries()) await recordIn(ws, i);
  const lastB = Number(await db()('audit_events').where({ workspace_id: 'ws-b' }).max({ m: 'seq' }).first().then((x) => (x as { m: number }).m));
  await db()('audit_events').where({ seq: lastB }).del();
  const cut = await verify();
  assert.is(cut.ok, false);
  assert.match(bad(cut).reason, /workspace ws-b's chain ends at its row 1 \(seq \d+\) but its head records row 2: rows 2-2 were removed from the end/);
});

test('a database with a legacy single chain (written before the migration) verifies, then appends per workspace', async () => {
  const legacyApp = await startApp();
  const ldb = legacyApp.kernel.db;
  try {
    assert.is(Number((await ldb('audit_events').whereNotNull('chain_seq').count({ n: '*' }).first())!.n), 0, 'a fresh app has no chained rows');
    // Back to before per-workspace chains, and rows written the old way: seq 1..n, one chain, audit_head.
    await ldb.migrate.down(migratorConfig(CORE_MIGRATIONS));
    assert.not.ok(await ldb.schema.hasTable('audit_heads'));
    const before = Number((await ldb('audit_events').max({ m: 'seq' }).first())?.m ?? 0);
    let prev = (await ldb('audit_head').where({ id: 1 }).first('hash')).hash as string;
    for (let seq = before + 1; seq <= before + 5; seq++) {
      const base = { seq, id: `0190f5c2-7a00-7000-8000-00000000a${String(seq).padStart(3, '0')}`, created_at: 1764201600000 + seq, actor_id: null, workspace_id: seq % 2 ? 'ws-a' : null, action: 'core.test.legacy', subject_type: null, subject_id: null, ip: null, user_agent: null, detail: '{}' };
      const hash = chainHash(base, prev);
      await ldb('audit_events').insert({ ...base, prev_hash: prev, hash });
      await ldb('audit_head').where({ id: 1 }).update({ seq, hash });
      prev = hash;
    }
    // As `atrium restore` finds a backup taken before the change: verified before it migrates.
    assert.equal(await legacyApp.kernel.audit.verify(ldb), { ok: true, count: before + 5 }, 'a database without chain_seq verifies');
    await ldb('audit_events').insert({ seq: before + 6, id: '0190f5c2-7a00-7000-8000-00000000a999', created_at: 1, actor_id: null, workspace_id: null, action: 'core.test.legacy', subject_type: null, subject_id: null, ip: null, user_agent: null, detail: '{}', prev_hash: prev, hash: 'f'.repeat(64) });
    assert.match(((await legacyApp.kernel.audit.verify(ldb)) as { reason: string }).reason, /does not match its hash|beyond the recorded head|past the end of the legacy chain/, 'and its tampering still shows');
    await withoutAuditGuard(ldb, () => ldb('audit_events').where({ seq: before + 6 }).delete());
    await ldb.migrate.latest(migratorConfig(CORE_MIGRATIONS));
    const legacyRows = before + 5;
    assert.equal(await legacyApp.kernel.audit.verify(ldb), { ok: true, count: legacyRows });
    for (const ws of ['ws-a', null, 'ws-b', 'ws-a']) await transaction(ldb, (trx) => legacyApp.kernel.audit.record(trx, { action: 'core.test.write', workspaceId: ws }));
    const added = (await ldb('audit_events').where('seq', '>', legacyRows).orderBy('seq')) as AuditRow[];
    assert.equal(added.map((r) => [r.workspace_id, Number(r.chain_seq)]), [['ws-a', 1], [null, 1], ['ws-b', 1], ['ws-a', 2]], 'new rows start their own chains');
    assert.ok(Number(added[0]!.seq) > legacyRows, 'seq goes on past the legacy rows');
    assert.is(added[0]!.prev_hash, GENESIS_HASH);
    assert.equal((await ldb('audit_head').where({ id: 1 }).first('seq', 'hash')) as unknown, { seq: legacyRows, hash: prev }, 'the legacy head is frozen');
    for (const batch of [undefined, 2]) assert.equal(await legacyApp.kernel.audit.verify(ldb, batch), { ok: true, count: legacyRows + 4 });
    // The legacy chain is still checked as before.
    await dropAuditGuard(ldb);
    await ldb('audit_events').where({ seq: before + 3 }).update({ detail: '{"x":1}' });
    const r = await legacyApp.kernel.audit.verify(ldb);
    assert.is(bad(r).seq, before + 3);
    assert.match(bad(r).reason, new RegExp(`row ${before + 3}'s content does not match its hash`));
  } finally {
    await legacyApp.close();
  }
});

test('appends in two workspaces do not wait for each other; two in one workspace queue, and both verify', async () => {
  const k = app.kernel;
  if (!isPostgresClient(db())) {
    // SQLite has one writer connection: the pool queues the transactions, so nothing can interleave.
    await Promise.all([recordIn('ws-c', 1), recordIn('ws-d', 2), recordIn('ws-c', 3)]);
    const rows = (await db()('audit_events').whereIn('workspace_id', ['ws-c', 'ws-d']).orderBy('seq')) as AuditRow[];
    assert.equal(rows.map((r) => [r.workspace_id, Number(r.chain_seq)]).sort(), [['ws-c', 1], ['ws-c', 2], ['ws-d', 1]]);
    assert.equal(await verify(), { ok: true, count: N + 3 });
    return;
  }
  const settle = <T>(p: Promise<T>, ms: number) => Promise.race([p.then(() => 'done' as const), new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), ms))]);
  // Both chains exist first, so the test is about the head locks, not the first insert of a head.
  await recordIn('ws-1', 0);
  await recordIn('ws-2', 0);
  let releaseA!: () => void;
  const holdA = new Promise<void>((r) => (releaseA = r));
  let recordedA!: () => void;
  const aRecorded = new Promise<void>((r) => (recordedA = r));
  const a = db().transaction(async (trx) => {
    await k.audit.record(trx, { action: 'core.test.write', workspaceId: 'ws-1', detail: { trx: 'A' } });
    recordedA();
    await holdA; // A holds ws-1's head until released
  });
  await aRecorded;
  try {
    // B, in ws-2, finishes while A is still open.
    assert.is(await settle(recordIn('ws-2', 1), 5_000), 'done', 'an append in another workspace must not wait for A');
    // C, in ws-1, waits for A's commit.
    const c = recordIn('ws-1', 2);
    assert.is(await settle(c, 300), 'waiting', 'an append in the same workspace waits for A');
    releaseA();
    await a;
    await c;
  } finally {
    releaseA();
    await a.catch(() => {});
  }
  const rows = (await db()('audit_events').where({ workspace_id: 'ws-1' }).orderBy('seq')) as AuditRow[];
  assert.equal(rows.map((r) => Number(r.chain_seq)), [1, 2, 3], "ws-1's rows in seq order are its chain order");
  assert.equal(await verify(), { ok: true, count: N + 5 });
});

test('verify beside a running server: its writes go on meanwhile and are not mistaken for tampering', async () => {
  // A second connection, as `atrium audit:verify` has beside a server; batches of one row.
  const other = createDb(app.kernel.config);
  try {
    const during = app.kernel.audit.verify(other, 1);
    for (let i = 0; i < 3; i++) await transaction(db(), (trx) => app.kernel.audit.record(trx, { action: 'core.test.write', detail: { during: i } }));
    const r = await during;
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(r.count >= N && r.count <= N + 3);
  } finally {
    await other.destroy();
  }
  assert.equal(await verify(), { ok: true, count: N + 3 });
});

test('golden: the canonical encoding and the chain hash of known rows never change', () => {
  const row = {
    seq: 1,
    id: '0190f5c2-7a00-7000-8000-000000000001',
    created_at: 1764201600000,
    actor_id: '0190f5c2-7a00-7000-8000-00000000000a',
    workspace_id: null,
    action: 'core.session.login',
    subject_type: 'User',
    subject_id: '0190f5c2-7a00-7000-8000-00000000000a',
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0 “Ünïcødé” 😀',
    detail: '{"method":"password","note":"line1\\nline2 \\"quoted\\""}',
  };
  assert.is(
    canonical(row),
    '[1,"0190f5c2-7a00-7000-8000-000000000001",1764201600000,"0190f5c2-7a00-7000-8000-00000000000a",null,"core.session.login","User","0190f5c2-7a00-7000-8000-00000000000a","203.0.113.7","Mozilla/5.0 “Ünïcødé” 😀","{\\"method\\":\\"password\\",\\"note\\":\\"line1\\\\nline2 \\\\\\"quoted\\\\\\"\\"}"]',
  );
  // Also computed independently (Python hashlib over the same bytes) when the value was fixed.
  const h1 = '835127376545b42aed12b6be03a5b4fd707ce578da8d13608c55f2f3da33a263';
  assert.is(chainHash(row, GENESIS_HASH), h1);
  assert.is(createHash('sha256').update(Buffer.from([0])).update(canonical(row), 'utf8').update(GENESIS_HASH, 'utf8').digest('hex'), h1);
  const row2 = { ...row, seq: 2, id: '0190f5c2-7a00-7000-8000-000000000002', created_at: 1764201601000, actor_id: null, workspace_id: '0190f5c2-7a00-7000-8000-0000000000ff', action: 'files.file.upload', subject_type: 'File', subject_id: 'f1', ip: null, user_agent: null, detail: '{}' };
  assert.is(chainHash(row2, h1), 'f5c5ab49b8bb285162d16f9b6615cf171be6a81eed0478269dec2f1049cf7b14');
  assert.is(chainHash({ ...row2, chain_seq: null }, h1), 'f5c5ab49b8bb285162d16f9b6615cf171be6a81eed0478269dec2f1049cf7b14', 'chain_seq null: a legacy row');
});

test('golden: chained rows start with seq, chain_seq and workspace, and link within their own chain', () => {
  const c1 = { seq: 1, chain_seq: 1, id: '0190f5c2-7a00-7000-8000-000000000001', created_at: 1764201600000, actor_id: '0190f5c2-7a00-7000-8000-00000000000a', workspace_id: null, action: 'core.session.login', subject_type: 'User', subject_id: '0190f5c2-7a00-7000-8000-00000000000a', ip: '203.0.113.7', user_agent: 'Mozilla/5.0 “Ünïcødé” 😀', detail: '{"method":"password"}' };
  assert.is(canonical(c1), '[1,1,null,"0190f5c2-7a00-7000-8000-000000000001",1764201600000,"0190f5c2-7a00-7000-8000-00000000000a","core.session.login","User","0190f5c2-7a00-7000-8000-00000000000a","203.0.113.7","Mozilla/5.0 “Ünïcødé” 😀","{\\"method\\":\\"password\\"}"]');
  // Computed independently (Python hashlib over the same bytes) when the values were fixed.
  const h1 = '59ad810d44b8744dd55e747a19438ca880054cad5f36db2843d46198a85c111d';
  assert.is(chainHash(c1, GENESIS_HASH), h1);
  // Another workspace's first row starts from the genesis hash, whatever came before it in seq.
  const c2 = { ...c1, seq: 2, chain_seq: 1, id: '0190f5c2-7a00-7000-8000-000000000002', created_at: 1764201601000, actor_id: null, workspace_id: '0190f5c2-7a00-7000-8000-0000000000ff', action: 'files.file.upload', subject_type: 'File', subject_id: 'f1', ip: null, user_agent: null, detail: '{}' };
  assert.is(chainHash(c2, GENESIS_HASH), '57fe69f690294a6601de741cd51b956b8954b43f3d7735a5978ed6b2ebd27f23');
  const c3 = { ...c2, seq: 3, chain_seq: 2, id: '0190f5c2-7a00-7000-8000-000000000003', created_at: 1764201602000, workspace_id: null, action: 'core.session.logout', subject_type: null, subject_id: null };
  assert.is(chainHash(c3, h1), 'f3ea69c80985ea261c3bb555c8bc48752448f2f215af7c0fb3321f4b428b5d83');
  assert.is.not(chainHash({ ...c3, chain_seq: 3 }, h1), chainHash(c3, h1), 'renumbering a row within its chain changes its hash');
});

test("the database's own encoding (verify's fast check) equals canonical() for awkward values", async () => {
  const awkward = ['"quoted" \\ back\\slash /', 'ctl \u0001\u0008\t\n\u000b\f\r\u001f', 'del \u007f é ü 😀 \u2028\u2029', '=HYPERLINK("x")', ''];
  for (const [i, s] of awkward.entries()) {
    await transaction(db(), (trx) =>
      app.kernel.audit.record(trx, { action: 'core.test.awkward', subjectId: s.slice(0, 60), userAgent: s, ip: s.slice(0, 60), detail: { s, nested: { a: [1, null, true] } }, workspaceId: i % 2 ? null : 'w' }),
    );
  }
  const rows = (await db()('audit_events').where({ action: 'core.test.awkward' }).select('*', db().raw(`${canonicalSql(db())} as sql_canonical`))) as Array<AuditRow & { sql_canonical: string }>;
  assert.is(rows.length, awkward.length);
  for (const r of rows) assert.is(r.sql_canonical, canonical({ ...r, seq: Number(r.seq), created_at: Number(r.created_at) }), r.user_agent ?? '');
  assert.equal(await verify(), { ok: true, count: N + awkward.length });
});

test('what is stored is what was hashed: unpaired surrogates and NUL are replaced, a long user agent cut whole', async () => {
  await transaction(db(), (trx) => app.kernel.audit.record(trx, { action: 'core.test.unicode', subjectId: 'a\ud800b\u0000c', userAgent: `${'x'.repeat(399)}😀tail`, detail: { s: 'lone \udc00' } }));
  const row = await db()('audit_events').where({ action: 'core.test.unicode' }).first();
  assert.is(row.subject_id, 'a\ufffdb\ufffdc');
  assert.is(row.user_agent, `${'x'.repeat(399)}\ufffd`);
  assert.equal(await verify(), { ok: true, count: N + 1 });
});

test('record refuses an action that is not <plugin>.<subject>.<verb>, and writes nothing', async () => {
  const invalid = ['', 'login', 'core.session', 'core.session.login.extra', 'Core.session.login', 'core..login', 'core.session.log in', 'core.session.login\n', '1core.session.login', 'core.session.', '.session.login', 'core.session.login;drop'];
  for (const action of invalid) {
    const err = await transaction(db(), (trx) => app.kernel.audit.record(trx, { action })).then(
      () => null,
      (e: Error) => e,
    );
    assert.match(err?.message ?? '', '<plugin>.<subject>.<verb>', JSON.stringify(action));
  }
  for (const action of ['core.session.login', 'files.file.upload', 'my-plugin.thing_2.doSomething']) {
    await transaction(db(), (trx) => app.kernel.audit.record(trx, { action }));
  }
  assert.is(Number((await db()('audit_events').count({ n: '*' }).first())!.n), N + 3);
  assert.equal(await verify(), { ok: true, count: N + 3 });
});

test('a detail that cannot be encoded rolls the change back', async () => {
  const err = await transaction(db(), async (trx) => {
    await trx('settings').insert({ key: 'test.audit-encode', value: '1', updated_at: 1 });
    await app.kernel.audit.record(trx, { action: 'core.test.write', detail: { n: 1n } });
  }).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err);
  assert.not.ok(await db()('settings').where({ key: 'test.audit-encode' }).first());
  assert.equal(await verify(), { ok: true, count: N });
});

test('a row the fast check cannot confirm is re-checked exactly: never reported on a difference of encoding', async () => {
  // A reader whose database encoding differs from ours for row 2 (say, a number printed as 1.0e12).
  const rows: AuditRow[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= 7; seq++) {
    const base = { seq, chain_seq: null, id: `id-${seq}`, created_at: 1_000 + seq, actor_id: null, workspace_id: null, action: 'core.test.write', subject_type: null, subject_id: null, ip: null, user_agent: null, detail: '{}' };
    const hash = chainHash(base, prev);
    rows.push({ ...base, prev_hash: prev, hash });
    prev = hash;
  }
  const reader = (exactRows: AuditRow[]): ChainReader => ({
    fast: async (after, limit) =>
      rows.filter((r) => r.seq > Number(after)).slice(0, limit).map((r) => ({ s: r.seq, c: (r.seq === 2 ? canonical(r).replace('1002', '1.002e3') : canonical(r)) + r.prev_hash + r.hash })),
    exact: async (after, limit) => exactRows.filter((r) => r.seq > Number(after)).slice(0, limit) as unknown as Array<Record<string, unknown>>,
    heads: async () => ({ legacy: { seq: 7, hash: prev }, chains: [] }),
  });
  for (const batch of [1, 3, 10]) assert.equal(await walkChain(reader(rows), batch), { ok: true, count: 7 }, `batch ${batch}`);
  // If the exact check disagrees too, that row is the one reported.
  const tampered = rows.map((r) => (r.seq === 2 ? { ...r, detail: '{"x":1}' } : r));
  const r = await walkChain(reader(tampered), 3);
  assert.is(bad(r).seq, 2);
  assert.is(bad(r).count, 1);
});

test.run();
