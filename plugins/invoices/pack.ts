// The CFO's period pack: one zip, streamed to the browser as it is made, of every invoice PDF and
// credit note PDF issued in the period (the stored, encrypted blobs, decrypted as they are read), a
// receipt PDF for every payment and refund received in it, the statement of account (CSV and PDF)
// and the proof-of-service report (CSV and PDF, from the kernel's evidence contract).
//
// The pack is a list of part sources (`PACK_PARTS`): each yields its parts one at a time, and a
// part opens its bytes only when the zip reaches it, so the first bytes leave at once and memory
// holds one part, whatever the period.
import { Readable } from 'node:stream';
import type { Response } from 'express';
import type { Knex } from 'knex';
import type { ZipArchive as ZipArchiveType } from 'archiver';
import type { Logger } from 'pino';
import { afterKey, pagedByTime, zipEntryName, type Db, type Evidence, type StorageService, type TimeKey } from '../../core/index.ts';
import { creditPdfBind } from './credit-notes.ts';
import type { LedgerQuery } from './ledger.ts';
import type { Period } from './pack-period.ts';
import { renderReceiptPdf } from './receipt-pdf.ts';
import { pdfBind, type Method } from './service.ts';
import { statementCsv, statementPdf } from './statement.ts';
import { proofCsv, proofPdf } from './proof.ts';
import { METHOD_LABELS } from './views.ts';

/** Everything a part source needs, for one workspace, one period and one reader. */
export interface PackContext {
  db: Db;
  storage: StorageService;
  workspace: { id: string; name: string; slug: string };
  period: Period;
  firm: { name: string; address: string; colour: string };
  /** When the pack was made, and that day in the firm's zone. */
  preparedAt: number;
  preparedDay: string;
  /** The reader's row filter on invoices, for alias `i` (a client never gets a draft). */
  invoices: (qb: Knex.QueryBuilder) => void;
  ledger: LedgerQuery;
  /** The evidence of the period, in time order (a fresh stream each call). */
  evidence(): AsyncGenerator<Evidence>;
  /** `YYYY-MM-DD` of an instant in the firm's zone. */
  dayOf(ms: number): string;
}

export interface PackPart {
  /** The entry's path in the zip (`invoices/INV-2026-0001.pdf`). */
  name: string;
  /** The entry's date (epoch ms). */
  date: number;
  /** Opened when the zip reaches this part, never before. */
  open(): Promise<Readable>;
}

export type PartSource = (ctx: PackContext) => AsyncIterable<PackPart>;

const key = (r: Record<string, unknown>): TimeKey => ({ at: Number(r.at), id: String(r.id) });
const bytes = (b: Uint8Array) => Readable.from([Buffer.from(b.buffer, b.byteOffset, b.byteLength)]);
const text = (lines: AsyncIterable<string>) => Readable.from(lines, { objectMode: false });

/** The invoices issued in the period, exactly as stored when they were issued. */
export const invoicePdfs: PartSource = (ctx) =>
  pagedByTime(
    (after, limit) =>
      ctx
        .db('invoices_invoices as i')
        .where('i.workspace_id', ctx.workspace.id)
        .modify(ctx.invoices)
        .where('i.issued_at', '>=', ctx.period.from)
        .where('i.issued_at', '<', ctx.period.to)
        .whereNotNull('i.pdf_key')
        .modify(afterKey('i.issued_at', 'i.id', after))
        .orderBy('i.issued_at')
        .orderBy('i.id')
        .limit(limit)
        .select('i.id', 'i.issued_at as at', 'i.number', 'i.status', 'i.pdf_key') as Promise<Array<Record<string, unknown>>>,
    key,
    (r) => ({
      name: `invoices/${zipEntryName(`${String(r.number)}${r.status === 'void' ? ' (void)' : ''}.pdf`)}`,
      date: Number(r.at),
      open: async () => (await ctx.storage.open(ctx.db, String(r.pdf_key), { bind: pdfBind(String(r.id)) })).stream,
    }),
    200,
  );

/**
 * The credit notes issued in the period, exactly as stored (their SHA-256 is on the invoice page).
 * A credit note is only as visible as its invoice, so the reader's invoice filter applies to the
 * joined invoice; the blob was stored bound to the credit note's id (credit-notes.ts), and opening
 * it with any other bind fails, so a row can never stream another document's bytes.
 */
export const creditNotePdfs: PartSource = (ctx) =>
  pagedByTime(
    (after, limit) =>
      ctx
        .db('invoices_credit_notes as c')
        .join('invoices_invoices as i', function () {
          this.on('i.id', '=', 'c.invoice_id').andOn('i.workspace_id', '=', 'c.workspace_id');
        })
        .where('c.workspace_id', ctx.workspace.id)
        .modify(ctx.invoices)
        .where('c.issued_at', '>=', ctx.period.from)
        .where('c.issued_at', '<', ctx.period.to)
        .modify(afterKey('c.issued_at', 'c.id', after))
        .orderBy('c.issued_at')
        .orderBy('c.id')
        .limit(limit)
        .select('c.id', 'c.issued_at as at', 'c.number', 'c.pdf_key') as Promise<Array<Record<string, unknown>>>,
    key,
    (r) => ({
      name: `credit-notes/${zipEntryName(`${String(r.number)}.pdf`)}`,
      date: Number(r.at),
      open: async () => (await ctx.storage.open(ctx.db, String(r.pdf_key), { bind: creditPdfBind(String(r.id)) })).stream,
    }),
    200,
  );

/** A receipt for each payment and refund received in the period (the statement's payments). */
export const receiptPdfs: PartSource = (ctx) =>
  pagedByTime(
    (after, limit) =>
      ctx
        .db('invoices_payments as p')
        .join('invoices_invoices as i', function () {
          this.on('i.id', '=', 'p.invoice_id').andOn('i.workspace_id', '=', 'p.workspace_id');
        })
        .where('p.workspace_id', ctx.workspace.id)
        .modify(ctx.invoices)
        .where('p.received_at', '>=', ctx.period.dayFrom)
        .where('p.received_at', '<', ctx.period.dayTo)
        .modify(afterKey('p.received_at', 'p.id', after))
        .orderBy('p.received_at')
        .orderBy('p.id')
        .limit(limit)
        .select('p.id', 'p.received_at as at', 'p.receipt_number', 'p.amount', 'p.method', 'p.reference', 'p.recorded_at', 'i.number', 'i.currency', 'i.total') as Promise<Array<Record<string, unknown>>>,
    key,
    (r) => ({
      name: `receipts/${zipEntryName(`${String(r.receipt_number)}.pdf`)}`,
      date: Number(r.recorded_at),
      open: async () =>
        bytes(
          await renderReceiptPdf({
            firm: ctx.firm,
            client: ctx.workspace.name,
            receipt: String(r.receipt_number),
            invoice: String(r.number),
            currency: String(r.currency),
            amount: Number(r.amount),
            invoiceTotal: Number(r.total),
            method: METHOD_LABELS[String(r.method) as Method] ?? String(r.method),
            reference: String(r.reference ?? ''),
            receivedDay: new Date(Number(r.at)).toISOString().slice(0, 10),
            recordedAt: Number(r.recorded_at),
            recordedDay: ctx.dayOf(Number(r.recorded_at)),
          }),
        ),
    }),
    200,
  );

export const statementParts: PartSource = async function* (ctx) {
  yield { name: 'statement.csv', date: ctx.preparedAt, open: async () => text(statementCsv(ctx)) };
  yield { name: 'statement.pdf', date: ctx.preparedAt, open: async () => bytes(await statementPdf(ctx)) };
};

export const proofParts: PartSource = async function* (ctx) {
  yield { name: 'proof-of-service.csv', date: ctx.preparedAt, open: async () => text(proofCsv(ctx)) };
  yield { name: 'proof-of-service.pdf', date: ctx.preparedAt, open: async () => bytes(await proofPdf(ctx)) };
};

/**
 * The pack's parts, in the order they are written. The invoices come first: the first of them is
 * read from storage at once, so the download starts before the statement is computed. The credit
 * notes follow them, the documents the client was sent, before the receipts rendered here.
 */
export const PACK_PARTS: PartSource[] = [invoicePdfs, creditNotePdfs, receiptPdfs, statementParts, proofParts];

let archiver: Promise<{ ZipArchive: typeof ZipArchiveType }> | undefined;
const loadArchiver = () =>
  (archiver ??= (import('archiver') as Promise<{ ZipArchive: typeof ZipArchiveType }>).catch((err: unknown) => {
    archiver = undefined;
    throw err;
  }));

/**
 * Write the pack to `res` (headers already set) as a zip, part by part: the next part is opened
 * only when the zip has finished the previous one, and the zip waits for a slow client (the pipe's
 * back-pressure), so memory holds one part at a time. A client that goes away stops it.
 */
export async function streamPack(res: Response, ctx: PackContext, log: Logger, sources: PartSource[] = PACK_PARTS): Promise<void> {
  const { ZipArchive } = await loadArchiver();
  const archive = new ZipArchive({ zlib: { level: 6 }, highWaterMark: 64 * 1024 });
  let current: Readable | undefined;
  let stopped: Error | null = null;
  const stop = new Promise<void>((resolve) => {
    archive.on('error', (err: Error) => {
      log.error({ err }, 'invoices pack failed mid-stream');
      stopped = err;
      res.destroy(err);
      resolve();
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      stopped ??= new Error('client went away');
      archive.abort();
      current?.destroy();
      resolve();
    });
  });
  archive.on('warning', (err: Error) => log.warn({ err }, 'invoices pack warning'));
  archive.pipe(res);
  for (const source of sources) {
    for await (const part of source(ctx)) {
      if (stopped) return;
      current = await part.open();
      const done = new Promise<void>((resolve) => archive.once('entry', () => resolve()));
      archive.append(current, { name: part.name, date: new Date(part.date) });
      await Promise.race([done, stop]);
    }
  }
  if (!stopped) await archive.finalize();
}
