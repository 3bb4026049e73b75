// The floor for the files benchmark: the same transfers done by the simplest well-tuned Node code,
// with no encryption, no hashing, no database, no session and no permission checks. Measured in
// the same run as Atrium and `cp`, it shows how much of the distance to `cp` is Node's own (bringing
// every byte into user space, the event loop, the HTTP and multipart parsing) and how much is
// Atrium's (encryption, hashing, the plugin). Used by bench/files.ts.
//  - copyFile: read a file in 1 MiB pieces into two recycled buffers, write each to a temporary
//    file, fdatasync, rename, fsync the folder (what the local store does for durability, with
//    the same early background fdatasync);
//  - readFile: read a file in 1 MiB pieces into one recycled buffer, dropping them;
//  - startServer: a bare Express 5 app on 127.0.0.1. `POST /upload` parses the multipart body with
//    busboy (1 MiB high-water marks, as the files plugin) and streams the file part to disk (1 MiB
//    write buffer, then fdatasync and rename); `GET /download/:name` streams a stored file with
//    fs.createReadStream (1 MiB reads).
import busboy from 'busboy';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath } from '../../core/fsync.ts';

const PIECE = 1 << 20;


/**
 * Copies `from` to `to` through user space, durably (temp, fdatasync, rename, fsync folder), with
 * the local store's I/O tuning: the next piece is read while the last one is written (two
 * buffers), and fdatasync runs in the background every 32 MiB so the last one waits for the tail.
 */
export async function copyFile(from: string, to: string): Promise<void> {
  const bufs = [Buffer.allocUnsafeSlow(PIECE), Buffer.allocUnsafeSlow(PIECE)];
  const src = await open(from, 'r');
  const temp = `${to}.part`;
  const dst = await open(temp, 'w', 0o600);
  let early: Promise<void> | undefined;
  let written = 0;
  let syncedTo = 0;
  try {
    let turn = 0;
    let next = src.read(bufs[0]!, 0, PIECE, null);
    for (;;) {
      const { bytesRead, buffer } = await next;
      if (bytesRead === 0) break;
      next = src.read(bufs[++turn % 2]!, 0, PIECE, null);
      for (let at = 0; at < bytesRead; ) at += (await dst.write(buffer, at, bytesRead - at, null)).bytesWritten;
      written += bytesRead;
      if (!early && written - syncedTo >= 32 * PIECE) {
        syncedTo = written;
        early = dst.datasync().finally(() => void (early = undefined));
      }
    }
    await early;
    await dst.datasync();
  } finally {
    await src.close();
    await dst.close();
  }
  await rename(temp, to);
  await fsyncPath(join(to, '..'));
}

/** Reads `path` through user space into one recycled buffer; returns the bytes read. */
export async function readFile(path: string): Promise<number> {
  const buf = Buffer.allocUnsafeSlow(PIECE);
  const fh = await open(path, 'r');
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, PIECE, null);
      if (bytesRead === 0) return total;
      total += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

export interface FloorServer {
  url: string;
  close(): Promise<void>;
}

/** The bare upload/download server, storing files in `dir` (which must exist). */
export function startServer(dir: string): Promise<FloorServer> {
  const app = express();
  let n = 0;
  app.post('/upload', (req, res) => {
    const bb = busboy({ headers: req.headers, highWaterMark: PIECE, fileHwm: PIECE });
    const done: Array<Promise<void>> = [];
    bb.on('file', (_field, stream) => {
      const name = `upload-${++n}`;
      const temp = join(dir, `${name}.part`);
      const out = createWriteStream(temp, { highWaterMark: PIECE, mode: 0o600 });
      done.push(
        new Promise<void>((resolve, reject) => {
          out.on('error', reject);
          out.on('finish', () => {
            void (async () => {
              const fh = await open(temp, 'r+');
              await fh.datasync();
              await fh.close();
              await rename(temp, join(dir, name));
              await fsyncPath(dir);
            })().then(resolve, reject);
          });
          stream.pipe(out);
        }),
      );
    });
    bb.on('close', () => {
      Promise.all(done).then(
        () => res.status(200).end(`upload-${n}`),
        () => res.status(500).end(),
      );
    });
    bb.on('error', () => res.status(400).end());
    req.pipe(bb);
  });
  app.get('/download/:name', (req, res) => {
    const name = req.params.name;
    if (!/^upload-\d+$/.test(name)) return void res.status(404).end();
    res.setHeader('content-type', 'application/octet-stream');
    createReadStream(join(dir, name), { highWaterMark: PIECE })
      .on('error', () => res.destroy())
      .pipe(res);
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: async () => {
          await new Promise<void>((r) => server.close(() => r()));
          await rm(dir, { recursive: true, force: true });
        },
      });
    });
  });
}
