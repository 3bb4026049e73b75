// Small multipart forms (a logo, an avatar): fields plus one file held in memory up to a small
// limit. Large uploads stream through a plugin's own handler instead. Multipart requests carry
// their CSRF token in the X-CSRF-Token header (htmx sends it), checked before any handler runs.
import busboy from 'busboy';
import type { Request } from 'express';
import { AtriumError } from '../errors.ts';

export interface SmallUpload {
  fields: Record<string, string>;
  file?: { field: string; filename: string; data: Buffer };
}

export function readSmallMultipart(req: Request, maxFileBytes: number): Promise<SmallUpload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 20, fileSize: maxFileBytes, fieldSize: 10_000, parts: 25 } });
    } catch {
      return reject(new AtriumError('ATR_VALIDATION', 'not a multipart form', { status: 400 }));
    }
    const out: SmallUpload = { fields: {} };
    let tooLarge = false;
    bb.on('field', (name, value) => {
      out.fields[name] = value;
    });
    bb.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => {
        tooLarge = true;
      });
      stream.on('end', () => {
        if (!tooLarge) out.file = { field, filename: info.filename ?? '', data: Buffer.concat(chunks) };
      });
    });
    bb.on('error', () => reject(new AtriumError('ATR_VALIDATION', 'malformed multipart body', { status: 400 })));
    bb.on('close', () => (tooLarge ? reject(new AtriumError('ATR_VALIDATION', 'file too large', { status: 413 })) : resolve(out)));
    req.pipe(bb);
  });
}
