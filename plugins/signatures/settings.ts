// The plugin's settings (plugins.settings.signatures).
import { z } from 'zod';

export const settingsSchema = z.strictObject({
  /** How long a signer's link stays valid, in days. */
  linkTtlDays: z.number().int().min(1).max(90).default(14),
  /** How long each signer's link to download the signed copy stays valid, in days. */
  copyTtlDays: z.number().int().min(1).max(365).default(30),
  /** Envelopes per page in the list. */
  pageSize: z.number().int().min(5).max(200).default(25),
  /** Signers per envelope. */
  maxSigners: z.number().int().min(1).max(20).default(10),
  /** Largest PDF that can be sent for signature (it is read whole to stamp it). */
  maxPdfBytes: z.number().int().min(1024).max(100 * 1024 * 1024).default(25 * 1024 * 1024),
});

export type SignaturesSettings = z.infer<typeof settingsSchema>;
