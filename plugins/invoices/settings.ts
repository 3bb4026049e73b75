// The invoices plugin's settings (plugins.settings.invoices in the configuration file): the firm's
// numbering, tax mode, default currency and terms, and what every invoice prints about paying.
import { z } from 'zod';
import { CURRENCY_CODES } from './money.ts';

export const settingsSchema = z.strictObject({
  /**
   * Invoice numbers: the prefix, where `{YYYY}` is the year of issue, then the sequence padded to
   * `numberPadding` digits (INV-2026-0001). Each distinct prefix is its own gap-free series, so a
   * prefix with the year starts again at 1 every year.
   */
  numberPrefix: z.string().regex(/^[A-Za-z0-9{}/_.-]{0,24}$/, 'letters, digits, - _ . / and {YYYY}').default('INV-{YYYY}-'),
  numberPadding: z.number().int().min(1).max(10).default(4),
  /** Receipts for recorded payments have their own series. */
  receiptPrefix: z.string().regex(/^[A-Za-z0-9{}/_.-]{0,24}$/, 'letters, digits, - _ . / and {YYYY}').default('RCT-{YYYY}-'),
  /** Whether the unit prices staff type include tax (`inclusive`) or have it added (`exclusive`). */
  taxMode: z.enum(['exclusive', 'inclusive']).default('exclusive'),
  /** The currency a new draft starts in (ISO 4217). */
  currency: z.enum(CURRENCY_CODES as [string, ...string[]]).default('EUR'),
  /** Tax rate a new line starts with, in percent (20 = 20%). */
  defaultTaxRate: z.number().min(0).max(100).default(0),
  /** Payment terms a new draft starts with, in days after the issue date (net 30). */
  termsDays: z.number().int().min(0).max(365).default(30),
  /** How to pay, printed on every invoice and its PDF (bank name, IBAN, BIC...). */
  paymentDetails: z.string().max(1000).default(''), // not free text: the firm's own configuration, not a form
  /** The firm's postal address, printed under its name on the PDF. */
  firmAddress: z.string().max(500).default(''), // not free text: the firm's own configuration, not a form
  /** Invoices per page in lists. */
  pageSize: z.number().int().min(5).max(200).default(25),
  /** Lines per invoice (the kernel parses at most 100 form fields: five per line). */
  maxLines: z.number().int().min(1).max(18).default(15),
  /** Credit notes have their own gap-free series (CN-2026-0001), padded like invoice numbers. */
  creditNotePrefix: z.string().regex(/^[A-Za-z0-9{}/_.-]{0,24}$/, 'letters, digits, - _ . / and {YYYY}').default('CN-{YYYY}-'),
  /**
   * Payment reminders to the client's people who may read invoices: `beforeDays` days before the
   * due date and `afterDays` days after it (UTC days), each step once per invoice. Empty lists: none.
   */
  reminders: z
    .strictObject({
      beforeDays: z.array(z.number().int().min(1).max(60)).max(5).default([3]),
      afterDays: z.array(z.number().int().min(1).max(365)).max(10).default([1, 7, 14]),
    })
    .default({ beforeDays: [3], afterDays: [1, 7, 14] }),
  /** How often the recurring-invoice and reminder jobs look for work, in seconds. */
  jobIntervalSeconds: z.number().int().min(5).max(86_400).default(900),
});

export type InvoicesSettings = z.infer<typeof settingsSchema>;
