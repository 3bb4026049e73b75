// Signed audit checkpoints kept off the database (SECURITY.md control 44): written and verified;
// each line signs the heads of the chains that moved (the firm chain and workspace ws-a here); a
// chain rewritten with every hash recomputed (which the chain walk alone cannot see), a chain cut
// short and a whole workspace's chain deleted are reported naming the chain; a forged or removed
// checkpoint line is reported; lines of the old shape (legacy single chain) still verify; the key
// is 0600; a copy held elsewhere verifies with --checkpoints/--public-key; the hourly job writes
// at most one checkpoint per period however many processes run it.
// Runs on SQLite, or PostgreSQL with DATABASE_URL.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateKeyPairSync, verify as verifySig } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { cliEnv, startApp, type TestApp } from './helpers/app.ts';
import { withoutAuditGuard } from './helpers/audit.ts';
import { transaction } from '../core/db/index.ts';
import { CORE_MIGRATIONS, migratorConfig } from '../core/db/migrations.ts';
import { chainHash, type AuditRow } from '../core/audit.ts';
import { ManualClock } from '../core/clock.ts';
import { JobRunner } from '../core/jobs.ts';
import {
  auditKeyFile,
  checkpointFile,
  CheckpointError,
  loadSigningKey,
  signCheckpoint,
  parsePublicKey,
  publicKeyFileFor,
  runCheckpointJob,
  signedText,
  verifyCheckpoints,
  writeCheckpoint,
  type Checkpoint,
  type ChainsCheckpoint,
  type CheckpointResult,
} from '../core/audit-checkpoints.ts';

const run = promisify(execFile);
const test = suite('audit checkpoints');
let app: TestApp;
let snapshot: { rows: AuditRow[]; heads: Array<{ chain: string; seq: number; hash: string }> };
let fileCopy = '';
const work = mkdtempSync(join(tmpdir(), 'atrium-checkpoints-'));

const db = () => app.kernel.db;
const config = () => app.kernel.config;
const file = () => checkpointFile(config());
const pubKey = () => parsePublicKey(readFileSync(publicKeyFileFor(file()), 'utf8'), 'audit.pub');
const check = () => verifyCheckpoints(db(), file(), pubKey());
const lines = () => readFileSync(file(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ChainsCheckpoint);
const bad = (r: CheckpointResult) => r as Extract<CheckpointResult, { ok: false }>;

/** Record `n` events in `workspaceId`'s chain (null: the firm chain). */
async function record(n: number, workspaceId: string | null = null): Promise<void> {
  for (let i = 0; i < n; i++) {
    await transaction(db(), (trx) => app.kernel.audit.record(trx, { action: 'core.test.write', workspaceId, subjectType: 'Test', subjectId: `t${i}`, ip: '192.0.2.1', detail: { i } }));
  }
}

async function checkpoint(): Promise<Checkpoint> {
  const r = await writeCheckpoint(db(), config(), app.kernel.clock);
  assert.ok(r.written, JSON.stringify(r));
  return (r as Extract<typeof r, { written: true }>).checkpoint;
}

async function atrium(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/atrium.js', ...args], { env: cliEnv(app.db, { ATRIUM_PLUGINS: '' }), timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const rowsNow = async () => ((await db()('audit_events').orderBy('seq')) as AuditRow[]).map((r) => ({ ...r, seq: Number(r.seq), chain_seq: Number(r.chain_seq), created_at: Number(r.created_at) }));
const hashAt = async (seq: number) => String((await db()('audit_events').where({ seq }).first('hash')).hash);

/** What an attacker with owner rights does: edit row `seq`, recompute every later hash of its chain and its head. */
async function rewriteConsistently(seq: number, detail: string): Promise<void> {
  const all = await rowsNow();
  const target = all.find((r) => r.seq === seq)!;
  const chain = all.filter((r) => r.workspace_id === target.workspace_id);
  await withoutAuditGuard(db(), () =>
    db().transaction(async (trx) => {
      let prev = target.prev_hash;
      for (const r of chain.filter((c) => c.seq >= seq)) {
        const { hash: _h, prev_hash: _p, ...base } = r;
        const next = { ...base, detail: r.seq === seq ? detail : r.detail };
        const hash = chainHash(next, prev);
        await trx('audit_events').where({ seq: r.seq }).update({ detail: next.detail, prev_hash: prev, hash });
        prev = hash;
      }
      await trx('audit_heads').where({ chain: target.workspace_id ?? '' }).update({ hash: prev });
    }),
  );
}

/** Cut `workspaceId`'s chain back to its row `keep` and move its head there, as an attacker would. */
async function cutChain(workspaceId: string | null, keep: number): Promise<void> {
  const chain = (await rowsNow()).filter((r) => r.workspace_id === workspaceId);
  await withoutAuditGuard(db(), () =>
    db().transaction(async (trx) => {
      await trx('audit_events').whereIn('seq', chain.filter((r) => r.chain_seq > keep).map((r) => r.seq)).del();
      if (keep === 0) await trx('audit_heads').where({ chain: workspaceId ?? '' }).del();
      else await trx('audit_heads').where({ chain: workspaceId ?? '' }).update({ seq: keep, hash: chain[keep - 1]!.hash });
    }),
  );
}

/** Put the log back exactly as it was when the checkpoints were written. */
async function restoreLog(): Promise<void> {
  await withoutAuditGuard(db(), () =>
    db().transaction(async (trx) => {
      await trx('audit_events').del();
      for (let i = 0; i < snapshot.rows.length; i += 100) await trx('audit_events').insert(snapshot.rows.slice(i, i + 100));
      await trx('audit_heads').del();
      await trx('audit_heads').insert(snapshot.heads);
    }),
  );
}

test.before(async () => {
  app = await startApp();
});
test.after(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

test('an empty log gets no checkpoint; then each one signs the chain heads that moved, is chained, verified, and written only when a head moved', async () => {
  assert.equal(await writeCheckpoint(db(), config(), app.kernel.clock), { written: false, reason: 'empty', seq: 0, file: file() });
  assert.not.ok(existsSync(file()));
  const none = await atrium(['audit:verify']);
  assert.is(none.code, 0, none.err);
  assert.match(none.out, 'No checkpoints at');

  await record(4);
  const c1 = (await checkpoint()) as ChainsCheckpoint;
  assert.is(c1.seq, 4);
  assert.is(c1.prev_sig, null);
  assert.equal(c1.heads, { '': [4, await hashAt(4)] }, 'the firm chain, at its row 4');
  assert.ok(Math.abs(c1.time - Date.now()) < 60_000, 'time is UTC epoch ms');
  // The signing key: 0600 in the data folder; the public key beside the checkpoint file.
  assert.is(auditKeyFile(config()), join(app.db.dataDir, 'audit.key'));
  assert.is(statSync(auditKeyFile(config())).mode & 0o777, 0o600);
  assert.is(file(), join(app.db.dataDir, 'audit-checkpoints.jsonl'));
  const pubPem = readFileSync(publicKeyFileFor(file()), 'utf8');
  assert.match(pubPem, '-----BEGIN PUBLIC KEY-----');
  assert.not.match(pubPem, 'PRIVATE');
  // An auditor verifies a line with the public key alone, from its documented bytes.
  const line = JSON.parse(readFileSync(file(), 'utf8').trim()) as ChainsCheckpoint;
  assert.equal(Object.keys(line), ['seq', 'heads', 'time', 'prev_sig', 'sig']);
  assert.is(signedText(line), JSON.stringify({ seq: line.seq, heads: line.heads, time: line.time, prev_sig: line.prev_sig }));
  assert.ok(verifySig(null, Buffer.from(signedText(line)), pubPem, Buffer.from(line.sig, 'base64')));

  // Head unchanged: nothing written (by the function and by the command).
  assert.equal(await writeCheckpoint(db(), config(), app.kernel.clock), { written: false, reason: 'unchanged', seq: 4, file: file() });
  const same = await atrium(['audit:checkpoint']);
  assert.is(same.code, 0, same.err);
  assert.match(same.out, 'has not moved since the last checkpoint (seq 4)');
  assert.is(lines().length, 1);

  // Six events in workspace ws-a: only its chain moved, so only its head is signed.
  await record(6, 'ws-a');
  const c2 = (await checkpoint()) as ChainsCheckpoint;
  assert.is(c2.seq, 10);
  assert.is(c2.prev_sig, c1.sig);
  assert.equal(c2.heads, { 'ws-a': [6, await hashAt(10)] });
  await record(3);
  const cmd = await atrium(['audit:checkpoint']);
  assert.is(cmd.code, 0, cmd.err);
  assert.match(cmd.out, 'Checkpoint written: seq 13, 1 chain head(s)');
  assert.equal(lines()[2]!.heads, { '': [7, await hashAt(13)] });
  assert.match(cmd.out, publicKeyFileFor(file()));
  assert.equal(lines().map((c) => c.seq), [4, 10, 13]);
  assert.is(lines()[2]!.prev_sig, c2.sig);
  assert.is(statSync(auditKeyFile(config())).mode & 0o777, 0o600, 'the command used the same key');

  assert.equal(await check(), { ok: true, count: 3, last: { seq: 13, time: lines()[2]!.time } });
  const v = await atrium(['audit:verify']);
  assert.is(v.code, 0, v.err + v.out);
  assert.match(v.out, '13 events, chain intact');
  assert.match(v.out, '3 signed checkpoint(s) match the log (newest: seq 13');
  const j = await atrium(['audit:verify', '--json']);
  const parsed = JSON.parse(j.out);
  assert.is(parsed.ok, true);
  assert.is(parsed.checkpoints.count, 3);

  const rows = await rowsNow();
  snapshot = { rows, heads: ((await db()('audit_heads').select('chain', 'seq', 'hash')) as Array<{ chain: string; seq: number; hash: string }>).map((h) => ({ ...h, seq: Number(h.seq) })) };
  fileCopy = readFileSync(file(), 'utf8');
});

test('a chain rewritten with every hash recomputed passes the chain walk but not the checkpoints; no checkpoint is signed over it', async () => {
  await rewriteConsistently(7, '{"i":2,"note":"rewritten"}'); // ws-a's row 3
  try {
    assert.equal(await app.kernel.audit.verify(db()), { ok: true, count: 13 }, 'the chain alone is fooled');
    const r = await check();
    assert.is(r.ok, false);
    assert.is(bad(r).seq, 10, bad(r).reason);
    assert.is(bad(r).line, 2);
    assert.match(bad(r).reason, /workspace ws-a's hash at its row 6 \(seq 10\) differs from checkpoint line 2 .*its rows 1-6 were rewritten/);
    assert.is(bad(r).count, 1);
    const v = await atrium(['audit:verify']);
    assert.is(v.code, 1, v.out);
    assert.match(v.out, '13 events, chain intact');
    assert.match(v.out, 'Audit checkpoints broken at seq 10');
    const j = JSON.parse((await atrium(['audit:verify', '--json'])).out);
    assert.is(j.ok, false);
    assert.is(j.seq, 10);
    assert.is(j.checkpoints.seq, 10);
    // The writer refuses to sign on top of it, and says why.
    const err = await writeCheckpoint(db(), config(), app.kernel.clock).then(
      () => null,
      (e: Error) => e,
    );
    assert.instance(err, CheckpointError);
    assert.match(err!.message, "the audit log no longer matches checkpoint line 2: workspace ws-a's row 6 differs from the signed hash");
    const cmd = await atrium(['audit:checkpoint']);
    assert.is(cmd.code, 1);
    assert.match(cmd.err, 'no longer matches checkpoint line 2');
    assert.is(lines().length, 3);
  } finally {
    await restoreLog();
  }
  assert.equal(await check(), { ok: true, count: 3, last: { seq: 13, time: lines()[2]!.time } });
});

test("a chain cut short (its last rows deleted, its head moved back) is reported naming the chain; so is a deleted workspace's chain", async () => {
  await cutChain(null, 5); // the firm chain's rows 6-7 (seq 12-13)
  try {
    assert.equal(await app.kernel.audit.verify(db()), { ok: true, count: 11 }, 'the chain alone is fooled');
    const r = await check();
    assert.is(bad(r).seq, 13, bad(r).reason);
    assert.is(bad(r).line, 3);
    assert.match(bad(r).reason, /the firm chain ends at its row 5, but checkpoint line 3 signed its row 7 .*rows 6-7 were removed/);
    const v = await atrium(['audit:verify']);
    assert.is(v.code, 1);
    assert.match(v.out, '11 events, chain intact');
    assert.match(v.out, 'Audit checkpoints broken at seq 13');
    const err = await writeCheckpoint(db(), config(), app.kernel.clock).catch((e: Error) => e);
    assert.match((err as Error).message, 'the firm chain now ends at its row 5, but its row 7 was signed');
    // One workspace's chain cut back by one row, its head rewritten to match.
    await restoreLog();
    await cutChain('ws-a', 5);
    assert.is((await app.kernel.audit.verify(db())).ok, true, 'the chain alone is fooled');
    assert.match(bad(await check()).reason, /workspace ws-a's chain ends at its row 5, but checkpoint line 2 signed its row 6/);
    // The whole workspace's chain deleted, head and all.
    await restoreLog();
    await cutChain('ws-a', 0);
    assert.equal(await app.kernel.audit.verify(db()), { ok: true, count: 7 }, 'the chain alone is fooled');
    const gone = await check();
    assert.is(bad(gone).line, 2);
    assert.match(bad(gone).reason, /workspace ws-a's chain has no rows, but checkpoint line 2 signed its row 6 .*the whole chain was deleted/);
    assert.match(((await writeCheckpoint(db(), config(), app.kernel.clock).catch((e: Error) => e)) as Error).message, "workspace ws-a's chain is gone, but its row 6 was signed");
    // A row deleted in the middle at a signed position (chain broken as well).
    await restoreLog();
    await withoutAuditGuard(db(), () => db()('audit_events').where({ seq: 4 }).del());
    assert.is(bad(await check()).seq, 4);
    assert.match(bad(await check()).reason, "the firm chain's row 4, signed by checkpoint line 1");
  } finally {
    await restoreLog();
  }
});

test('a forged, altered, removed or reordered checkpoint line is reported', async () => {
  try {
    const [c1, c2, c3] = lines() as [Checkpoint, Checkpoint, Checkpoint];
    // A line signed by another key (a forger without audit.key).
    const { privateKey } = generateKeyPairSync('ed25519');
    const { sign } = await import('node:crypto');
    const forged = { seq: 14, heads: { '': [8, 'a'.repeat(64)] as [number, string] }, time: Date.now(), prev_sig: c3.sig };
    appendFileSync(file(), `${JSON.stringify({ ...forged, sig: sign(null, Buffer.from(signedText(forged)), privateKey).toString('base64') })}\n`);
    let r = await check();
    assert.is(bad(r).seq, 14);
    assert.is(bad(r).line, 4);
    assert.match(bad(r).reason, 'checkpoint line 4 (seq 14) has a bad signature');
    assert.is(bad(r).count, 3, 'the three before it still matched');
    const v = await atrium(['audit:verify']);
    assert.is(v.code, 1);
    assert.match(v.out, 'Audit checkpoints broken at seq 14');

    // A signed line whose head was edited.
    writeFileSync(file(), [c1, { ...c2, heads: { 'ws-a': [6, 'b'.repeat(64)] } }, c3].map((c) => JSON.stringify(c)).join('\n') + '\n');
    r = await check();
    assert.is(bad(r).line, 2);
    assert.match(bad(r).reason, 'bad signature');

    // A line removed from the middle, or the first line removed.
    writeFileSync(file(), [c1, c3].map((c) => JSON.stringify(c)).join('\n') + '\n');
    assert.match(bad(await check()).reason, 'checkpoint line 2 (seq 13) does not follow line 1');
    writeFileSync(file(), [c2, c3].map((c) => JSON.stringify(c)).join('\n') + '\n');
    assert.match(bad(await check()).reason, 'continues an earlier checkpoint');
    // Two lines swapped; a line that is not JSON.
    writeFileSync(file(), [c2, c1, c3].map((c) => JSON.stringify(c)).join('\n') + '\n');
    assert.is(bad(await check()).line, 1);
    writeFileSync(file(), `${JSON.stringify(c1)}\n{"seq":10,"he\n`);
    assert.match(bad(await check()).reason, 'checkpoint line 2 is unreadable');
    // The writer will not append after a line it did not sign.
    appendFileSync(file(), `${JSON.stringify({ ...forged, sig: c3.sig })}\n`);
    await record(1);
    const err = await writeCheckpoint(db(), config(), app.kernel.clock).catch((e: Error) => e);
    assert.instance(err, CheckpointError);
  } finally {
    writeFileSync(file(), fileCopy);
    await restoreLog();
  }
  assert.is((await check()).ok, true);
});

test('a copy kept on another host verifies with --checkpoints and --public-key; the wrong key is refused', async () => {
  const away = join(work, 'elsewhere');
  const copy = join(work, 'copy.jsonl');
  copyFileSync(file(), copy);
  copyFileSync(publicKeyFileFor(file()), join(work, 'trusted.pub'));
  const ok = await atrium(['audit:verify', '--checkpoints', copy, '--public-key', join(work, 'trusted.pub')]);
  assert.is(ok.code, 0, ok.err + ok.out);
  assert.match(ok.out, `3 signed checkpoint(s) match the log (newest: seq 13`);
  assert.match(ok.out, copy);
  // The local file rewritten by someone holding this host (new key, new pub, re-signed lines)
  // still fails against the copy and the trusted key kept elsewhere.
  const other = generateKeyPairSync('ed25519');
  writeFileSync(join(work, 'other.pub'), other.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const wrong = await atrium(['audit:verify', '--checkpoints', copy, '--public-key', join(work, 'other.pub')]);
  assert.is(wrong.code, 1);
  assert.match(wrong.out, 'checkpoint line 1 (seq 4) has a bad signature');
  const missing = await atrium(['audit:verify', '--checkpoints', join(away, 'nope.jsonl')]);
  assert.is(missing.code, 2);
  assert.match(missing.err, '--checkpoints');
  const noKey = join(work, 'nokey');
  rmSync(noKey, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(noKey);
  copyFileSync(file(), join(noKey, 'c.jsonl'));
  const nk = await atrium(['audit:verify', '--checkpoints', join(noKey, 'c.jsonl')]);
  assert.is(nk.code, 1);
  assert.match(nk.out, 'public key');
  const help = await atrium(['audit:verify', '--help']);
  assert.match(help.out, '--checkpoints <file>');
  assert.match(help.out, '--public-key <file>');
  const helpCp = await atrium(['audit:checkpoint', '--help']);
  assert.is(helpCp.code, 0);
  assert.match(helpCp.out, 'audit.key');
});

test('old-shape lines (the legacy single chain) still verify; the first new line pins the legacy head if no line did', async () => {
  const legacyApp = await startApp();
  const ldb = legacyApp.kernel.db;
  const lconfig = legacyApp.kernel.config;
  const lfile = checkpointFile(lconfig);
  const lcheck = () => verifyCheckpoints(ldb, lfile, parsePublicKey(readFileSync(publicKeyFileFor(lfile), 'utf8'), 'audit.pub'));
  try {
    // Rows written the old way before the migration, and a checkpoint line of the old shape.
    await ldb.migrate.down(migratorConfig(CORE_MIGRATIONS));
    const before = Number((await ldb('audit_events').max({ m: 'seq' }).first())?.m ?? 0);
    let prev = (await ldb('audit_head').where({ id: 1 }).first('hash')).hash as string;
    for (let seq = before + 1; seq <= before + 4; seq++) {
      const base = { seq, id: `0190f5c2-7a00-7000-8000-00000000b${String(seq).padStart(3, '0')}`, created_at: 1764201600000 + seq, actor_id: null, workspace_id: null, action: 'core.test.legacy', subject_type: null, subject_id: null, ip: null, user_agent: null, detail: '{}' };
      const hash = chainHash(base, prev);
      await ldb('audit_events').insert({ ...base, prev_hash: prev, hash });
      await ldb('audit_head').where({ id: 1 }).update({ seq, hash });
      prev = hash;
    }
    const legacySeq = before + 4;
    const key = loadSigningKey(lconfig);
    const old = signCheckpoint(key, { seq: legacySeq, head: prev, time: Date.now(), prev_sig: null });
    writeFileSync(lfile, `${JSON.stringify(old)}\n`);
    const { createPublicKey } = await import('node:crypto');
    writeFileSync(publicKeyFileFor(lfile), createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string);
    await ldb.migrate.latest(migratorConfig(CORE_MIGRATIONS));
    assert.equal(await lcheck(), { ok: true, count: 1, last: { seq: legacySeq, time: old.time } });
    // New rows per workspace; the next line signs their chains only (the legacy head is pinned).
    for (const ws of ['ws-a', null]) await transaction(ldb, (trx) => legacyApp.kernel.audit.record(trx, { action: 'core.test.write', workspaceId: ws }));
    const w = await writeCheckpoint(ldb, lconfig, legacyApp.kernel.clock);
    assert.ok(w.written);
    const line = (w as Extract<typeof w, { written: true }>).checkpoint as ChainsCheckpoint;
    assert.equal(Object.keys(line.heads).sort(), ['', 'ws-a']);
    assert.is(line.legacy, undefined);
    assert.is(line.prev_sig, old.sig);
    assert.is((await lcheck()).ok, true);
    // A new file: its first line pins the legacy chain too.
    rmSync(lfile);
    const fresh = (await writeCheckpoint(ldb, lconfig, legacyApp.kernel.clock)) as Extract<Awaited<ReturnType<typeof writeCheckpoint>>, { written: true }>;
    const first = fresh.checkpoint as ChainsCheckpoint;
    assert.equal(first.legacy, [legacySeq, prev]);
    assert.equal(Object.keys(first.heads).sort(), ['', 'ws-a']);
    assert.is((await lcheck()).ok, true);
    // The legacy chain rewritten at its signed head is caught by that line.
    await withoutAuditGuard(ldb, () => ldb('audit_events').where({ seq: legacySeq }).update({ hash: 'c'.repeat(64) }));
    const r = await lcheck();
    assert.is(bad(r).seq, legacySeq);
    assert.match(bad(r).reason, `the chain hash at seq ${legacySeq} differs from checkpoint line 1`);
    // And a line signed with the real key that moves a chain backwards is refused as a cut-back.
    await withoutAuditGuard(ldb, () => ldb('audit_events').where({ seq: legacySeq }).update({ hash: prev }));
    const back = signCheckpoint(key, { seq: first.seq, heads: { 'ws-a': first.heads['ws-a']! }, time: Date.now(), prev_sig: first.sig });
    appendFileSync(lfile, `${JSON.stringify(back)}\n`);
    assert.match(bad(await lcheck()).reason, "checkpoint line 2 (seq " + first.seq + ") signs workspace ws-a's row 1, not past its row 1 signed by line 1: the log was cut back and re-signed");
  } finally {
    await legacyApp.close();
  }
});

test('the hourly job: two processes at once write one checkpoint per period, and only when the head moved', async () => {
  const logger = pino({ level: 'silent' });
  const clock = new ManualClock(Date.now() + 2 * 3_600_000); // past the period the boot-time run claimed
  const runners = [new JobRunner(db(), clock), new JobRunner(db(), clock)];
  const deps = (jobs: JobRunner) => ({ db: db(), jobs, clock, logger, config: config() });
  await record(2);
  const before = lines().length;
  const both = await Promise.all(runners.map((r) => runCheckpointJob(deps(r))));
  assert.equal(both.map((b) => b.ran).sort(), [false, true]);
  assert.is(lines().length, before + 1);
  // The highest seq (on PostgreSQL seq has gaps: the event the previous test rolled back used one).
  const maxSeq = async () => Number((await db()('audit_events').max({ m: 'seq' }).first())!.m);
  assert.is(lines().at(-1)!.seq, await maxSeq());
  assert.equal(lines().at(-1)!.heads, { '': [9, String((await db()('audit_heads').where({ chain: '' }).first('hash')).hash)] }, 'the firm chain moved to its row 9');
  // Same period: nobody runs, even with new events.
  await record(1);
  const again = await Promise.all(runners.map((r) => runCheckpointJob(deps(r))));
  assert.equal(again.map((b) => b.ran), [false, false]);
  assert.is(lines().length, before + 1);
  // Next period: one runs and writes; the period after, the head has not moved: it runs, writes nothing.
  clock.advance(3_600_000);
  const next = await Promise.all(runners.map((r) => runCheckpointJob(deps(r))));
  assert.equal(next.map((b) => b.ran).sort(), [false, true]);
  assert.is(lines().length, before + 2);
  clock.advance(3_600_000);
  const idle = (await Promise.all(runners.map((r) => runCheckpointJob(deps(r))))).find((b) => b.ran)!;
  assert.equal(idle.result, { written: false, reason: 'unchanged', seq: await maxSeq(), file: file() });
  // Two writers racing past the claim (the job and `atrium audit:checkpoint`) do not fork the chain.
  await record(1);
  const raced = await Promise.all([writeCheckpoint(db(), config(), clock), writeCheckpoint(db(), config(), clock)]);
  assert.equal(raced.map((r) => r.written).sort(), [false, true]);
  const all = lines();
  for (let i = 1; i < all.length; i++) assert.is(all[i]!.prev_sig, all[i - 1]!.sig);
  assert.equal(await check(), { ok: true, count: all.length, last: { seq: await maxSeq(), time: all.at(-1)!.time } });
  assert.not.ok(existsSync(`${file()}.lock`));
});

test('a server writes a checkpoint when it starts in a new period and the log has grown', async () => {
  const { freshDatabase } = await import('./helpers/app.ts');
  const tdb = await freshDatabase();
  const clock = new ManualClock(Date.now());
  try {
    const first = await startApp({ db: tdb, clock });
    await first.kernel.stop(); // its start-up run claimed this hour with an empty log: nothing written
    // The log grows while no server runs (as the CLI does).
    const { createDb } = await import('../core/db/index.ts');
    const other = createDb(first.kernel.config);
    await transaction(other, (trx) => first.kernel.audit.record(trx, { action: 'core.test.write' })).finally(() => other.destroy());
    const cpFile = join(tdb.dataDir, 'audit-checkpoints.jsonl');
    assert.not.ok(existsSync(cpFile));
    clock.advance(3_600_000);
    const second = await startApp({ db: tdb, clock });
    await second.kernel.stop(); // waits for the start-up run
    const written = readFileSync(cpFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Checkpoint);
    assert.equal(written.map((c) => [c.seq, c.time]), [[1, clock.now()]]);
    assert.is(statSync(join(tdb.dataDir, 'audit.key')).mode & 0o777, 0o600);
  } finally {
    await tdb.drop();
  }
});

test.run();
