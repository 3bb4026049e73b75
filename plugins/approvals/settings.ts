// The approvals plugin's settings (plugins.settings.approvals). Days are UTC calendar days.
import { z } from 'zod';

export const settingsSchema = z.strictObject({
  /** Remind pending approvers this many days before the due date (0: no early reminder). */
  remindDaysBefore: z.number().int().min(0).max(30).default(2),
  /** Remind pending approvers on the due date itself. */
  remindOnDueDate: z.boolean().default(true),
  /** Never send reminders on weekend days, and count "days before" in business days. */
  skipWeekends: z.boolean().default(true),
  /** Which days are the weekend (0 = Sunday ... 6 = Saturday). */
  weekendDays: z.array(z.number().int().min(0).max(6)).max(6).default([0, 6]),
  /** How often the reminder and due-date job looks for work, in seconds. */
  jobIntervalSeconds: z.number().int().min(5).max(86_400).default(300),
  /** How long an emailed decision link stays valid, in days. */
  linkDays: z.number().int().min(1).max(90).default(14),
  /** Rows per page in the request lists and the staff queue. */
  pageSize: z.number().int().min(5).max(200).default(25),
});

export type ApprovalsSettings = z.infer<typeof settingsSchema>;
