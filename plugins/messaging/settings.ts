// Settings of the messaging plugin (plugins.settings.messaging in the configuration file).
import { z } from 'zod';

export const settingsSchema = z.strictObject({
  /** How long a notification mail waits, gathering messages, before it is sent (one mail per person and thread). */
  mailWindowSeconds: z.number().int().min(0).max(86_400).default(60),
  /** How long after posting its author may edit a message. */
  editWindowMinutes: z.number().int().min(0).max(1440).default(5),
  /** Attachments: the largest file, and how many per message. */
  maxAttachmentBytes: z.number().int().min(1).max(1024 * 1024 * 1024).default(25 * 1024 * 1024),
  maxAttachments: z.number().int().min(0).max(20).default(5),
  /** Messages per page of a thread. */
  pageSize: z.number().int().min(5).max(200).default(30),
  /** How often the mail batches are looked at. */
  jobIntervalSeconds: z.number().int().min(1).max(3600).default(15),
  /** How long the reply address in a notification mail works (reply by email). */
  replyTokenDays: z.number().int().min(1).max(365).default(30),
});

export type MessagingSettings = z.infer<typeof settingsSchema>;
