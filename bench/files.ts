// Files benchmark, all figures measured in the same run on this machine:
//  1. encrypted 1 GiB store and read-back throughput through the kernel's storage (AES-256-GCM
//     chunks, fsync, local disk) against `cp` of the same file, with peak RSS growth during each;
//  2. through a real server (the files plugin over HTTP): upload and download throughput of one
//     file at the largest size the plugin accepts (200 MiB), against `cp` of that file;
//  3. a zip of a 1 GiB folder over HTTP: time to first byte and peak RSS growth while it streams.
// Prints a table and writes bench/results/files-<time>.json.
// Run: node --import tsx bench/files.ts   (BENCH_FILES_MIB=256 for a quicker run)
import 'reflect-metadata';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { StorageService } from '../core/storage/index.ts';
import { LocalBlobStore } from '../core/storage/local.ts';
import { systemClock } from '../core/clock.ts';
import { filesWorld } from '../test/plugins/files/helpers.ts';

const execFileAsync = promisify(execFile);
const MIB = Number(process.env.BENCH_FILES_MIB ?? 1024);
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

function cpSync(from: string, to: string): number {
  const t = performance.now();
  execFileSync('cp', [from, to]);
  execFileSync('sync', [to]);
  const ms = performance.now() - t;
  rmSync(to);
  return ms;
}

function peakRss<T>(fn: () => Promise<T>): Promise<{ ms: number; rssMiB: number; value: T }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const start = performance.now();
  return fn().then((value) => {
    clearInterval(t);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { ms: performance.now() - start, rssMiB: (peak - base) / 2 ** 20, value };
  });
}

const cpStart = performance.now();
execFileSync('cp', [src, join(dir, 'copy.bin')]);
execFileSync('sync', [join(dir, 'copy.bin')]);
const cpMs = performance.now() - cpStart;

const config = { dataDir: dir, storage: { driver: 'local', dir: join(dir, 'blobs'), keys: '', orphanGraceMinutes: 60, s3: {} } } as never;
const storage = new StorageService(config, new LocalBlobStore(join(dir, 'blobs')), systemClock, pino({ level: 'silent' }));
const put = await peakRss(() => storage.put(createReadStream(src, { highWaterMark: 1 << 20 }), { bind: 'bench:1:1' }));
const blob = put.value;
const row = { key: blob.key, size: blob.size, sha256: blob.sha256, key_id: blob.keyId, wrapped_key: blob.wrappedKey, bind: blob.bind };
const fakeDb = (() => ({ where: () => ({ first: async () => row }) })) as never;
const get = await peakRss(async () => {
  const { stream } = await storage.open(fakeDb, blob.key, { bind: 'bench:1:1' });
  for await (const _ of stream) void _;
});
const mbps = (ms: number, mib = MIB) => mib / (ms / 1000);
rmSync(join(dir, 'copy.bin'), { force: true });

// ---- 2 and 3: through a real server with the files plugin
const HTTP_MIB = Math.min(200, MIB) - 1; // the plugin's largest accepted file is 200 MiB
const ZIP_FILES = Math.max(1, Math.ceil(MIB / HTTP_MIB));
const httpSrc = join(dir, 'upload.pdf');
pdfFile(httpSrc, HTTP_MIB);
const httpBytes = statSync(httpSrc).size;
const w = await filesWorld({ overrides: { log: { level: 'silent' }, plugins: { settings: { files: { maxFileBytes: 200 * 2 ** 20, quotaBytes: 64 * 2 ** 30 } } } } });
const staff = w.as.staff;
const cookie = () => [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
const folder = await staff.postForm(`${w.base}/folders`, { name: 'Bench', parent: '', area: 'shared', client_access: 'view' });
const folderId = folder.location!.split('/').pop()!;

/**
 * A multipart upload streamed from disk by curl in its own process, so the RSS measured here is
 * the server's alone.
 */
async function httpUpload(name: string): Promise<void> {
  const { stdout } = await execFileAsync('curl', [
    '-sS', '-o', '/dev/null', '-w', '%{http_code}',
    '-H', `cookie: ${cookie()}`, '-H', `x-csrf-token: ${staff.csrf!}`, '-H', 'hx-request: true',
    '-F', `files=@${httpSrc};filename=${name};type=application/pdf`,
    `${w.app.url}${w.base}/upload?folder=${folderId}`,
  ]);
  if (stdout.trim() !== '200') throw new Error(`upload ${name}: ${stdout}`);
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

const httpCpMs = cpSync(httpSrc, join(dir, 'upload-copy.pdf'));
const up = await peakRss(() => httpUpload('file-0.pdf'));
for (let i = 1; i < ZIP_FILES; i++) await httpUpload(`file-${i}.pdf`);
const fileId = String((await w.app.kernel.db('files_files').where({ name: 'file-0.pdf' }).first('id')).id);
const down = await peakRss(() => drain(`${w.app.url}${w.base}/f/${fileId}/download`));
if (down.value !== httpBytes) throw new Error(`downloaded ${down.value} bytes, expected ${httpBytes}`);
// The first zip after start-up also pays for importing archiver (loaded on first use).
const coldFirstByteMs = await firstByte(`${w.app.url}${w.base}/folders/${folderId}/zip`);
let firstByteMs = 0;
const zipStart = performance.now();
const zip = await peakRss(() => drain(`${w.app.url}${w.base}/folders/${folderId}/zip`, () => (firstByteMs = performance.now() - zipStart)));
await w.app.close();

const results = {
  sizeMiB: MIB,
  cp: { ms: Math.round(cpMs), MiBps: Math.round(mbps(cpMs)) },
  encryptedStore: { ms: Math.round(put.ms), MiBps: Math.round(mbps(put.ms)), ratioVsCp: +(cpMs / put.ms).toFixed(2), peakRssGrowthMiB: +put.rssMiB.toFixed(1) },
  decryptedRead: { ms: Math.round(get.ms), MiBps: Math.round(mbps(get.ms)), ratioVsCp: +(cpMs / get.ms).toFixed(2), peakRssGrowthMiB: +get.rssMiB.toFixed(1) },
  http: {
    sizeMiB: HTTP_MIB,
    cp: { ms: Math.round(httpCpMs), MiBps: Math.round(mbps(httpCpMs, HTTP_MIB)) },
    upload: { ms: Math.round(up.ms), MiBps: Math.round(mbps(up.ms, HTTP_MIB)), ratioVsCp: +(httpCpMs / up.ms).toFixed(2), peakRssGrowthMiB: +up.rssMiB.toFixed(1) },
    download: { ms: Math.round(down.ms), MiBps: Math.round(mbps(down.ms, HTTP_MIB)), ratioVsCp: +(httpCpMs / down.ms).toFixed(2), peakRssGrowthMiB: +down.rssMiB.toFixed(1) },
  },
  zip: { files: ZIP_FILES, folderMiB: ZIP_FILES * HTTP_MIB, bytes: zip.value, timeToFirstByteMs: Math.round(firstByteMs), coldTimeToFirstByteMs: Math.round(coldFirstByteMs), totalMs: Math.round(zip.ms), peakRssGrowthMiB: +zip.rssMiB.toFixed(1) },
};
const row3 = (label: string, r: { MiBps: number; ratioVsCp: number; peakRssGrowthMiB: number }, goal: string) =>
  `${label.padEnd(24)}${String(r.MiBps).padStart(5)}   ${r.ratioVsCp.toFixed(2)}   ${r.peakRssGrowthMiB} MiB (${goal})`;
console.log(`files bench (${MIB} MiB, local disk; ${HTTP_MIB} MiB over HTTP, uploads sent by curl, downloads read in-process)`);
console.log('measure                 MiB/s   x cp   peak RSS growth');
console.log(`cp + sync               ${String(results.cp.MiBps).padStart(5)}   1.00   -`);
console.log(row3('encrypted store', results.encryptedStore, 'goal >= 0.7x, < 64 MiB'));
console.log(row3('decrypted read', results.decryptedRead, 'goal >= 0.7x, < 64 MiB'));
console.log(`cp + sync (${HTTP_MIB} MiB)`.padEnd(24) + `${String(results.http.cp.MiBps).padStart(5)}   1.00   -`);
console.log(row3('HTTP upload', results.http.upload, 'goal >= 0.7x, < 64 MiB'));
console.log(row3('HTTP download', results.http.download, 'goal >= 0.7x, < 64 MiB'));
console.log(`zip of ${results.zip.folderMiB} MiB folder: first byte after ${results.zip.timeToFirstByteMs} ms (goal < 300 ms; ${results.zip.coldTimeToFirstByteMs} ms for the first zip after start-up), whole in ${results.zip.totalMs} ms, peak RSS growth ${results.zip.peakRssGrowthMiB} MiB (goal < 100 MiB)`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/files-${Date.now()}.json`, import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
rmSync(dir, { recursive: true, force: true });
