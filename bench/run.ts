// `npm run bench`: the whole benchmark suite in one run, on this machine, in this order:
//   1. cold start (bench/startup.ts, a child process);
//   2. seed a realistic firm on SQLite (bench/seed.ts): 1,000 workspaces, 100,000 files, 1,000,000
//      chained audit rows, 50 staff, 3,000 client users, plus a 1k-file and a 100k-file workspace;
//      then `atrium audit:verify` over the seeded log (a check that the chain is valid);
//   3. pages against the floor (bench/pages.ts), autocannon at 50 connections;
//   4. files throughput and memory (bench/files.ts, a child process; BENCH_FILES_MIB passes through);
//   5. invoices (bench/invoices.ts): the invoice list at 1k vs 100k invoices, and the period pack of
//      1,000 invoices (first byte, RSS growth), on their own freshly seeded database;
//   6. messaging (bench/messaging.ts): a thread's first page at 100 vs 10,000 messages, and 1,000 open
//      event streams (GET /live) held through a heartbeat, on their own freshly seeded database.
// Prints one summary table and writes bench/results/bench-<time>.json. Each part's own JSON is in
// bench/results/ too. Options: --skip-files, --skip-startup, --skip-invoices, --only-invoices,
// --skip-messaging, --only-messaging, --duration S (per page, default 10). `npm run bench -- messaging`
// is --only-messaging.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../core/config/load.ts';
import { benchEnv, DEFAULTS, seed } from './seed.ts';
import { pagesTable, runPages, writeResult } from './pages.ts';
import { invoicesTable, runInvoicesBench } from './invoices.ts';
import { messagingTable, runMessagingBench } from './messaging.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'skip-files': { type: 'boolean' }, 'skip-startup': { type: 'boolean' }, 'skip-invoices': { type: 'boolean' }, 'only-invoices': { type: 'boolean' }, 'skip-messaging': { type: 'boolean' }, 'only-messaging': { type: 'boolean' }, duration: { type: 'string' }, warmup: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(`npm run bench [-- options]: the benchmark suite on this machine (cold start, a seeded firm on SQLite, pages
against a bare Express floor, files throughput, invoices, messaging); one summary table, results in bench/results/.

  --skip-startup, --skip-files, --skip-invoices, --skip-messaging   leave a part out
  --only-invoices, --only-messaging (or: npm run bench -- messaging)  run one part alone
  --duration S    seconds per measured page (default 10)
  --warmup S      seconds of warm-up before each page
  -h, --help      this text

Run it on a quiet machine: the ratios against the floor are what docs/performance.md records.`);
  process.exit(0);
}
for (const p of positionals) if (p !== 'messaging') throw new Error(`unknown bench ${JSON.stringify(p)} (known: messaging)`);
const onlyMessaging = Boolean(values['only-messaging']) || positionals.includes('messaging');
const t0 = performance.now();
const secs = (from: number) => Math.round((performance.now() - from) / 100) / 10;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const summary: Record<string, unknown> = { bench: 'all', at: new Date().toISOString(), loadavgBefore: loadavg() };

/** Run a bench script as its own process, echo its output, return it. */
function child(script: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += String(c);
      process.stdout.write(c);
    });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}`))));
  });
}
const lastJson = (out: string) => {
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as Record<string, unknown>) : null;
};

console.log(`atrium bench: load average ${load()}`);

// 1. cold start
const only = Boolean(values['only-invoices']) || onlyMessaging;
if (!values['skip-startup'] && !only) {
  const t = performance.now();
  console.log('\n== cold start (bench/startup.ts)');
  summary.startup = lastJson(await child('bench/startup.ts'));
  summary.startupSeconds = secs(t);
}

// 2. seed
if (!only) {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
  try {
    console.log(`\n== seed (bench/seed.ts) into ${dataDir}`);
    const seeded = await seed({ ...DEFAULTS, dataDir });
    summary.seed = { counts: seeded.counts, seconds: seeded.seconds };
    {
      const t = performance.now();
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ['bin/atrium.js', 'audit:verify', '--json'], { cwd: PROJECT_ROOT, env: benchEnv(dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
        let o = '';
        p.stdout.on('data', (c: Buffer) => (o += String(c)));
        p.stderr.on('data', (c: Buffer) => (o += String(c)));
        p.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`audit:verify exited with ${code}: ${o}`))));
      });
      summary.auditVerify = { ...lastJson(out), processSeconds: secs(t) };
      console.log(`  audit:verify over the seeded log: ${out.trim()} (${secs(t)} s as a process)`);
    }

    // 3. pages
    console.log('\n== pages (bench/pages.ts)');
    const pages = await runPages({
      dataDir,
      homeSlug: seeded.homeSlug,
      smallSlug: seeded.smallSlug,
      bigSlug: seeded.bigSlug,
      duration: Number(values.duration ?? 10),
      warmup: Number(values.warmup ?? 2),
      connections: 50,
    });
    summary.pages = pages;
    summary.pagesFile = writeResult('pages', pages);
    console.log(pagesTable(pages));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// 4. files
if (!values['skip-files'] && !only) {
  const t = performance.now();
  const started = Date.now();
  console.log('\n== files (bench/files.ts)');
  await child('bench/files.ts');
  const ended = Date.now();
  // bench/files.ts writes bench/results/files-<time>.json just before it exits. Others may run it
  // in the same checkout, so take the one written closest to our child's exit.
  const dir = join(PROJECT_ROOT, 'bench/results');
  const newest = readdirSync(dir)
    .filter((f) => /^files-\d+\.json$/.test(f))
    .map((f) => ({ f, m: statSync(join(dir, f)).mtimeMs }))
    .filter((x) => x.m >= started && x.m <= ended + 1000)
    .sort((a, b) => Math.abs(ended - a.m) - Math.abs(ended - b.m))[0];
  summary.files = newest ? { file: join('bench/results', newest.f), ...(JSON.parse(readFileSync(join(dir, newest.f), 'utf8')) as object) } : null;
  summary.filesSeconds = secs(t);
}

// 5. invoices
if (!values['skip-invoices'] && !onlyMessaging) {
  const t = performance.now();
  console.log('\n== invoices (bench/invoices.ts)');
  const inv = await runInvoicesBench({ duration: Number(values.duration ?? 10), warmup: Number(values.warmup ?? 2), connections: 50 });
  summary.invoices = inv;
  summary.invoicesFile = writeResult('invoices', inv);
  summary.invoicesSeconds = secs(t);
  console.log(invoicesTable(inv));
}

// 6. messaging
if (!values['skip-messaging'] && !values['only-invoices']) {
  const t = performance.now();
  console.log('\n== messaging (bench/messaging.ts)');
  const msg = await runMessagingBench({ duration: Number(values.duration ?? 10), warmup: Number(values.warmup ?? 2), connections: 50, streams: 1000, holdSeconds: 30 });
  summary.messaging = msg;
  summary.messagingFile = writeResult('messaging', msg);
  summary.messagingSeconds = secs(t);
  console.log(messagingTable(msg));
}

summary.totalSeconds = secs(t0);
summary.loadavgAfter = loadavg();
const file = writeResult('bench', summary);

// ---- one summary table
type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const s = summary as Any;
const lines: string[] = ['', '== summary', '| measure | figure | goal |', '|---|---|---|'];
if (s.startup) lines.push(`| cold start, spawn -> listening (median) | ${s.startup.listeningMs} ms | < 1.5 s |`);
if (s.seed) lines.push(`| seed (${s.seed.counts.workspaces} workspaces, ${s.seed.counts.files} files, ${s.seed.counts.audit} audit rows, ${s.seed.counts.users} users) | ${s.seed.seconds.total} s | - |`);
if (s.auditVerify) lines.push(`| audit:verify over the seeded log | ${s.auditVerify.count} events ${s.auditVerify.ok ? 'intact' : 'BROKEN'}, ${s.auditVerify.seconds} s | < 10 s |`);
for (const r of (s.pages?.rows ?? []) as Any[]) {
  lines.push(`| ${r.name} (${r.bytes} B) | ${r.reqPerSec} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms${r.ratio !== undefined ? `, ${r.ratio.toFixed(2)}x floor` : ''} | ${r.name === 'workspace home' ? '>= 0.5x, p99 < 50 ms' : '-'} |`);
}
if (s.pages?.flat) lines.push(`| list at 100k vs 1k files (mean latency) | ${s.pages.flat.at100k} vs ${s.pages.flat.at1k} ms = ${s.pages.flat.ratio}x | <= 1.5x |`);
const f = s.files as Any | null;
if (f) {
  const row = (label: string, r: Any | undefined) =>
    r && lines.push(`| ${label} | ${r.MiBps} MiB/s, ${r.ratioVsCp}x cp, ${r.ratioVsFloor}x floor (the floor: ${r.floor?.ratioVsCp}x cp), RSS +${r.peakRssGrowthMiB} MiB | >= 0.7x cp, < 64 MiB |`);
  row(`files: encrypted store, ${f.sizeMiB} MiB`, f.encryptedStore);
  row(`files: decrypted read, ${f.sizeMiB} MiB`, f.decryptedRead);
  row(`files: HTTP upload, ${f.http?.sizeMiB} MiB`, f.http?.upload);
  row(`files: HTTP download, ${f.http?.sizeMiB} MiB`, f.http?.download);
  if (f.zip) lines.push(`| files: zip of ${f.zip.folderMiB} MiB, first byte | ${f.zip.timeToFirstByteMs} ms (cold ${f.zip.coldTimeToFirstByteMs} ms), RSS +${f.zip.peakRssGrowthMiB} MiB | < 300 ms, < 100 MiB |`);
}
const inv = s.invoices as Any | undefined;
if (inv) {
  for (const r of inv.list.rows as Any[]) lines.push(`| ${r.name} (${r.bytes} B) | ${r.reqPerSec} req/s, p50 ${r.p50} ms, mean ${r.mean} ms${r.ratio !== undefined ? `, ${r.ratio.toFixed(2)}x floor` : ''} | - |`);
  lines.push(`| invoice list at 100k vs 1k invoices (mean latency) | ${inv.list.flat.at100k} vs ${inv.list.flat.at1k} ms = ${inv.list.flat.ratio}x | <= 1.5x |`);
  lines.push(`| invoices pack, ${inv.pack.invoices} invoices + ${inv.pack.payments} payments: first byte | ${inv.pack.firstByteMs} ms, RSS +${inv.pack.rssGrowthMiB} MiB (whole zip ${inv.pack.totalMs} ms) | < 300 ms, < 100 MiB |`);
}
const msg = s.messaging as Any | undefined;
if (msg?.thread) {
  for (const r of msg.thread.rows as Any[]) lines.push(`| messaging: ${r.name} (${r.bytes} B) | ${r.reqPerSec} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, mean ${r.mean} ms${r.ratio !== undefined ? `, ${r.ratio.toFixed(2)}x floor` : ''} | - |`);
  lines.push(`| messaging: thread of 10,000 vs 100 messages (mean latency) | ${msg.thread.flat.at10k} vs ${msg.thread.flat.at100} ms = ${msg.thread.flat.ratio}x | <= 1.5x |`);
}
if (msg?.live) lines.push(`| messaging: ${msg.live.streams} open event streams, ${msg.live.holdSeconds} s | ${msg.live.streams - msg.live.closedEarly} held, ${msg.live.withHeartbeat} heartbeats, ${msg.live.received} got the event in ${msg.live.deliveryMs} ms; RSS +${Math.round((msg.live.rssMiB.afterHold - msg.live.rssMiB.before) * 10) / 10} MiB after the hold (${msg.live.perStreamKiB} KiB per stream; ${msg.live.peakPerStreamKiB} right after opening) | all held and delivered |`);
lines.push('', `whole run: ${s.totalSeconds} s; load average before ${(s.loadavgBefore as number[]).map((l) => l.toFixed(2)).join(' ')}, after ${load()}`, `results: ${file}`);
console.log(lines.join('\n'));
