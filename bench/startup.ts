// Cold start: from spawning `atrium start` to the first successful /healthz, on SQLite with a
// migrated database (the second and later runs) and the built-in plugins. Prints the median.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 7);
const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-start-'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL'));

async function once(): Promise<{ listening: number; firstResponse: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['bin/atrium.js', 'start'], { env: { ...env, PORT: '0', ATRIUM_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += String(c);
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"atrium listening"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const listening = performance.now() - t0;
  await fetch(`${url}/healthz`);
  const firstResponse = performance.now() - t0;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  return { listening, firstResponse };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
await once(); // first run migrates and warms the tsx cache
const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
rmSync(dataDir, { recursive: true, force: true });
const l = median(results.map((r) => r.listening));
const f = median(results.map((r) => r.firstResponse));
console.log(`cold start (median of ${runs}): spawn -> listening ${l.toFixed(0)} ms, spawn -> first /healthz ${f.toFixed(0)} ms`);
console.log(JSON.stringify({ bench: 'startup', runs, listeningMs: Math.round(l), firstResponseMs: Math.round(f), at: new Date().toISOString() }));
