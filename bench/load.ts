// `npm run load`: a bounded load test (issue 7). Not part of `npm test`.
//   1. creates a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres) and seeds a smaller
//      firm into it (bench/seed.ts: 100 workspaces, 10,000 files, 100,000 audit rows, ready
//      sessions for the simulated people);
//   2. starts TWO Atrium processes on it, sharing one data folder (file blobs, storage keys);
//   3. each simulated person uploads one small file in setup, then for --duration seconds (default
//      60) 200 people (--users) browse at once: workspace home, the file list, a file's page, a
//      download, and small uploads (multipart with the CSRF token), each request sent to either
//      process at random (sessions live in the database, so either one serves it);
//   4. reports requests, errors, p50 and p99 per kind and overall; drops the database; exits 1 if
//      any request failed (anything but the expected status, or a network error).
// Everything runs on 127.0.0.1.
//   node --import tsx bench/load.ts [--duration S] [--users N] [--think MS] [--keep]
//
// Approvals: at setup, a staff member of each workspace asks each client who may decide (client
// admins and members) to approve three files, through the portal's form; during the run an
// 'approve' step decides the next one (POST .../approvals/r/<id>/decide, then the request page),
// or, with none left, opens the approvals list. Viewers, who may not decide, open the home page.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { newToken, sha256Hex } from '../core/ids.ts';
import { benchEnv, seed, type SeedResult } from './seed.ts';
import { startAtrium, writeResult, type Proc } from './pages.ts';

const { values } = parseArgs({ options: { duration: { type: 'string' }, users: { type: 'string' }, think: { type: 'string' }, keep: { type: 'boolean' }, 'no-uploads': { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(`npm run load [-- options]: a bounded load test on a fresh PostgreSQL database (127.0.0.1:5432, user postgres)
with two Atrium processes; 200 people browse, download, upload and approve; prints p50/p99 per kind and exits 1 on any error.

  --duration S    seconds of measured load (default 60)
  --users N       simulated people (default 200)
  --think MS      mean pause between one person's requests, uniform 0..2x (default 100)
  --no-uploads    browsing only: no uploads, no downloads of them (a diagnostic)
  --only KINDS    only these kinds, comma-separated (home,list,file,download,upload,approve): a
                  diagnostic that gives each kind's own CPU cost per request
  --keep          keep the database and data folder afterwards (their names are printed)
  -h, --help      this text

Results go to bench/results/load-<time>.json; docs/performance.md ("Load test") explains the figures.`);
  process.exit(0);
}
// --no-uploads: browsing only (home, list, file page), no setup uploads, no downloads of them. A
// diagnostic for when uploads themselves are what fails; the full mix is the test.
const UPLOADS = !values['no-uploads'];
const DURATION_S = Number(values.duration ?? 60);
const USERS = Number(values.users ?? 200);
const THINK_MS = Number(values.think ?? 100); // mean pause between one person's requests (uniform 0..2x)
const TIMEOUT_MS = 30_000; // a request with no answer after this counts as an error (never a hang)
const PG = { host: '127.0.0.1', port: '5432', user: 'postgres' };
const dbName = `atrium_load_${process.pid}_${Date.now().toString(36)}`;
const databaseUrl = `postgres://${PG.user}@${PG.host}:${PG.port}/${dbName}`;

type Kind = 'home' | 'list' | 'file' | 'download' | 'upload' | 'approve';
/** Weights of the mix: mostly reading, some downloads, a few small uploads. */
const MIX: Array<[Kind, number]> = [
  ['home', 30],
  ['list', 25],
  ['file', 15],
  ['download', 20],
  ['upload', 10],
];

const KINDS: Kind[] = ['home', 'list', 'file', 'download', 'upload', 'approve'];
const ONLY = values.only ? values.only.split(',').map((k) => k.trim()) : null;
for (const k of ONLY ?? []) {
  if (!KINDS.includes(k as Kind)) {
    console.error(`--only: unknown kind "${k}" (one of ${KINDS.join(', ')})`);
    process.exit(2);
  }
}

// ---- CPU accounting: where the machine's CPU went during the measured window. A process's
// utime + stime in /proc/<pid>/stat counts all its threads (the servers' crypto and libuv
// helpers too), in clock ticks of 10 ms.
const TICK_MS = 10;
function cpuOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
  } catch {
    return 0; // gone
  }
}
/** CPU of every PostgreSQL backend serving this database, by pid (backends come and go). */
function pgBackends(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dbName)) continue;
    } catch {
      continue;
    }
    out.set(Number(d), cpuOfPid(Number(d)));
  }
  return out;
}
/** All CPU time of the machine (every core), from /proc/stat, in ms. */
function machineBusy(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

interface Person {
  cookie: string;
  csrf: string;
  slug: string;
  role: string;
  userId: string;
  fileIds: string[];
  uploads: number;
  /** Approval requests waiting for this person's decision: id and the version decided on. */
  approvals: Array<{ id: string; version: string }>;
}

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1'), Buffer.alloc(16 * 1024, 'load test payload ')]);

/** fetch with a deadline: a request that hangs is an error, not a stuck test. */
const fetchT = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });

/** Latencies per kind, in ms; errors with a short reason. */
const lat = new Map<Kind, number[]>();
const errors: Array<{ kind: Kind; proc: number; reason: string }> = [];
let bytesDown = 0;

async function timed(kind: Kind, proc: number, f: () => Promise<Response>, expect = 200): Promise<Response | null> {
  const t = performance.now();
  try {
    const res = await f();
    // Read the whole body: the time is to the last byte.
    const body = Buffer.from(await res.arrayBuffer());
    bytesDown += body.length;
    const ms = performance.now() - t;
    if (res.status !== expect) {
      errors.push({ kind, proc, reason: `${res.status} ${body.toString('utf8', 0, 120).replace(/\s+/g, ' ')}` });
      return null;
    }
    (lat.get(kind) ?? lat.set(kind, []).get(kind)!).push(ms);
    return res;
  } catch (err) {
    errors.push({ kind, proc, reason: String((err as Error).message ?? err) });
    return null;
  }
}

async function upload(base: string, p: Person, name: string): Promise<Response> {
  const form = new FormData();
  form.append('files', new Blob([PDF], { type: 'application/pdf' }), name);
  return fetchT(`${base}/w/${p.slug}/files/upload`, { method: 'POST', body: form, redirect: 'manual', headers: { cookie: p.cookie, 'x-csrf-token': p.csrf, 'hx-request': 'true' } });
}

// ---- approvals (see the header)
const REQUESTS_PER_PERSON = 3;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function approvalsSetup(procs: Proc[], people: Person[]): Promise<boolean> {
  const deciders = people.filter((p) => (p.role === 'client_admin' || p.role === 'client_member') && p.fileIds.length);
  if (!deciders.length) return false;
  const db = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  try {
    // A session for one staff member of each workspace involved, written like the seed's.
    const slugs = [...new Set(deciders.map((p) => p.slug))];
    const staffRows = (await db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').whereIn('w.slug', slugs).andWhere('m.role', 'staff').select('w.slug', 'm.user_id')) as Array<{ slug: string; user_id: string }>;
    const staff = new Map<string, { cookie: string; csrf: string }>();
    for (const r of staffRows) {
      if (staff.has(r.slug)) continue;
      const token = newToken();
      const csrf = newToken();
      await db('sessions').insert({ id_hash: sha256Hex(token), user_id: r.user_id, csrf_token: csrf, created_at: Date.now(), last_seen_at: Date.now(), expires_at: Date.now() + 12 * 3_600_000, auth_at: Date.now(), mfa_pending: false, ip: '127.0.0.1', user_agent: 'atrium-load', data: '{}' });
      staff.set(r.slug, { cookie: `atrium_sid=${token}`, csrf });
    }
    let made = 0;
    await Promise.all(
      deciders.map(async (p, i) => {
        const s = staff.get(p.slug);
        if (!s) return;
        for (let k = 0; k < REQUESTS_PER_PERSON; k++) {
          const fileId = p.fileIds[(i + k) % p.fileIds.length]!;
          const res = await fetchT(`${procs[(i + k) % 2]!.url}/w/${p.slug}/approvals/`, {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
            body: form({ _csrf: s.csrf, type: 'files.version', subject: fileId, title: `Load approval ${i}-${k}`, sequence: 'parallel', approvers: p.userId }),
          });
          const where = res.headers.get('location') ?? '';
          await res.arrayBuffer();
          const id = /\/approvals\/r\/([0-9a-f-]{36})$/.exec(where)?.[1];
          if (res.status !== 303 || !id) throw new Error(`approval request for ${p.slug} failed: ${res.status} ${where}`);
          const row = (await db('approvals_requests').where({ id }).first('version_id')) as { version_id: string };
          p.approvals.push({ id, version: String(row.version_id) });
          made++;
        }
      }),
    );
    console.log(`load: ${made} approval requests for ${deciders.length} people`);
    return made > 0;
  } finally {
    await db.destroy();
  }
}

async function approve(base: string, p: Person): Promise<Response> {
  const h = { cookie: p.cookie };
  if (p.role !== 'client_admin' && p.role !== 'client_member') return fetchT(`${base}/w/${p.slug}/`, { headers: h, redirect: 'manual' });
  const next = p.approvals.shift();
  if (!next) return fetchT(`${base}/w/${p.slug}/approvals/`, { headers: h, redirect: 'manual' });
  // The decision, then the request page it leads to (what a person clicking "Approve" waits for).
  return fetchT(`${base}/w/${p.slug}/approvals/r/${next.id}/decide`, {
    method: 'POST',
    redirect: 'follow',
    headers: { ...h, 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ _csrf: p.csrf, decision: 'approve', version: next.version }),
  });
}

function pick(): Kind {
  const total = MIX.reduce((n, [, w]) => n + w, 0);
  let r = Math.random() * total;
  for (const [k, w] of MIX) if ((r -= w) < 0) return k;
  return MIX[0]![0];
}

const pct = (xs: number[], q: number) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
};

const dataDir = mkdtempSync(join(tmpdir(), 'atrium-load-'));
const procs: Proc[] = [];
let exitCode = 0;
// Ctrl-C or SIGTERM: stop the servers and drop the database before leaving.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of procs) p.child.kill('SIGKILL');
    if (!values.keep) {
      try {
        execFileSync('dropdb', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '--if-exists', '--force', dbName]);
      } catch {
        // best effort
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
    process.exit(130);
  });
}
execFileSync('createdb', ['-h', PG.host, '-p', PG.port, '-U', PG.user, dbName]);
try {
  console.log(`load: database ${dbName}, data folder ${dataDir}`);
  const seeded: SeedResult = await seed({ dataDir, databaseUrl, workspaces: 100, files: 10_000, audit: 100_000, staff: 10, clients: 300, big: 0, small: 0, sessions: USERS });
  if (seeded.sessions.length < USERS) throw new Error(`only ${seeded.sessions.length} sessions could be seeded for ${USERS} users`);

  // Two processes, one after the other (the first creates the shared storage and MFA keys).
  for (let i = 0; i < 2; i++) procs.push(await startAtrium(benchEnv(dataDir, databaseUrl, { ATRIUM_MIGRATE_ON_START: 'false' })));
  console.log(`load: two Atrium processes: ${procs.map((p) => p.url).join(', ')}`);

  const people: Person[] = seeded.sessions.slice(0, USERS).map((s) => ({ cookie: `atrium_sid=${s.token}`, csrf: s.csrf, slug: s.slug, role: s.role, userId: s.userId, fileIds: [], uploads: 0, approvals: [] }));
  if (!UPLOADS) for (const k of ['download', 'upload'] as const) MIX.splice(MIX.findIndex(([m]) => m === k), 1);
  // Setup: one upload per person (so there is something real to download), half through each process.
  await Promise.all(
    people.filter(() => UPLOADS).map(async (p, i) => {
      const res = await upload(procs[i % 2]!.url, p, `setup-${i}.pdf`);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`setup upload for ${p.slug} failed: ${res.status} ${text.slice(0, 200)}`);
    }),
  );
  const db = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  try {
    const rows = (await db('files_files as f')
      .join('workspaces as w', 'w.id', 'f.workspace_id')
      .modify((q) => (UPLOADS ? q.whereNotNull('f.current_version_id') : q))
      .whereNull('f.deleted_at')
      .where('f.area', 'shared')
      .select('w.slug', 'f.id')) as Array<{ slug: string; id: string }>;
    const bySlug = new Map<string, string[]>();
    for (const r of rows) bySlug.set(r.slug, [...(bySlug.get(r.slug) ?? []), r.id]);
    for (const p of people) p.fileIds = bySlug.get(p.slug) ?? [];
  } finally {
    await db.destroy();
  }
  const withApprovals = await approvalsSetup(procs, people);
  if (withApprovals) MIX.push(['approve', 10]);
  if (ONLY) for (let j = MIX.length - 1; j >= 0; j--) if (!ONLY.includes(MIX[j]![0])) MIX.splice(j, 1);
  if (!MIX.length) throw new Error(`--only ${values.only}: none of these kinds can run here`);
  console.log(`load: setup done (${UPLOADS ? people.length : 0} uploads); ${USERS} people for ${DURATION_S} s, think time ${THINK_MS} ms mean; approvals ${withApprovals ? 'included' : 'not included (no client who may decide)'}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const cpu0 = { servers: procs.map((p) => cpuOfPid(p.child.pid!)), pg: pgBackends(), self: process.cpuUsage(), machine: machineBusy() };
  const started = performance.now();
  const end = started + DURATION_S * 1000;
  let n = 0;
  await Promise.all(
    people.map(async (p, i) => {
      await new Promise((r) => setTimeout(r, Math.random() * 1000)); // ramp up over the first second
      while (performance.now() < end) {
        const k = pick();
        const pi = Math.random() < 0.5 ? 0 : 1;
        const base = procs[pi]!.url;
        const h = { cookie: p.cookie };
        const fileId = p.fileIds[Math.floor(Math.random() * p.fileIds.length)];
        n++;
        if (k === 'home') await timed(k, pi, () => fetchT(`${base}/w/${p.slug}/`, { headers: h, redirect: 'manual' }));
        else if (k === 'list') await timed(k, pi, () => fetchT(`${base}/w/${p.slug}/files/`, { headers: h, redirect: 'manual' }));
        else if (k === 'file' && fileId) await timed(k, pi, () => fetchT(`${base}/w/${p.slug}/files/f/${fileId}`, { headers: h, redirect: 'manual' }));
        else if (k === 'download' && fileId) await timed(k, pi, () => fetchT(`${base}/w/${p.slug}/files/f/${fileId}/download`, { headers: h, redirect: 'manual' }));
        else if (k === 'upload') await timed(k, pi, () => upload(base, p, `load-${i}-${++p.uploads}.pdf`));
        else if (k === 'approve') await timed(k, pi, () => approve(base, p));
        else n--;
        if (THINK_MS > 0) await new Promise((r) => setTimeout(r, Math.random() * 2 * THINK_MS));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const pg1 = pgBackends();
  const self = process.cpuUsage(cpu0.self);
  const m1 = machineBusy();
  const cpuMs = {
    servers: procs.reduce((t, p, j) => t + cpuOfPid(p.child.pid!) - cpu0.servers[j]!, 0),
    postgres: [...pg1].reduce((t, [pid, ms]) => t + ms - (cpu0.pg.get(pid) ?? 0), 0),
    generator: (self.user + self.system) / 1000,
    machine: m1.busy - cpu0.machine.busy,
    machineTotal: m1.total - cpu0.machine.total,
  };
  const perRequest = (ms: number) => Math.round((ms / Math.max(1, n)) * 100) / 100;
  const cpu = {
    serverMsPerRequest: perRequest(cpuMs.servers),
    postgresMsPerRequest: perRequest(cpuMs.postgres),
    generatorMsPerRequest: perRequest(cpuMs.generator),
    machineMsPerRequest: perRequest(cpuMs.machine),
    machineBusyShare: Math.round((cpuMs.machine / Math.max(1, cpuMs.machineTotal)) * 100) / 100,
  };
  const all = [...lat.values()].flat();
  const kinds = [...lat.entries()].map(([k, xs]) => ({ kind: k, requests: xs.length, p50: pct(xs, 0.5), p99: pct(xs, 0.99), errors: errors.filter((e) => e.kind === k).length }));
  const result = {
    bench: 'load',
    at: new Date().toISOString(),
    database: 'postgres',
    processes: 2,
    users: USERS,
    durationS: DURATION_S,
    thinkMs: THINK_MS,
    approvals: withApprovals,
    uploads: UPLOADS,
    requests: n,
    reqPerSec: Math.round(n / seconds),
    errors: errors.length,
    p50: pct(all, 0.5),
    p99: pct(all, 0.99),
    kinds,
    only: ONLY,
    cpu,
    sampleErrors: errors.slice(0, 10),
    perProcess: [0, 1].map((i) => ({ process: i + 1, errors: errors.filter((e) => e.proc === i).length })),
    mibDown: Math.round(bytesDown / 2 ** 20),
    loadavg: loadavg(),
    seed: seeded.seconds,
  };
  console.log(`\nload test: ${USERS} people, ${DURATION_S} s, 2 processes on PostgreSQL${UPLOADS ? '' : ' (BROWSING ONLY: --no-uploads)'}`);
  console.log('| kind | requests | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|');
  for (const k of kinds) console.log(`| ${k.kind} | ${k.requests} | ${k.p50} | ${k.p99} | ${k.errors} |`);
  console.log(`| all | ${n} (${result.reqPerSec}/s) | ${result.p50} | ${result.p99} | ${errors.length} |`);
  console.log(`CPU per request: servers ${cpu.serverMsPerRequest} ms, PostgreSQL ${cpu.postgresMsPerRequest} ms, load generator ${cpu.generatorMsPerRequest} ms; whole machine ${cpu.machineMsPerRequest} ms (busy ${Math.round(cpu.machineBusyShare * 100)}% of ${cpuMs.machineTotal > 0 ? Math.round(cpuMs.machineTotal / seconds / 1000) : '?'} cores)`);
  for (const e of errors.slice(0, 10)) console.log(`  error: ${e.kind} on process ${e.proc + 1}: ${e.reason}`);
  console.log(`results: ${writeResult('load', result)}`);
  if (errors.length) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  for (const p of procs) await p.stop();
  for (const p of procs) if (p.child.exitCode && p.child.exitCode !== 0) console.error(`process exited with ${p.child.exitCode}: ${p.output.join('').slice(-2000)}`);
  if (!values.keep) {
    execFileSync('dropdb', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '--if-exists', '--force', dbName]);
    rmSync(dataDir, { recursive: true, force: true });
  } else console.log(`kept ${databaseUrl} and ${dataDir}`);
}
process.exit(exitCode);
