// Files benchmark: encrypted 1 GiB store and read-back throughput through the kernel's storage
// (AES-256-GCM chunks, fsync, local disk) against `cp` of the same file, measured in the same run,
// with peak RSS growth during each. Prints a table and writes bench/results/files-<time>.json.
// Run: node --import tsx bench/files.ts   (BENCH_FILES_MIB=256 for a quicker run)
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { StorageService } from '../core/storage/index.ts';
import { LocalBlobStore } from '../core/storage/local.ts';
import { systemClock } from '../core/clock.ts';

const MIB = Number(process.env.BENCH_FILES_MIB ?? 1024);
const dir = mkdtempSync(join(tmpdir(), 'atrium-bench-files-'));
const src = join(dir, 'source.bin');
const block = randomBytes(1 << 20);
const fd = openSync(src, 'w');
for (let i = 0; i < MIB; i++) writeSync(fd, block);
closeSync(fd);

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
const mbps = (ms: number) => MIB / (ms / 1000);
const results = {
  sizeMiB: MIB,
  cp: { ms: Math.round(cpMs), MiBps: Math.round(mbps(cpMs)) },
  encryptedStore: { ms: Math.round(put.ms), MiBps: Math.round(mbps(put.ms)), ratioVsCp: +(cpMs / put.ms).toFixed(2), peakRssGrowthMiB: +put.rssMiB.toFixed(1) },
  decryptedRead: { ms: Math.round(get.ms), MiBps: Math.round(mbps(get.ms)), ratioVsCp: +(cpMs / get.ms).toFixed(2), peakRssGrowthMiB: +get.rssMiB.toFixed(1) },
};
console.log(`files bench (${MIB} MiB, local disk)`);
console.log('measure                 MiB/s   x cp   peak RSS growth');
console.log(`cp + sync               ${String(results.cp.MiBps).padStart(5)}   1.00   -`);
console.log(`encrypted store         ${String(results.encryptedStore.MiBps).padStart(5)}   ${results.encryptedStore.ratioVsCp.toFixed(2)}   ${results.encryptedStore.peakRssGrowthMiB} MiB (goal >= 0.7x, < 64 MiB)`);
console.log(`decrypted read          ${String(results.decryptedRead.MiBps).padStart(5)}   ${results.decryptedRead.ratioVsCp.toFixed(2)}   ${results.decryptedRead.peakRssGrowthMiB} MiB (goal >= 0.7x, < 64 MiB)`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/files-${Date.now()}.json`, import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
rmSync(dir, { recursive: true, force: true });
