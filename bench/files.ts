// Files benchmark, all figures measured in the same run on this machine:
//  1. encrypted 1 GiB store and read-back throughput through the kernel's storage (AES-256-GCM
//     chunks, fsync, local disk) against `cp` + `sync` of the same file, with peak RSS growth;
//  2. through a real server (the files plugin over HTTP): upload and download throughput of one
//     file at the largest size the plugin accepts (200 MiB), against `cp` + `sync` of that file;
//  3. a zip of a 1 GiB folder over HTTP: time to first byte and peak RSS growth while it streams.
// Method (docs/performance.md, Files):
//  - every measure runs BENCH_RUNS times (default 5, after one round that is not measured), each
//    run next to a `cp` + `sync` of the same file, and the ratio is median(cp) / median(ours): on
//    a shared machine one cp can be twice as fast or slow as the next. Peak RSS growth is the
//    largest seen in any run. Every file a run writes is deleted before the next step (the page
//    cache must not grow between steps: on this VM fresh memory is slow to touch; see below).
//  - both sides are durable: cp is followed by `sync` of the copy, the store fsyncs its file.
//    cp copies inside the kernel (copy_file_range), without user-space buffers: a strict baseline.
//  - uploads and downloads are made by curl in its own process (as a browser would be), so the
//    server's thread does only the server's work and its RSS is the server's alone. (Reading the
//    download with fetch() in this process, as before, put the client's parsing on the server's
//    thread.)
//  - main-thread busy time (event-loop utilisation) and process CPU (all threads) are recorded
//    too: unlike wall time they hardly move when other jobs share the machine.
//  - a floor is measured beside each figure (bench/floor/files.ts): the same transfer done by the
//    simplest well-tuned Node code with no encryption, hashing or application around it (a user-
//    space copy with fsync; a bare Express + busboy server). `x floor` says what Atrium's own work
//    costs; `x cp` mixes that with what any Node process pays against an in-kernel copy.
// Prints a table and writes bench/results/files-<time>.json.
// Run: node --import tsx bench/files.ts   (BENCH_FILES_MIB=256 for a quicker run)
import 'reflect-metadata';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, openSync, read, rmSync, statSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { StorageService } from '../core/storage/index.ts';
import { LocalBlobStore } from '../core/storage/local.ts';
import { systemClock } from '../core/clock.ts';
import { filesWorld } from '../test/plugins/files/helpers.ts';
import * as floor from './floor/files.ts';

const execFileAsync = promisify(execFile);
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`node --import tsx bench/files.ts: the files benchmark (part of npm run bench): encrypted store and read of
1 GiB against cp + sync, HTTP upload and download of 199 MiB against busboy and createReadStream floors,
and a zip of a 1 GiB folder (first byte, memory). Takes several minutes; run it on a quiet machine.

  BENCH_FILES_MIB=N   size of the local store/read file in MiB (default 1024; 256 for a quicker run)
  BENCH_RUNS=N        measured runs per figure, medians reported (default 5)
  -h, --help          this text`);
  process.exit(0);
}
const MIB = Number(process.env.BENCH_FILES_MIB ?? 1024);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-files-'));
const src = join(dir, 'source.bin');
const block = randomBytes(1 << 20);
const fd = openSync(src, 'w');
for (let i = 0; i < MIB; i++) writeSync(fd, block);
closeSync(fd);

/** A file the server's allow list accepts (a PDF header, then random bytes) of `mib` MiB. */
function pdfFile(path: string, mib: number): void {
  const f = openSync(path, 'w');
  writeSync(f, Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1'));
  for (let i = 0; i < mib; i++) writeSync(f, block);
  closeSync(f);
}

/**
 * The source file as a stream of four recycled 1 MiB buffers, read one at a time as the store asks
 * (storage.put holds at most 1 MiB of chunks before copying them into its own slabs, and asks for
 * the next chunk only when it is done with one; four is a margin). fs.createReadStream would allocate
 * a fresh 1 MiB buffer per read, and that garbage (a GC of the whole heap every ~64 MiB) is the
 * reader's cost, not the store's: the HTTP measures below include the real socket's.
 */
function recycledSource(path: string): Readable {
  const fd = openSync(path, 'r');
  const ring = Array.from({ length: 4 }, () => Buffer.allocUnsafeSlow(1 << 20));
  let turn = 0;
  let position = 0;
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return new Readable({
    highWaterMark: 0,
    read() {
      const buf = ring[turn++ % ring.length]!;
      read(fd, buf, 0, buf.length, position, (err, n) => {
        if (err) return this.destroy(err);
        if (n === 0) {
          close();
          return void this.push(null);
        }
        position += n;
        this.push(n === buf.length ? buf : buf.subarray(0, n));
      });
    },
    destroy(err, cb) {
      close();
      cb(err);
    },
  });
}

function cpSync(from: string, to: string): number {
  const t = performance.now();
  execFileSync('cp', [from, to]);
  execFileSync('sync', [to]);
  const ms = performance.now() - t;
  rmSync(to);
  return ms;
}

interface Measured<T> {
  ms: number;
  rssMiB: number;
  /** Main-thread busy time (event-loop utilisation), ms. */
  mainMs: number;
  /** Process CPU time, all threads (user + system), ms. */
  cpuMs: number;
  value: T;
}

function measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const start = performance.now();
  return fn().then((value) => {
    const ms = performance.now() - start;
    clearInterval(t);
    peak = Math.max(peak, process.memoryUsage.rss());
    const c = process.cpuUsage(cpu);
    return { ms, rssMiB: (peak - base) / 2 ** 20, mainMs: performance.eventLoopUtilization(elu).active, cpuMs: (c.user + c.system) / 1000, value };
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mbps = (ms: number, mib = MIB) => mib / (ms / 1000);

/** Median figures of several runs against the median cp and the median floor of the same runs. */
function summary(runs: Array<Measured<unknown>>, cps: number[], floors: Array<Measured<unknown>>, mib: number) {
  const ms = median(runs.map((r) => r.ms));
  const cp = median(cps);
  const fl = median(floors.map((f) => f.ms));
  return {
    ms: Math.round(ms),
    MiBps: Math.round(mbps(ms, mib)),
    ratioVsCp: +(cp / ms).toFixed(2),
    ratioVsFloor: +(fl / ms).toFixed(2),
    floor: {
      ms: Math.round(fl),
      MiBps: Math.round(mbps(fl, mib)),
      ratioVsCp: +(cp / fl).toFixed(2),
      mainThreadMsPerGiB: Math.round((median(floors.map((f) => f.mainMs)) / mib) * 1024),
      cpuMsPerGiB: Math.round((median(floors.map((f) => f.cpuMs)) / mib) * 1024),
      runsMs: floors.map((f) => Math.round(f.ms)),
    },
    peakRssGrowthMiB: +Math.max(...runs.map((r) => r.rssMiB)).toFixed(1),
    mainThreadMsPerGiB: Math.round((median(runs.map((r) => r.mainMs)) / mib) * 1024),
    cpuMsPerGiB: Math.round((median(runs.map((r) => r.cpuMs)) / mib) * 1024),
    runsMs: runs.map((r) => Math.round(r.ms)),
    cpRunsMs: cps.map((c) => Math.round(c)),
  };
}

const load = [loadavg()[0]!];

// ---- 1: the kernel's storage on its own
const config = { dataDir: dir, storage: { driver: 'local', dir: join(dir, 'blobs'), keys: '', orphanGraceMinutes: 60, s3: {} } } as never;
const storage = new StorageService(config, new LocalBlobStore(join(dir, 'blobs')), systemClock, pino({ level: 'silent' }));
// As the server does a second after it starts: the crypto threads are up before the first blob.
storage.warm();
await new Promise((r) => setTimeout(r, 500));
const storeCp: number[] = [];
const storeFloor: Array<Measured<unknown>> = [];
const readFloor: Array<Measured<unknown>> = [];
const puts: Array<Measured<unknown>> = [];
const gets: Array<Measured<unknown>> = [];
// One round not measured, then RUNS measured. Every file written is deleted before the next step,
// as cp's copy is, so that the page cache does not grow from one step to the next: on this VM,
// memory the guest has not touched lately (free page reporting hands it back to the host) costs
// about 2.7 ms per MiB the first time it is touched again, so a step that grows the page cache by
// a file pays far more than one that reuses the pages the previous step freed (measured: 199 MiB
// written in 40 ms into reused pages, 550 ms into fresh ones). docs/performance.md, Files.
await (async () => {
  cpSync(src, join(dir, 'copy.bin'));
  await floor.copyFile(src, join(dir, 'floor.bin'));
  rmSync(join(dir, 'floor.bin'));
  await storage.store.delete((await storage.put(recycledSource(src), { bind: 'bench:1:1' })).key);
})();
for (let i = 0; i < RUNS; i++) {
  storeCp.push(cpSync(src, join(dir, 'copy.bin')));
  storeFloor.push(await measure(() => floor.copyFile(src, join(dir, 'floor.bin'))));
  rmSync(join(dir, 'floor.bin'));
  readFloor.push(await measure(() => floor.readFile(src)));
  const put = await measure(() => storage.put(recycledSource(src), { bind: 'bench:1:1' }));
  puts.push(put);
  const blob = put.value;
  const row = { key: blob.key, size: blob.size, sha256: blob.sha256, key_id: blob.keyId, wrapped_key: blob.wrappedKey, bind: blob.bind };
  const fakeDb = (() => ({ where: () => ({ first: async () => row }) })) as never;
  gets.push(
    await measure(async () => {
      // As a download does: writeTo() hands the decryption buffers to the destination (here one
      // that drops them; HTTP below writes them to a socket).
      const opened = await storage.open(fakeDb, blob.key, { bind: 'bench:1:1' });
      await opened.writeTo(new Writable({ highWaterMark: 1 << 20, write: (_c, _e, cb) => cb() }));
    }),
  );
  await storage.store.delete(blob.key);
}
load.push(loadavg()[0]!);

// ---- 2 and 3: through a real server with the files plugin
const HTTP_MIB = Math.min(200, MIB) - 1; // the plugin's largest accepted file is 200 MiB
const ZIP_FILES = Math.max(1, Math.ceil(MIB / HTTP_MIB));
const httpSrc = join(dir, 'upload.pdf');
pdfFile(httpSrc, HTTP_MIB);
const httpBytes = statSync(httpSrc).size;
const w = await filesWorld({ overrides: { log: { level: 'silent' }, plugins: { settings: { files: { maxFileBytes: 200 * 2 ** 20, quotaBytes: 64 * 2 ** 30 } } } } });
const staff = w.as.staff;
const cookie = () => [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
const newFolder = async (name: string) => (await staff.postForm(`${w.base}/folders`, { name, parent: '', area: 'shared', client_access: 'view' })).location!.split('/').pop()!;
/** The measured uploads go here; their bytes are deleted after each run (see the storage runs). */
const runsFolderId = await newFolder('Runs');
/** The zip's folder, filled after the measured runs. */
const folderId = await newFolder('Bench');

/** A multipart upload streamed from disk by curl in its own process (to Atrium, or to the floor). */
async function httpUpload(name: string, url = `${w.app.url}${w.base}/upload?folder=${folderId}`): Promise<void> {
  const { stdout } = await execFileAsync('curl', [
    '-sS', '-o', '/dev/null', '-w', '%{http_code}',
    '-H', `cookie: ${cookie()}`, '-H', `x-csrf-token: ${staff.csrf!}`, '-H', 'hx-request: true',
    '-F', `files=@${httpSrc};filename=${name};type=application/pdf`,
    url,
  ]);
  if (stdout.trim() !== '200') throw new Error(`upload ${name}: ${stdout}`);
}

/** A download read by curl in its own process; returns the bytes received. */
async function httpDownload(url: string): Promise<number> {
  const { stdout } = await execFileAsync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '-H', `cookie: ${cookie()}`, url]);
  const [code, size] = stdout.trim().split(' ');
  if (code !== '200') throw new Error(`GET ${url}: ${stdout}`);
  return Number(size);
}

/** Milliseconds to the first byte of `url`'s body; the rest is not read (the request is aborted). */
async function firstByte(url: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(url, { headers: { cookie: cookie() } });
  const reader = res.body!.getReader();
  const r = await reader.read();
  const ms = performance.now() - t;
  if (res.status !== 200 || r.done) throw new Error(`GET ${url}: ${res.status}`);
  await reader.cancel();
  return ms;
}

async function drain(url: string, onFirst?: () => void): Promise<number> {
  const res = await fetch(url, { headers: { cookie: cookie() } });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  const reader = res.body!.getReader();
  let n = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) return n;
    if (n === 0) onFirst?.();
    n += r.value.length;
  }
}

const floorDir = join(dir, 'floor');
mkdirSync(floorDir);
const floorServer = await floor.startServer(floorDir);
const httpCp: number[] = [];
const upFloor: Array<Measured<unknown>> = [];
const downFloor: Array<Measured<unknown>> = [];
const ups: Array<Measured<unknown>> = [];
const downs: Array<Measured<number>> = [];
const runsUrl = `${w.app.url}${w.base}/upload?folder=${runsFolderId}`;
// Round 0 is not measured (as above). Each uploaded file's bytes are deleted after its download.
for (let i = 0; i <= RUNS; i++) {
  const cp = cpSync(httpSrc, join(dir, 'upload-copy.pdf'));
  const upF = await measure(() => httpUpload(`run-${i}.pdf`, `${floorServer.url}/upload`));
  const downF = await measure(() => httpDownload(`${floorServer.url}/download/upload-${i + 1}`));
  if (downF.value !== httpBytes) throw new Error(`floor: downloaded ${downF.value} bytes, expected ${httpBytes}`);
  rmSync(join(floorDir, `upload-${i + 1}`));
  const up = await measure(() => httpUpload(`run-${i}.pdf`, runsUrl));
  const file = await w.app.kernel.db('files_files').where({ name: `run-${i}.pdf` }).first('id', 'current_version_id');
  const down = await measure(() => httpDownload(`${w.app.url}${w.base}/f/${file.id}/download`));
  if (down.value !== httpBytes) throw new Error(`downloaded ${down.value} bytes, expected ${httpBytes}`);
  const version = await w.app.kernel.db('files_versions').where({ id: file.current_version_id }).first('blob_key');
  await w.app.kernel.storage.store.delete(version.blob_key);
  if (i === 0) continue;
  httpCp.push(cp);
  upFloor.push(upF);
  downFloor.push(downF);
  ups.push(up);
  downs.push(down);
}
await floorServer.close();
for (let i = 0; i < ZIP_FILES; i++) await httpUpload(`file-${i}.pdf`);
load.push(loadavg()[0]!);
// The first zip of this server (archiver is imported in the background about a second after the
// server starts listening, or by the first zip if that comes sooner).
const coldFirstByteMs = await firstByte(`${w.app.url}${w.base}/folders/${folderId}/zip`);
let firstByteMs = 0;
const zipStart = performance.now();
const zip = await measure(() => drain(`${w.app.url}${w.base}/folders/${folderId}/zip`, () => (firstByteMs = performance.now() - zipStart)));
await w.app.close();
load.push(loadavg()[0]!);

const zipFiles = ZIP_FILES;
const results = {
  sizeMiB: MIB,
  runs: RUNS,
  loadAverage1m: load.map((l) => +l.toFixed(2)),
  cp: { ms: Math.round(median(storeCp)), MiBps: Math.round(mbps(median(storeCp))), runsMs: storeCp.map((c) => Math.round(c)) },
  encryptedStore: summary(puts, storeCp, storeFloor, MIB),
  decryptedRead: summary(gets, storeCp, readFloor, MIB),
  http: {
    sizeMiB: HTTP_MIB,
    cp: { ms: Math.round(median(httpCp)), MiBps: Math.round(mbps(median(httpCp), HTTP_MIB)), runsMs: httpCp.map((c) => Math.round(c)) },
    upload: summary(ups, httpCp, upFloor, HTTP_MIB),
    download: summary(downs, httpCp, downFloor, HTTP_MIB),
  },
  zip: { files: zipFiles, folderMiB: zipFiles * HTTP_MIB, bytes: zip.value, timeToFirstByteMs: Math.round(firstByteMs), coldTimeToFirstByteMs: Math.round(coldFirstByteMs), totalMs: Math.round(zip.ms), peakRssGrowthMiB: +zip.rssMiB.toFixed(1) },
};
type Row = ReturnType<typeof summary>;
const row3 = (label: string, r: Row, goal: string) =>
  `${label.padEnd(24)}${String(r.MiBps).padStart(5)}   ${r.ratioVsCp.toFixed(2)}   ${r.ratioVsFloor.toFixed(2)}   ${String(r.peakRssGrowthMiB).padStart(5)} MiB   ${String(r.mainThreadMsPerGiB).padStart(5)} / ${String(r.cpuMsPerGiB).padStart(5)}   (${goal})\n${'  floor'.padEnd(24)}${String(r.floor.MiBps).padStart(5)}   ${r.floor.ratioVsCp.toFixed(2)}   1.00               ${String(r.floor.mainThreadMsPerGiB).padStart(5)} / ${String(r.floor.cpuMsPerGiB).padStart(5)}`;
console.log(`files bench (${MIB} MiB, local disk; ${HTTP_MIB} MiB over HTTP, sent and read by curl; medians of ${RUNS} runs; load average ${results.loadAverage1m.join(', ')})`);
console.log('measure                 MiB/s   x cp   x floor  peak RSS    main / CPU ms per GiB');
console.log(`cp + sync               ${String(results.cp.MiBps).padStart(5)}   1.00   (runs: ${results.cp.runsMs.join(', ')} ms)`);
console.log(row3('encrypted store', results.encryptedStore, 'goal >= 0.7x, < 64 MiB'));
console.log(row3('decrypted read', results.decryptedRead, 'goal >= 0.7x, < 64 MiB'));
console.log(`cp + sync (${HTTP_MIB} MiB)`.padEnd(24) + `${String(results.http.cp.MiBps).padStart(5)}   1.00   (runs: ${results.http.cp.runsMs.join(', ')} ms)`);
console.log(row3('HTTP upload', results.http.upload, 'goal >= 0.7x, < 64 MiB'));
console.log(row3('HTTP download', results.http.download, 'goal >= 0.7x, < 64 MiB'));
console.log(`zip of ${results.zip.folderMiB} MiB folder: first byte after ${results.zip.timeToFirstByteMs} ms (goal < 300 ms; ${results.zip.coldTimeToFirstByteMs} ms for the first zip after start-up), whole in ${results.zip.totalMs} ms, peak RSS growth ${results.zip.peakRssGrowthMiB} MiB (goal < 100 MiB)`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/files-${Date.now()}.json`, import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
rmSync(dir, { recursive: true, force: true });
