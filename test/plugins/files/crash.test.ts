// Crash safety (SECURITY.md control 48): a server killed with SIGKILL in the middle of an upload
// leaves no row pointing at a missing or partial blob; after restart the sweeper removes the
// partial write and any blob without a row.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, startApp } from '../../helpers/app.ts';

const test = suite('files crash safety');

test('SIGKILL mid-upload: no dangling row, no orphan blob after the sweep', async () => {
  const db = await freshDatabase();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/plugins/files/crash-child.ts', JSON.stringify({ overrides: db.overrides, dataDir: db.dataDir })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ url: string; cookie: string; csrf: string; base: string }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  // A slow multipart body: the head of a file, then the connection is held open while we kill.
  const boundary = 'crashboundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`);
  let sent = 0;
  const body = new ReadableStream({
    async pull(ctl) {
      if (sent === 0) ctl.enqueue(head);
      if (sent < 40) {
        ctl.enqueue(Buffer.alloc(64 * 1024, 'a'));
        sent++;
        if (sent === 40) {
          // Enough bytes are in flight that the server is writing the blob: kill it now.
          await new Promise((r) => setTimeout(r, 300));
          child.kill('SIGKILL');
        }
      } else await new Promise((r) => setTimeout(r, 1000));
    },
  });
  await fetch(info.url + `${info.base}/upload`, { method: 'POST', body, duplex: 'half', headers: { cookie: info.cookie, 'x-csrf-token': info.csrf, 'hx-request': 'true', 'content-type': `multipart/form-data; boundary=${boundary}` } } as RequestInit).catch(() => undefined);
  await new Promise((r) => (child.exitCode !== null || child.signalCode ? r(undefined) : child.once('exit', r)));
  const blobs = join(db.dataDir, 'blobs');
  assert.ok(existsSync(join(blobs, 'tmp')) && readdirSync(join(blobs, 'tmp')).length > 0, 'the kill left a partial write behind');

  const app = await startApp({ db, plugins: ['files'], overrides: { storage: { orphanGraceMinutes: 0 } } });
  try {
    const k = app.kernel;
    await k.storage.sweep(k.db, 0);
    assert.equal(readdirSync(join(blobs, 'tmp')), [], 'partial writes removed');
    const rows = new Set((await k.db('storage_blobs').pluck('key')) as string[]);
    const onDisk = readdirSync(blobs).filter((d) => d.length === 2).flatMap((d) => readdirSync(join(blobs, d)));
    assert.ok(onDisk.every((key) => rows.has(key)), 'no blob without a row');
    for (const key of rows) assert.ok(onDisk.includes(key), `row ${key} has its blob`);
    assert.is((await k.db('files_files').where({ name: 'big.txt' })).length, 0, 'no row for the interrupted upload');
  } finally {
    await app.close();
    await db.drop();
  }
});

test.run();
