// Messaging benchmark (the messaging issue's "Done when"), every figure from one run on this machine:
//  1. a thread's page (GET /w/<ws>/messaging/t/<id>, its first page: the newest `pageSize` messages)
//     read by a signed-in client, in a thread of 100 messages and in one of 10,000 (autocannon, 50
//     connections), beside the floor (a bare Express + Handlebars page of the same size,
//     bench/floor/server.ts) measured in the same run. Flat = mean latency at 10k / at 100; goal
//     <= 1.5x. Each thread is measured twice, in the order 100, 10k, 10k, 100, and the two runs of
//     each combined (whichever goes first after start-up pays for the JIT: bench/invoices.ts).
//     Also one request at a time, the two alternating (BENCH_SERIAL, default 300 each): the p50s
//     compared, a figure a busy machine disturbs far less than 50 connections queueing.
//  2. open event streams (GET /live) on one fresh server process: `--streams` (default 1,000)
//     streams for the workspace's four client users (250 sessions each, session rows written by the
//     bench), held `--hold` seconds (default 30: longer than the server's 25 s heartbeat, so every
//     stream must also see one heartbeat, which re-reads its session), then a member of the firm
//     posts a message in the thread through the real form, and every stream must receive the
//     thread's live event. The server's RSS and open descriptors before, with the streams open,
//     after the hold and after they are closed; per stream = growth / streams.
// Seeding is bulk inserts (bench/seed.ts's `bulk`): message rows with their rendered HTML (the
// plugin's own renderer) and, on SQLite, their full-text rows; 10% internal notes, which a client's
// page must skip, and a few removed messages (tombstones).
// On PostgreSQL (`--pg`) it creates a fresh database with createdb on 127.0.0.1:5432 as postgres
// and drops it at the end.
// Prints a table and writes bench/results/messaging-<time>.json.
//   node --import tsx bench/messaging.ts [--pg] [--duration S] [--warmup S] [--connections N]
//        [--streams N] [--hold S] [--skip-thread] [--skip-live]
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../core/config/load.ts';
import { createDb, isPostgresClient, type Db } from '../core/db/index.ts';
import { newId, newToken, sha256Hex } from '../core/ids.ts';
import { renderMessage } from '../plugins/messaging/markdown.ts';
import { benchEnv, BENCH_CLIENT, BENCH_PASSWORD, bulk, seed } from './seed.ts';
import { login, measure, startAtrium, startFloor, writeResult, type Measure } from './pages.ts';

const DAY = 86_400_000;
const PG = { host: '127.0.0.1', port: '5432', user: 'postgres' };
const round = (n: number) => Math.round(n * 10) / 10;

// A handful of realistic bodies (Markdown), rendered once each by the plugin's own renderer.
const BODIES = [
  'Thanks, we have received the bank statements for **March**. Could you also send the credit card statement for the same month?',
  'Here is where we are on the year-end accounts:\n\n- trial balance reconciled\n- fixed asset register updated\n- *pending*: the director\'s loan account\n\nWe expect to send a draft next week.',
  'Of course. I have uploaded it to the Uploads folder just now.',
  'Quick question: should the new van be capitalised or expensed? It cost a little under 18,000 and we bought it in June.',
  'It should be capitalised and depreciated over five years. See [our note on fixed assets](https://example.com/fixed-assets) for the policy.',
  'The VAT return for Q2 is ready for your review. The amount due is 4,312.55, payable by 7 August.',
  'Approved, thank you! Please go ahead and file it.',
  'Filed. The confirmation from HMRC is attached to the approval request.',
  'Could we move Thursday\'s call to Friday morning? Something came up with the board.',
  'Friday at 10:00 works for us. I have updated the invitation.',
];
const NOTE = 'Internal: the client\'s payroll numbers do not match the P32 for **May**; check with the payroll bureau before replying.';

interface Seeded {
  slug: string;
  workspaceId: string;
  small: { id: string; messages: number };
  big: { id: string; messages: number };
  /** Session cookies for the event streams, with their user. */
  streams: Array<{ cookie: string; userId: string }>;
  /** A member of the firm's session (posts the message that every stream must receive). */
  poster: { cookie: string; csrf: string };
  seconds: number;
}

/** A thread of `count` messages in `ws`, oldest `first`, one every `stepMs`: rows for threads, messages and (SQLite) FTS. */
function threadRows(ws: string, title: string, count: number, first: number, stepMs: number, client: string, staff: string, html: string[], noteHtml: string) {
  const threadId = newId(first - 1000);
  const messages: Array<Record<string, unknown>> = [];
  const fts: Array<Record<string, unknown>> = [];
  let lastPublic: number | null = null;
  let publicCount = 0;
  for (let i = 0; i < count; i++) {
    const at = first + i * stepMs;
    const internal = i % 10 === 7; // 10% internal notes, which a client's page never shows
    const removed = !internal && i % 200 === 11; // a few tombstones
    const k = i % BODIES.length;
    const author = internal || k % 2 === 1 ? staff : client;
    const body = removed ? '' : internal ? NOTE : BODIES[k]!;
    const id = newId(at);
    messages.push({ id, workspace_id: ws, thread_id: threadId, author_id: author, visibility: internal ? 'internal' : 'public', body, html: removed ? '' : internal ? noteHtml : html[k]!, via: 'portal', created_at: at, edited_at: null, deleted_at: removed ? at + 60_000 : null, deleted_by: removed ? author : null });
    if (!removed) fts.push({ body, message_id: id, workspace_id: ws });
    if (!internal) {
      lastPublic = at;
      publicCount++;
    }
  }
  const last = first + (count - 1) * stepMs;
  const thread = { id: threadId, workspace_id: ws, kind: 'topic', key: `topic:${threadId}`, title, subject_type: null, subject_id: null, created_by: staff, created_at: first - 1000, last_public_at: lastPublic, last_at: last, public_count: publicCount, message_count: count, awaiting_firm_since: null, assignee_id: null, done_at: null };
  return { thread, messages, fts };
}

export async function seedMessaging(o: { dataDir: string; databaseUrl: string; small: number; big: number; streams: number; log: (l: string) => void }): Promise<Seeded> {
  const t = performance.now();
  const seeded = await seed({ dataDir: o.dataDir, databaseUrl: o.databaseUrl, workspaces: 1, files: 0, audit: 0, staff: 2, clients: 3, big: 0, small: 0, sessions: 0, log: () => undefined });
  const config = loadConfig({ env: { ATRIUM_DATA_DIR: o.dataDir }, overrides: { dataDir: o.dataDir, database: { url: o.databaseUrl, poolMax: 2 }, log: { level: 'warn' } } });
  const db: Db = createDb(config, pino({ level: 'warn' }));
  try {
    const ws = (await db('workspaces').where({ slug: seeded.homeSlug }).first('id')) as { id: string };
    const client = (await db('users').where({ email: BENCH_CLIENT }).first('id')) as { id: string };
    const staff = (await db('memberships as m').join('users as u', 'u.id', 'm.user_id').where({ 'm.workspace_id': ws.id, 'm.role': 'staff' }).orderBy('u.email').first('u.id')) as { id: string };
    const clients = ((await db('memberships as m').join('users as u', 'u.id', 'm.user_id').where({ 'm.workspace_id': ws.id }).whereNull('u.firm_role').orderBy('u.email').select('u.id')) as Array<{ id: string }>).map((r) => r.id);
    const html = BODIES.map((b) => renderMessage(b));
    const noteHtml = renderMessage(NOTE);
    const now = Date.now();
    // The small thread: 100 messages over the last ~3 days; the big one: 10,000 over ~2 years.
    const small = threadRows(ws.id, 'VAT return, Q2', o.small, now - DAY * 3, 40 * 60_000, client.id, staff.id, html, noteHtml);
    const big = threadRows(ws.id, 'Year-end accounts and everything else', o.big, now - 2 * DAY - o.big * 100 * 60_000, 100 * 60_000, client.id, staff.id, html, noteHtml);
    await bulk(db, 'messaging_threads', [small.thread, big.thread]);
    await bulk(db, 'messaging_messages', [...small.messages, ...big.messages]);
    if (!isPostgresClient(db)) await bulk(db, 'messaging_fts', [...small.fts, ...big.fts]);
    // Sessions for the event streams: spread over the workspace's client users, each with a cookie.
    const streams: Seeded['streams'] = [];
    const rows: Array<Record<string, unknown>> = [];
    const session = (userId: string, ua: string) => {
      const token = newToken();
      const csrf = newToken();
      rows.push({ id_hash: sha256Hex(token), user_id: userId, csrf_token: csrf, created_at: now, last_seen_at: now, expires_at: now + 12 * 3_600_000, auth_at: now, mfa_pending: false, ip: '127.0.0.1', user_agent: ua, data: '{}' });
      return { cookie: `atrium_sid=${token}`, csrf };
    };
    for (let i = 0; i < o.streams; i++) {
      const userId = clients[i % clients.length]!;
      streams.push({ cookie: session(userId, 'atrium-bench-live').cookie, userId });
    }
    const poster = session(staff.id, 'atrium-bench-poster');
    await bulk(db, 'sessions', rows);
    if (isPostgresClient(db)) await db.raw('analyze');
    o.log(`  messaging: threads of ${o.small} and ${o.big} messages, ${o.streams} stream sessions for ${clients.length} client users, in ${Math.round(performance.now() - t)} ms`);
    return { slug: seeded.homeSlug, workspaceId: ws.id, small: { id: small.thread.id, messages: o.small }, big: { id: big.thread.id, messages: o.big }, streams, poster, seconds: round((performance.now() - t) / 1000) };
  } finally {
    await db.destroy();
  }
}

// ---- the server's memory and descriptors, from /proc
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? round(Number(m[1]) / 1024) : 0;
}
const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
function fdLimit(pid: number | 'self'): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One open GET /live, parsed as server-sent events: what it has seen so far. */
interface Stream {
  userId: string;
  openedMs: number;
  connected: boolean;
  heartbeats: number;
  events: Map<string, number>;
  closed: boolean;
  status: number;
  req: ReturnType<typeof request>;
  res?: IncomingMessage;
}

function openStream(base: string, cookie: string, userId: string, agent: Agent): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = { userId, openedMs: 0, connected: false, heartbeats: 0, events: new Map(), closed: false, status: 0 } as unknown as Stream;
    s.req = request(`${base}/live`, { agent, headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      s.res = res;
      s.status = res.statusCode ?? 0;
      if (s.status !== 200) {
        res.resume();
        return reject(new Error(`/live answered ${s.status}`));
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (block.includes(': connected') && !s.connected) {
            s.connected = true;
            s.openedMs = performance.now() - t0;
            resolve(s);
          }
          if (block === ': heartbeat') s.heartbeats++;
          const ev = /^event: (.+)$/m.exec(block)?.[1];
          if (ev) s.events.set(ev, (s.events.get(ev) ?? 0) + 1);
        }
      });
      res.on('close', () => (s.closed = true));
    });
    s.req.on('error', (err) => {
      s.closed = true;
      reject(err);
    });
    s.req.end();
  });
}

export interface LiveResult {
  streams: number;
  users: number;
  openSeconds: number;
  openP50Ms: number;
  openMaxMs: number;
  holdSeconds: number;
  heartbeatMs: number;
  allOpenAfterHold: boolean;
  closedEarly: number;
  withHeartbeat: number;
  event: string;
  received: number;
  deliveryMs: number;
  rssMiB: { before: number; open: number; afterHold: number; afterClose: number };
  /** RSS growth after the hold (the collector has run), per stream; and right after opening (with the requests' garbage). */
  perStreamKiB: number;
  peakPerStreamKiB: number;
  fds: { before: number; open: number; limit: number; benchLimit: number };
  ok: boolean;
}

/** Open `seeded.streams` event streams on `atrium`, hold them, post a message, check every stream received it. */
async function runLive(atrium: { url: string; pid: number }, seeded: Seeded, holdSeconds: number, threadId: string, log: (l: string) => void): Promise<LiveResult> {
  const n = seeded.streams.length;
  const need = n + 200;
  const benchLimit = fdLimit('self');
  const limit = fdLimit(atrium.pid);
  if (benchLimit < need || limit < need) throw new Error(`open files limit too low for ${n} streams (bench ${benchLimit}, server ${limit}; need about ${need}): run with ulimit -n ${Math.max(4096, need)}`);
  // One socket per stream (an event stream holds its connection for good).
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  // Warm up: a page and a few streams opened and closed, so the baseline includes the code paths.
  for (let i = 0; i < 20; i++) {
    const s = await openStream(atrium.url, seeded.streams[i]!.cookie, seeded.streams[i]!.userId, agent);
    s.req.destroy();
  }
  await sleep(1000);
  const before = { rss: rssMiB(atrium.pid), fds: openFds(atrium.pid) };
  log(`  live: server RSS ${before.rss} MiB, ${before.fds} open descriptors (limit ${limit}); opening ${n} streams ...`);
  const t0 = performance.now();
  const streams: Stream[] = [];
  // 50 at a time: each one is a session lookup; a browser-like ramp, not one burst of 1,000.
  for (let i = 0; i < n; i += 50) {
    streams.push(...(await Promise.all(seeded.streams.slice(i, i + 50).map((s) => openStream(atrium.url, s.cookie, s.userId, agent)))));
  }
  const openSeconds = round((performance.now() - t0) / 1000);
  const opened = streams.map((s) => s.openedMs).sort((a, b) => a - b);
  const open = { rss: rssMiB(atrium.pid), fds: openFds(atrium.pid) };
  log(`  live: ${n} streams open in ${openSeconds} s (p50 ${round(opened[Math.floor(n / 2)]!)} ms, max ${round(opened.at(-1)!)} ms); server RSS ${open.rss} MiB, ${open.fds} descriptors`);
  // Hold: every stream must stay open, and see at least one heartbeat (the server's, every 25 s).
  const holdUntil = t0 + holdSeconds * 1000;
  while (performance.now() < holdUntil) await sleep(1000);
  const lateBy = performance.now() + 30_000;
  while (streams.some((s) => !s.heartbeats && !s.closed) && performance.now() < lateBy) await sleep(500);
  const heldFor = round((performance.now() - t0) / 1000);
  const closedEarly = streams.filter((s) => s.closed).length;
  const withHeartbeat = streams.filter((s) => s.heartbeats > 0).length;
  const afterHold = rssMiB(atrium.pid);
  log(`  live: after ${heldFor} s: ${n - closedEarly} of ${n} open, ${withHeartbeat} have had a heartbeat; server RSS ${afterHold} MiB`);

  // A member of the firm posts in the thread: every reader's streams get the thread's event.
  const event = `messaging-t-${threadId}`;
  const tPost = performance.now();
  const res = await fetch(`${atrium.url}/w/${seeded.slug}/messaging/t/${threadId}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: seeded.poster.cookie, 'x-csrf-token': seeded.poster.csrf, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ body: 'The draft accounts are in your Deliverables folder.' }).toString(),
  });
  if (res.status !== 303) throw new Error(`posting the message answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const deadline = performance.now() + 10_000;
  while (streams.some((s) => !s.events.get(event)) && performance.now() < deadline) await sleep(2);
  const deliveryMs = round(performance.now() - tPost);
  const received = streams.filter((s) => s.events.get(event)).length;
  log(`  live: message posted; ${received} of ${n} streams had its event ${deliveryMs} ms after the post was sent`);

  for (const s of streams) s.req.destroy();
  agent.destroy();
  await sleep(2000);
  const afterClose = rssMiB(atrium.pid);
  // Right after opening, RSS also holds the garbage of 1,000 requests (sessions read, headers);
  // after the hold the collector has run: that growth is what the streams keep.
  const perStreamKiB = round(((afterHold - before.rss) * 1024) / n);
  const peakPerStreamKiB = round(((open.rss - before.rss) * 1024) / n);
  return {
    streams: n,
    users: new Set(seeded.streams.map((s) => s.userId)).size,
    openSeconds,
    openP50Ms: round(opened[Math.floor(n / 2)]!),
    openMaxMs: round(opened.at(-1)!),
    holdSeconds: heldFor,
    heartbeatMs: 25_000,
    allOpenAfterHold: closedEarly === 0,
    closedEarly,
    withHeartbeat,
    event,
    received,
    deliveryMs,
    rssMiB: { before: before.rss, open: open.rss, afterHold, afterClose },
    perStreamKiB,
    peakPerStreamKiB,
    fds: { before: before.fds, open: open.fds, limit, benchLimit },
    ok: closedEarly === 0 && withHeartbeat === n && received === n,
  };
}

const SERIAL = Math.max(10, Number(process.env.BENCH_SERIAL ?? 300));

/** `n` GETs of each URL, one at a time, alternating in ABBA order (after 20 of each not counted): p50 and p90 of each, ratio of the p50s (b / a). */
async function alternate(a: string, b: string, headers: Record<string, string>, n: number) {
  const times: [number[], number[]] = [[], []];
  for (let i = -20; i < n; i++) {
    // ABBA: whichever goes second in a pair pays for what the first left behind (seen: 0.3 ms).
    for (const k of i % 2 ? [1, 0] : [0, 1]) {
      const url = k ? b : a;
      const t = performance.now();
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      if (i >= 0) times[k]!.push(performance.now() - t);
    }
  }
  const pct = (xs: number[], p: number) => round([...xs].sort((x, y) => x - y)[Math.floor(xs.length * p)]!);
  const at100 = { p50: pct(times[0], 0.5), p90: pct(times[0], 0.9) };
  const at10k = { p50: pct(times[1], 0.5), p90: pct(times[1], 0.9) };
  return { requests: n, at100, at10k, ratio: Math.round((at10k.p50 / at100.p50) * 100) / 100 };
}

export interface MessagingBenchResult {
  bench: 'messaging';
  at: string;
  database: 'sqlite' | 'postgres';
  loadavgBefore: number[];
  loadavgAfter: number[];
  seedSeconds: number;
  thread?: { rows: Array<Measure & { ratio?: number }>; flat: { at100: number; at10k: number; ratio: number; p50at100: number; p50at10k: number; p99at100: number; p99at10k: number }; serial: Awaited<ReturnType<typeof alternate>>; goal: boolean };
  live?: LiveResult;
}

export async function runMessagingBench(o: { duration: number; warmup: number; connections: number; streams: number; holdSeconds: number; pg?: boolean; thread?: boolean; live?: boolean; log?: (l: string) => void }): Promise<MessagingBenchResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const loadavgBefore = loadavg();
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-messaging-'));
  const dbName = o.pg ? `atrium_msgbench_${process.pid}_${Date.now().toString(36)}` : '';
  const databaseUrl = o.pg ? `postgres://${PG.user}@${PG.host}:${PG.port}/${dbName}` : '';
  const dropDb = () => dbName && execFileSync('dropdb', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '--if-exists', '--force', dbName]);
  try {
    if (o.pg) execFileSync('createdb', ['-h', PG.host, '-p', PG.port, '-U', PG.user, dbName]);
    log(`  messaging: seeding ${o.pg ? `PostgreSQL database ${dbName}` : `SQLite in ${dataDir}`}`);
    const seeded = await seedMessaging({ dataDir, databaseUrl, small: 100, big: 10_000, streams: o.streams, log });
    const result: MessagingBenchResult = { bench: 'messaging', at: new Date().toISOString(), database: o.pg ? 'postgres' : 'sqlite', loadavgBefore, loadavgAfter: [], seedSeconds: seeded.seconds };
    const env = benchEnv(dataDir, databaseUrl);
    if (o.thread !== false) {
      const atrium = await startAtrium(env);
      const floor = await startFloor();
      try {
        const cookie = await login(atrium.url, BENCH_CLIENT, BENCH_PASSWORD);
        const headers = { cookie };
        const opts = { duration: o.duration, warmup: o.warmup, connections: o.connections };
        const url100 = `${atrium.url}/w/${seeded.slug}/messaging/t/${seeded.small.id}`;
        const url10k = `${atrium.url}/w/${seeded.slug}/messaging/t/${seeded.big.id}`;
        const pageBytes = (await (await fetch(url10k, { headers })).arrayBuffer()).byteLength;
        const run = async (name: string, url: string, h: Record<string, string>) => {
          log(`  messaging: ${name} ...`);
          const m = await measure(name, url, h, opts);
          log(`  messaging: ${name}: ${m.reqPerSec} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, mean ${m.mean} ms, ${m.bytes} bytes${m.errors || m.non2xx ? `, ${m.errors} errors, ${m.non2xx} non-2xx` : ''}`);
          return m;
        };
        const fl = await run('floor (thread page size)', `${floor.url}/bytes/${pageBytes}`, {});
        const a100 = await run('thread of 100 messages (1st)', url100, headers);
        const a10k = await run('thread of 10,000 messages (1st)', url10k, headers);
        const b10k = await run('thread of 10,000 messages (2nd)', url10k, headers);
        const b100 = await run('thread of 100 messages (2nd)', url100, headers);
        const both = (name: string, x: Measure, y: Measure): Measure => ({
          name,
          url: x.url,
          bytes: x.bytes,
          reqPerSec: Math.round((x.reqPerSec + y.reqPerSec) / 2),
          p50: round((x.p50 + y.p50) / 2),
          p99: round((x.p99 + y.p99) / 2),
          mean: round((x.mean * x.requests + y.mean * y.requests) / Math.max(1, x.requests + y.requests)),
          requests: x.requests + y.requests,
          errors: x.errors + y.errors,
          non2xx: x.non2xx + y.non2xx,
        });
        const t100 = both('thread of 100 messages, first page', a100, b100);
        const t10k = both('thread of 10,000 messages, first page', a10k, b10k);
        // One request at a time, the two threads alternating: the latency of a page on its own,
        // much less at the mercy of a busy machine than 50 connections queueing on two cores.
        log(`  messaging: one request at a time, ${SERIAL} per thread, alternating ...`);
        const serial = await alternate(url100, url10k, headers, SERIAL);
        log(`  messaging: serial: thread of 100 p50 ${serial.at100.p50} ms, p90 ${serial.at100.p90} ms; of 10,000 p50 ${serial.at10k.p50} ms, p90 ${serial.at10k.p90} ms: ${serial.ratio}x`);
        const rows: Array<Measure & { ratio?: number }> = [fl];
        for (const m of [t100, t10k]) rows.push({ ...m, ratio: Math.round((m.reqPerSec / fl.reqPerSec) * 100) / 100 });
        const flat = { at100: t100.mean, at10k: t10k.mean, ratio: Math.round((t10k.mean / t100.mean) * 100) / 100, p50at100: t100.p50, p50at10k: t10k.p50, p99at100: t100.p99, p99at10k: t10k.p99 };
        // A run where every request timed out has a mean of 0: never a met goal.
        result.thread = { rows, flat, serial, goal: flat.ratio <= 1.5 && t100.requests > 0 && t10k.requests > 0 && !t10k.errors && !t10k.non2xx };
      } finally {
        await floor.stop();
        await atrium.stop();
      }
    }
    if (o.live !== false) {
      // A fresh process, so its memory is the streams' and not the page runs' garbage.
      const atrium = await startAtrium(env);
      try {
        result.live = await runLive({ url: atrium.url, pid: atrium.child.pid! }, seeded, o.holdSeconds, seeded.small.id, log);
        const errors = atrium.output.join('').split('\n').filter((l) => /"level":(50|60)/.test(l));
        if (errors.length) log(`  live: the server logged ${errors.length} errors, first: ${errors[0]!.slice(0, 300)}`);
      } finally {
        await atrium.stop();
      }
    }
    result.loadavgAfter = loadavg();
    return result;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    dropDb();
  }
}

export function messagingTable(r: MessagingBenchResult): string {
  const lines: string[] = [`database: ${r.database}`];
  if (r.thread) {
    lines.push('| measure | req/s | p50 ms | p99 ms | mean ms | x floor |', '|---|---:|---:|---:|---:|---:|');
    for (const m of r.thread.rows) lines.push(`| ${m.name} (${m.bytes} B) | ${m.reqPerSec} | ${m.p50} | ${m.p99} | ${m.mean} | ${m.ratio === undefined ? '1.00' : m.ratio.toFixed(2)} |`);
    lines.push('', `thread of 10,000 vs 100 messages (mean latency): ${r.thread.flat.at10k} ms vs ${r.thread.flat.at100} ms = ${r.thread.flat.ratio}x (goal <= 1.5x: ${r.thread.goal ? 'met' : 'MISSED'})`);
    const se = r.thread.serial;
    lines.push(`one request at a time (${se.requests} each, alternating): p50 ${se.at10k.p50} ms vs ${se.at100.p50} ms = ${se.ratio}x (p90 ${se.at10k.p90} vs ${se.at100.p90} ms)`);
  }
  const l = r.live;
  if (l) {
    lines.push(
      `event streams: ${l.streams} open for ${l.users} users in ${l.openSeconds} s (p50 ${l.openP50Ms} ms, max ${l.openMaxMs} ms); after ${l.holdSeconds} s ${l.streams - l.closedEarly} still open, ${l.withHeartbeat} had a heartbeat; ${l.received} of ${l.streams} received the posted message's event within ${l.deliveryMs} ms (${l.ok ? 'met' : 'MISSED'})`,
      `server RSS ${l.rssMiB.before} MiB -> ${l.rssMiB.open} MiB right after opening (${l.peakPerStreamKiB} KiB per stream), ${l.rssMiB.afterHold} MiB after the hold (${l.perStreamKiB} KiB per stream), ${l.rssMiB.afterClose} MiB after closing; descriptors ${l.fds.before} -> ${l.fds.open} (limit ${l.fds.limit})`,
    );
  }
  return lines.join('\n');
}

// ---- command line
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { pg: { type: 'boolean' }, duration: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' }, streams: { type: 'string' }, hold: { type: 'string' }, 'skip-thread': { type: 'boolean' }, 'skip-live': { type: 'boolean' } } });
  const r = await runMessagingBench({
    pg: Boolean(values.pg),
    duration: Number(values.duration ?? 10),
    warmup: Number(values.warmup ?? 2),
    connections: Number(values.connections ?? 50),
    streams: Number(values.streams ?? 1000),
    holdSeconds: Number(values.hold ?? 30),
    thread: !values['skip-thread'],
    live: !values['skip-live'],
  });
  console.log(messagingTable(r));
  console.log(`results: ${writeResult('messaging', r)}`);
}
