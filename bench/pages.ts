// Page benchmark (issue 7): autocannon at 50 connections against a real Atrium process on the
// seeded firm, side by side with the floor of this stack (a bare Express + Handlebars page of the
// same byte size, bench/floor/server.ts) measured in the same run:
//   - the authenticated, themed workspace home /w/<slug>/ (with its widgets);
//   - the files list page /w/<slug>/files/ of that workspace;
//   - the same list page, first page, in a workspace with 1,000 files and in one with 100,000.
// Atrium runs production-like: ATRIUM_ENV=production, log level warn. The client signs in through
// the real login form (CSRF token, argon2 verify) and every request carries that session cookie.
// Prints a table and writes bench/results/pages-<time>.json.
//   node --import tsx bench/pages.ts [--data-dir DIR] [--duration S] [--warmup S] [--connections N]
// Without --data-dir it first seeds a full firm (bench/seed.ts) into a temporary folder.
// BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' passes Node flags to the Atrium process (profiling).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { PROJECT_ROOT } from '../core/config/load.ts';
import { benchEnv, BENCH_CLIENT, BENCH_PASSWORD, DEFAULTS, seed } from './seed.ts';

export interface Proc {
  child: ChildProcess;
  url: string;
  output: string[];
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** `atrium start` on a port we chose; ready when /healthz answers (at warn level nothing is logged). */
export async function startAtrium(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Proc> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(env.BENCH_NODE_ARGS ? env.BENCH_NODE_ARGS.split(' ') : []), 'bin/atrium.js', 'start'], {
    cwd: PROJECT_ROOT,
    env: { ATRIUM_ENV: 'production', ATRIUM_BASE_URL: url, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (c: Buffer) => {
    output.push(String(c));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`atrium exited with ${child.exitCode}: ${output.join('')}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return { child, url, output, stop: stopper(child) };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`atrium did not answer /healthz within ${timeoutMs} ms: ${output.join('')}`);
}

export async function startFloor(): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/floor/server.ts'], { cwd: PROJECT_ROOT, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      output.push(String(c));
      const m = /\{"port":(\d+)\}/.exec(output.join(''));
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, output, stop: stopper(child) };
}

/** Sign in through the login form; returns the session cookie header. */
export async function login(base: string, email: string, password: string): Promise<string> {
  const page = await fetch(`${base}/login`);
  const html = await page.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  const anon = /atrium_sid=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')?.[1];
  if (!csrf || !anon) throw new Error(`no CSRF token or session cookie on /login (status ${page.status})`);
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `atrium_sid=${anon}` },
    body: new URLSearchParams({ _csrf: csrf, email, password }).toString(),
  });
  const sid = /atrium_sid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  if (res.status < 300 || res.status >= 400 || !sid) throw new Error(`sign-in failed: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return `atrium_sid=${sid}`;
}

export interface Measure {
  name: string;
  url: string;
  bytes: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  mean: number;
  requests: number;
  errors: number;
  non2xx: number;
}

/** Check the page answers 200 with a body, warm up, then measure with autocannon. */
export async function measure(name: string, url: string, headers: Record<string, string>, o: { duration: number; warmup: number; connections: number }): Promise<Measure> {
  const first = await fetch(url, { headers, redirect: 'manual' });
  const body = Buffer.from(await first.arrayBuffer());
  if (first.status !== 200) throw new Error(`${name}: ${url} answered ${first.status}: ${body.toString().slice(0, 300)}`);
  if (o.warmup > 0) await autocannon({ url, headers, connections: o.connections, duration: o.warmup });
  const r = await autocannon({ url, headers, connections: o.connections, duration: o.duration });
  return {
    name,
    url,
    bytes: body.length,
    reqPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    mean: Math.round(r.latency.mean * 10) / 10,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

export interface PagesResult {
  bench: 'pages';
  at: string;
  database: 'sqlite' | 'postgres';
  connections: number;
  durationS: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
  rows: Array<Measure & { floor?: string; ratio?: number }>;
  flat: { at1k: number; at100k: number; ratio: number; p50at1k: number; p50at100k: number } | null;
  goals: { homeRatio: boolean; homeP99: boolean; listFlat: boolean | null };
  serverRssMiB: number | null;
}

function rssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

export async function runPages(o: { dataDir: string; databaseUrl?: string; homeSlug: string; smallSlug: string | null; bigSlug: string | null; duration: number; warmup: number; connections: number; log?: (l: string) => void }): Promise<PagesResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const loadavgBefore = loadavg();
  const atrium = await startAtrium(benchEnv(o.dataDir, o.databaseUrl));
  const floor = await startFloor();
  const rows: PagesResult['rows'] = [];
  let serverRss: number | null = null;
  try {
    const cookie = await login(atrium.url, BENCH_CLIENT, BENCH_PASSWORD);
    const headers = { cookie };
    const opts = { duration: o.duration, warmup: o.warmup, connections: o.connections };
    const run = async (name: string, url: string, h: Record<string, string>) => {
      log(`  pages: ${name} ...`);
      const m = await measure(name, url, h, opts);
      log(`  pages: ${name}: ${m.reqPerSec} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ${m.bytes} bytes${m.errors || m.non2xx ? `, ${m.errors} errors, ${m.non2xx} non-2xx` : ''}`);
      return m;
    };
    // Sizes first, so each floor page matches its Atrium page byte for byte (within a few bytes).
    const size = async (path: string) => (await (await fetch(atrium.url + path, { headers })).arrayBuffer()).byteLength;
    const home = `/w/${o.homeSlug}/`;
    const list = `/w/${o.homeSlug}/files/`;
    const homeBytes = await size(home);
    const listBytes = await size(o.bigSlug ? `/w/${o.bigSlug}/files/` : list);
    const floorHome = await run('floor (home size)', `${floor.url}/bytes/${homeBytes}`, {});
    rows.push(floorHome);
    rows.push({ ...(await run('workspace home', atrium.url + home, headers)), floor: floorHome.name });
    const floorList = await run('floor (list size)', `${floor.url}/bytes/${listBytes}`, {});
    rows.push(floorList);
    rows.push({ ...(await run('file list', atrium.url + list, headers)), floor: floorList.name });
    if (o.smallSlug) rows.push({ ...(await run('file list, 1k files', `${atrium.url}/w/${o.smallSlug}/files/`, headers)), floor: floorList.name });
    if (o.bigSlug) rows.push({ ...(await run('file list, 100k files', `${atrium.url}/w/${o.bigSlug}/files/`, headers)), floor: floorList.name });
    serverRss = rssMiB(atrium.child.pid);
  } finally {
    await floor.stop();
    await atrium.stop();
  }
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const r of rows) if (r.floor) r.ratio = Math.round((r.reqPerSec / byName.get(r.floor)!.reqPerSec) * 100) / 100;
  const r1k = byName.get('file list, 1k files');
  const r100k = byName.get('file list, 100k files');
  // "Time" per request at 50 connections is the mean latency; flat = 100k within 1.5x of 1k.
  const flat = r1k && r100k ? { at1k: r1k.mean, at100k: r100k.mean, ratio: Math.round((r100k.mean / r1k.mean) * 100) / 100, p50at1k: r1k.p50, p50at100k: r100k.p50 } : null;
  const homeRow = byName.get('workspace home')!;
  return {
    bench: 'pages',
    at: new Date().toISOString(),
    database: o.databaseUrl ? 'postgres' : 'sqlite',
    connections: o.connections,
    durationS: o.duration,
    loadavgBefore,
    loadavgAfter: loadavg(),
    rows,
    flat,
    goals: { homeRatio: (homeRow.ratio ?? 0) >= 0.5, homeP99: homeRow.p99 < 50, listFlat: flat ? flat.ratio <= 1.5 : null },
    serverRssMiB: serverRss,
  };
}

export function pagesTable(r: PagesResult): string {
  const lines = ['| page | bytes | req/s | p50 ms | p99 ms | x floor |', '|---|---:|---:|---:|---:|---:|'];
  for (const m of r.rows) lines.push(`| ${m.name} | ${m.bytes} | ${m.reqPerSec} | ${m.p50} | ${m.p99} | ${m.ratio === undefined ? '1.00' : m.ratio.toFixed(2)} |`);
  if (r.flat) lines.push('', `list at 100k vs 1k rows (mean latency at ${r.connections} connections): ${r.flat.at100k} ms vs ${r.flat.at1k} ms = ${r.flat.ratio}x (goal <= 1.5x: ${r.goals.listFlat ? 'met' : 'MISSED'})`);
  const home = r.rows.find((x) => x.name === 'workspace home');
  if (home) lines.push(`workspace home: ${home.ratio?.toFixed(2)}x the floor (goal >= 0.5x: ${r.goals.homeRatio ? 'met' : 'MISSED'}), p99 ${home.p99} ms (goal < 50 ms: ${r.goals.homeP99 ? 'met' : 'MISSED'})`);
  return lines.join('\n');
}

export function writeResult(name: string, data: unknown): string {
  const dir = join(PROJECT_ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2));
  return file;
}

// ---- command line
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' } } });
  let dataDir = values['data-dir'];
  let temp: string | undefined;
  if (!dataDir) {
    dataDir = temp = mkdtempSync(join(tmpdir(), 'atrium-bench-pages-'));
    console.log(`seeding a firm into ${dataDir}`);
    await seed({ ...DEFAULTS, dataDir, databaseUrl: process.env.DATABASE_URL ?? '' });
  }
  try {
    const r = await runPages({
      dataDir,
      databaseUrl: process.env.DATABASE_URL ?? '',
      homeSlug: 'ws-0001',
      smallSlug: 'list-1k',
      bigSlug: 'list-100k',
      duration: Number(values.duration ?? 10),
      warmup: Number(values.warmup ?? 2),
      connections: Number(values.connections ?? 50),
    });
    console.log(pagesTable(r));
    console.log(`results: ${writeResult('pages', r)}`);
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}
