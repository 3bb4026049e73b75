// Invoices benchmark (issue 15), every figure from one run on this machine:
//  1. the invoice list page, first page, read by the client's admin (the CFO) in a workspace with
//     1,000 invoices and in one with 100,000 (autocannon, 50 connections), beside the floor (a bare
//     Express + Handlebars page of the same size, bench/floor/server.ts) measured in the same run.
//     Flat = mean latency at 100k / at 1k; goal <= 1.5x. Both workspaces have 20 invoices still to
//     pay (the rest paid or void), as a long-standing client would: the list's "to be paid" totals
//     read the open invoices only, by index.
//  2. the period pack of November 2026 in the 1k workspace: 1,000 invoices issued that month, each
//     with its PDF stored encrypted through the kernel's storage (one rendered invoice stored 1,000
//     times under each invoice's own bind: the pack streams stored blobs, their content does not
//     change its cost), and 1,000 payments (receipts rendered while the zip streams). Time to the
//     first byte of the body and the server's RSS growth while the whole zip streams (sampled from
//     /proc every 10 ms); goals < 300 ms and < 100 MiB. Medians of BENCH_RUNS (default 3) after one
//     download that is not measured; the whole pack's time and size for the record.
// Seeding is bulk inserts (bench/seed.ts's `bulk`), one transaction per table, a few seconds.
// Prints a table and writes bench/results/invoices-<time>.json.
//   node --import tsx bench/invoices.ts [--duration S] [--warmup S] [--connections N]
import 'reflect-metadata';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../core/config/load.ts';
import { createDb, type Db } from '../core/db/index.ts';
import { systemClock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import { StorageService, createBlobStore } from '../core/storage/index.ts';
import { renderInvoicePdf } from '../plugins/invoices/pdf.ts';
import { pdfBind } from '../plugins/invoices/service.ts';
import { benchEnv, BENCH_CLIENT, BENCH_PASSWORD, bulk, seed } from './seed.ts';
import { login, measure, startAtrium, startFloor, writeResult, type Measure } from './pages.ts';

const DAY = 86_400_000;
const NOV = Date.parse('2026-11-01T00:00:00Z');
const OPEN = 20;
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));

function invoiceRow(ws: string, n: number, tag: string, issuedAt: number, status: string): Record<string, unknown> {
  const total = 12_000 + (n % 97) * 100;
  const paid = status === 'paid' ? total : 0;
  return {
    id: newId(issuedAt),
    workspace_id: ws,
    status,
    number: `${tag}-${String(n).padStart(6, '0')}`,
    label: `${tag}-${String(n).padStart(6, '0')}`,
    currency: 'EUR',
    tax_mode: 'exclusive',
    terms_days: 30,
    notes: '',
    terms: '',
    payment_details: 'IBAN GB33 BUKB 2020 1555 5555 55',
    subtotal: total - 2000,
    tax_total: 2000,
    total,
    paid_total: paid,
    issued_at: issuedAt,
    issued_by: null,
    due_at: issuedAt + 30 * DAY,
    viewed_at: null,
    viewed_by: null,
    paid_at: status === 'paid' ? issuedAt + 10 * DAY : null,
    voided_at: status === 'void' ? issuedAt + DAY : null,
    voided_by: null,
    void_reason: status === 'void' ? 'Issued twice' : null,
    pdf_key: null,
    pdf_sha256: null,
    pdf_size: null,
    created_by: null,
    created_at: issuedAt,
    updated_at: issuedAt,
  };
}

/** `count` invoices in `ws`: the last OPEN still to pay, one in 50 void, the rest paid. */
function invoices(ws: string, count: number, tag: string, first: number, step: number): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => invoiceRow(ws, i + 1, tag, first + i * step, i >= count - OPEN ? 'issued' : i % 50 === 49 ? 'void' : 'paid'));
}

export async function seedInvoices(dataDir: string, log: (l: string) => void) {
  const t = performance.now();
  await seed({ dataDir, workspaces: 1, files: 0, audit: 0, staff: 1, clients: 3, big: 0, small: 0, sessions: 0, log: () => undefined });
  const config = loadConfig({ env: { ATRIUM_DATA_DIR: dataDir }, overrides: { dataDir, database: { url: '', poolMax: 2 }, log: { level: 'warn' } } });
  const db: Db = createDb(config, pino({ level: 'warn' }));
  try {
    const client = (await db('users').where({ email: BENCH_CLIENT }).first('id')) as { id: string };
    const now = Date.now();
    const small = { id: newId(), slug: 'inv-1k', name: 'Thousand Invoices Ltd' };
    const big = { id: newId(), slug: 'inv-100k', name: 'Hundred Thousand Invoices Ltd' };
    await bulk(db, 'workspaces', [small, big].map((w) => ({ id: w.id, slug: w.slug, name: w.name, settings: '{}', archived: false, created_at: now - 400 * DAY })));
    await bulk(db, 'memberships', [small, big].map((w) => ({ id: newId(), user_id: client.id, workspace_id: w.id, role: 'client_admin', created_at: now - 400 * DAY })));
    // 1k: every invoice issued in November 2026 (43 minutes apart), the pack's month.
    const smallRows = invoices(small.id, 1000, 'S', NOV + 3_600_000, 43 * 60_000);
    // 100k: one every 80 minutes over about 15 years, up to November 2026.
    const bigRows = invoices(big.id, 100_000, 'B', NOV + 29 * DAY - 100_000 * 80 * 60_000, 80 * 60_000);
    await bulk(db, 'invoices_invoices', smallRows);
    await bulk(db, 'invoices_invoices', bigRows);
    log(`  invoices: 1,000 + 100,000 invoices inserted in ${Math.round(performance.now() - t)} ms`);

    // The 1k workspace's PDFs, stored encrypted like an issue stores them, and its payments.
    const t2 = performance.now();
    const storage = new StorageService(config, createBlobStore(config), systemClock, pino({ level: 'warn' }));
    const pdf = Buffer.from(
      await renderInvoicePdf({
        firm: { name: 'Bench Firm', address: '1 Quay Street, Bristol', colour: '#1f4e79' },
        client: small.name,
        number: 'S-000001',
        issuedAt: NOV,
        issueDay: '1 Nov 2026',
        dueDay: '1 Dec 2026',
        currency: 'EUR',
        taxLabel: 'Tax',
        lines: [{ description: 'Managed IT retainer, November', quantity: '1', unitPrice: '100.00', taxRate: '20%', discount: '', amount: '100.00' }],
        totals: [{ label: 'Total', value: 'EUR 120.00', strong: true }],
        paymentDetails: 'IBAN GB33 BUKB 2020 1555 5555 55',
        notes: '',
        terms: '',
      }),
    );
    const blobs: Array<{ r: Record<string, unknown>; blob: Awaited<ReturnType<StorageService["put"]>> }> = [];
    for (const r of smallRows) {
      const blob = await storage.put(Readable.from([pdf]), { bind: pdfBind(String(r.id)) });
      blobs.push({ r, blob });
    }
    await db.transaction(async (trx) => {
      for (const { r, blob } of blobs) {
        await storage.record(trx, blob, { plugin: 'invoices', workspaceId: small.id });
        await trx('invoices_invoices').where({ id: r.id }).update({ pdf_key: blob.key, pdf_sha256: blob.sha256, pdf_size: blob.size });
      }
    });
    await bulk(
      db,
      'invoices_payments',
      smallRows.map((r, i) => ({ id: newId(), workspace_id: small.id, invoice_id: r.id, receipt_number: `SR-${String(i + 1).padStart(6, '0')}`, amount: Math.min(5000, Number(r.total)), method: 'bank_transfer', reference: `Bank ref ${i + 1}`, received_at: NOV + (i % 29) * DAY, recorded_by: null, recorded_at: NOV + (i % 29) * DAY + 3_600_000 })),
    );
    log(`  invoices: 1,000 PDFs stored encrypted and 1,000 payments in ${Math.round(performance.now() - t2)} ms`);
    return { small, big, seconds: Math.round((performance.now() - t) / 100) / 10 };
  } finally {
    await db.destroy();
  }
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Download `url`: time to the response headers, to the first byte of the body, to the end; peak RSS of `pid`. */
function download(url: string, cookie: string, pid: number): Promise<{ headersMs: number; firstByteMs: number; totalMs: number; bytes: number; status: number; rssGrowthMiB: number }> {
  return new Promise((resolve, reject) => {
    const base = rssKiB(pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 10);
    const t0 = performance.now();
    let headersMs = 0;
    let firstByteMs = 0;
    let bytes = 0;
    const req = request(url, { headers: { cookie } }, (res) => {
      headersMs = performance.now() - t0;
      res.on('data', (c: Buffer) => {
        if (!bytes) firstByteMs = performance.now() - t0;
        bytes += c.length;
      });
      res.on('end', () => {
        clearInterval(sampler);
        peak = Math.max(peak, rssKiB(pid));
        resolve({ headersMs: round(headersMs), firstByteMs: round(firstByteMs), totalMs: round(performance.now() - t0), bytes, status: res.statusCode ?? 0, rssGrowthMiB: round((peak - base) / 1024) });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      clearInterval(sampler);
      reject(err);
    });
    req.end();
  });
}

const round = (n: number) => Math.round(n * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface InvoicesBenchResult {
  bench: 'invoices';
  at: string;
  loadavgBefore: number[];
  loadavgAfter: number[];
  seedSeconds: number;
  list: { rows: Array<Measure & { ratio?: number }>; flat: { at1k: number; at100k: number; ratio: number; p50at1k: number; p50at100k: number }; goal: boolean };
  pack: { invoices: number; payments: number; runs: Array<Awaited<ReturnType<typeof download>>>; firstByteMs: number; rssGrowthMiB: number; totalMs: number; bytes: number; goals: { firstByte: boolean; rss: boolean } };
}

export async function runInvoicesBench(o: { duration: number; warmup: number; connections: number; log?: (l: string) => void }): Promise<InvoicesBenchResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const loadavgBefore = loadavg();
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-invoices-'));
  try {
    log(`  invoices: seeding into ${dataDir}`);
    const seeded = await seedInvoices(dataDir, log);
    const atrium = await startAtrium(benchEnv(dataDir));
    const floor = await startFloor();
    try {
      const cookie = await login(atrium.url, BENCH_CLIENT, BENCH_PASSWORD);
      const headers = { cookie };
      const opts = { duration: o.duration, warmup: o.warmup, connections: o.connections };
      const listBytes = (await (await fetch(`${atrium.url}/w/${seeded.big.slug}/invoices/`, { headers })).arrayBuffer()).byteLength;
      const rows: Array<Measure & { ratio?: number }> = [];
      const run = async (name: string, url: string, h: Record<string, string>) => {
        log(`  invoices: ${name} ...`);
        const m = await measure(name, url, h, opts);
        log(`  invoices: ${name}: ${m.reqPerSec} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, mean ${m.mean} ms, ${m.bytes} bytes${m.errors || m.non2xx ? `, ${m.errors} errors, ${m.non2xx} non-2xx` : ''}`);
        return m;
      };
      const fl = await run('floor (list size)', `${floor.url}/bytes/${listBytes}`, {});
      rows.push(fl);
      // Each list twice, in the order 1k, 100k, 100k, 1k, and the two runs of each combined: on a
      // shared machine whichever page is measured first after start-up pays for the JIT and the
      // server's start-up work, and the machine's load drifts during a run.
      const url1k = `${atrium.url}/w/${seeded.small.slug}/invoices/`;
      const url100k = `${atrium.url}/w/${seeded.big.slug}/invoices/`;
      const a1k = await run('invoice list, 1k invoices (1st)', url1k, headers);
      const a100k = await run('invoice list, 100k invoices (1st)', url100k, headers);
      const b100k = await run('invoice list, 100k invoices (2nd)', url100k, headers);
      const b1k = await run('invoice list, 1k invoices (2nd)', url1k, headers);
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
      const l1k = both('invoice list, 1k invoices', a1k, b1k);
      const l100k = both('invoice list, 100k invoices', a100k, b100k);
      for (const m of [l1k, l100k]) rows.push({ ...m, ratio: round((m.reqPerSec / fl.reqPerSec) * 100) / 100 });
      const flat = { at1k: l1k.mean, at100k: l100k.mean, ratio: Math.round((l100k.mean / l1k.mean) * 100) / 100, p50at1k: l1k.p50, p50at100k: l100k.p50 };

      const packUrl = `${atrium.url}/w/${seeded.small.slug}/invoices/pack.zip?from=2026-11-01&to=2026-11-30`;
      const pid = atrium.child.pid!;
      log('  invoices: pack of 1,000 invoices (one download not measured) ...');
      const warm = await download(packUrl, cookie, pid);
      if (warm.status !== 200) throw new Error(`pack answered ${warm.status}`);
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await download(packUrl, cookie, pid);
        log(`  invoices: pack: first byte ${r.firstByteMs} ms (headers ${r.headersMs} ms), whole zip ${r.totalMs} ms, ${Math.round(r.bytes / 1024)} KiB, RSS +${r.rssGrowthMiB} MiB`);
        runs.push(r);
      }
      const firstByteMs = median(runs.map((r) => r.firstByteMs));
      const rssGrowthMiB = Math.max(...runs.map((r) => r.rssGrowthMiB));
      return {
        bench: 'invoices',
        at: new Date().toISOString(),
        loadavgBefore,
        loadavgAfter: loadavg(),
        seedSeconds: seeded.seconds,
        // A run where every request timed out has a mean of 0: never a met goal.
        list: { rows, flat, goal: flat.ratio <= 1.5 && l1k.requests > 0 && l100k.requests > 0 && !l100k.errors && !l100k.non2xx },
        pack: { invoices: 1000, payments: 1000, runs, firstByteMs, rssGrowthMiB, totalMs: median(runs.map((r) => r.totalMs)), bytes: runs[0]!.bytes, goals: { firstByte: firstByteMs < 300, rss: rssGrowthMiB < 100 } },
      };
    } finally {
      await floor.stop();
      await atrium.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function invoicesTable(r: InvoicesBenchResult): string {
  const lines = ['| measure | req/s | p50 ms | p99 ms | mean ms | x floor |', '|---|---:|---:|---:|---:|---:|'];
  for (const m of r.list.rows) lines.push(`| ${m.name} (${m.bytes} B) | ${m.reqPerSec} | ${m.p50} | ${m.p99} | ${m.mean} | ${m.ratio === undefined ? '1.00' : m.ratio.toFixed(2)} |`);
  lines.push('', `invoice list at 100k vs 1k invoices (mean latency): ${r.list.flat.at100k} ms vs ${r.list.flat.at1k} ms = ${r.list.flat.ratio}x (goal <= 1.5x: ${r.list.goal ? 'met' : 'MISSED'})`);
  lines.push(`pack of ${r.pack.invoices} invoices and ${r.pack.payments} payments: first byte ${r.pack.firstByteMs} ms (goal < 300 ms: ${r.pack.goals.firstByte ? 'met' : 'MISSED'}), RSS +${r.pack.rssGrowthMiB} MiB (goal < 100 MiB: ${r.pack.goals.rss ? 'met' : 'MISSED'}), whole zip ${r.pack.totalMs} ms, ${Math.round(r.pack.bytes / 1024)} KiB`);
  return lines.join('\n');
}

// ---- command line
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' } } });
  const r = await runInvoicesBench({ duration: Number(values.duration ?? 10), warmup: Number(values.warmup ?? 2), connections: Number(values.connections ?? 50) });
  console.log(invoicesTable(r));
  console.log(`results: ${writeResult('invoices', r)}`);
}
