// The plugin's settings (plugins.settings.files), defaults from SECURITY.md section 3.
import { z } from 'zod';

const MiB = 1024 * 1024;

export const settingsSchema = z.strictObject({
  /** Largest file accepted, in bytes: 25 MiB by default, at most 200 MiB. */
  maxFileBytes: z.number().int().min(1).max(200 * MiB).default(25 * MiB),
  /** Storage per workspace, every version and the trash included: 10 GiB by default. */
  quotaBytes: z.number().int().min(1).default(10 * 1024 * MiB),
  /** Files per upload request. */
  maxFiles: z.number().int().min(1).max(100).default(20),
  /** Form fields per upload request. */
  maxFields: z.number().int().min(1).max(1000).default(100),
  /** Rows per page in file lists. */
  pageSize: z.number().int().min(5).max(500).default(50),
  /** Days a deleted file stays restorable in the trash. */
  trashDays: z.number().int().min(1).max(3650).default(30),
  /** What clients may do at the top level (folders set their own): view or upload. */
  rootClientAccess: z.enum(['view', 'upload']).default('upload'),
  /**
   * Largest PDF whose first page is rendered as a preview (preview.ts), in bytes: 25 MiB by
   * default. The whole file is held in memory while it renders, so this also bounds that; 0 turns
   * previews off.
   */
  previewMaxBytes: z.number().int().min(0).max(200 * MiB).default(25 * MiB),
  /**
   * Pages of a PDF shown in place on approval and signing pages (pages.ts); the rest are read by
   * downloading. PDFs larger than `previewMaxBytes` are not shown in place either. 0 turns it off.
   */
  pagesShown: z.number().int().min(0).max(200).default(30),
  /** Page images each process keeps in memory, in MiB (least recently used documents go first). */
  pagesCacheMiB: z.number().int().min(1).max(4096).default(64),
});

export type FilesSettings = z.infer<typeof settingsSchema>;
