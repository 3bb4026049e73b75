// The approvals plugin's forms, each a strict zod schema: unknown fields are refused, and every
// message is written for the person who will read it beside the field.
import { z } from 'zod';
import { multiLine, singleLine } from '../../core/index.ts';
import { dayStart, endOfDay } from './service.ts';

export const decideForm = z
  .strictObject({
    decision: z.enum(['approve', 'changes'], { error: 'Choose approve or request changes' }),
    comment: multiLine({ max: 2000 }).optional().default(''),
    version: z.string().min(1).max(36), // not free text: a version id, compared with the current one
  })
  .superRefine((v, ctx) => {
    if (v.decision === 'changes' && !v.comment) ctx.addIssue({ code: 'custom', path: ['comment'], message: 'Say what needs to change, so the team can act on it' });
  });

// not free text: a registered type and a subject id, both looked up
export const newQuery = z.object({ type: z.string().max(60).optional().default(''), subject: z.string().max(36).optional().default('') });

/** The create form, for the people who may be asked (their ids are the only accepted approvers). */
export function createForm(eligible: string[], now: number) {
  // not free text: a step number, read with parseInt (orderApprovers)
  const steps = Object.fromEntries(eligible.map((id) => [`step:${id}`, z.string().max(3).optional()]));
  return z
    .strictObject({
      type: z.string().min(1).max(60), // not free text: a registered approvable type
      subject: z.string().min(1).max(36), // not free text: the subject's id, looked up
      title: singleLine({ max: 200, min: 1, required: 'Give the request a title' }),
      message: multiLine({ max: 4000 }).optional().default(''),
      sequence: z.enum(['parallel', 'sequential'], { error: 'Choose how approvers decide' }),
      approvers: z
        .union([z.string(), z.array(z.string()).max(50, 'Ask at most 50 people')]) // not free text: user ids, each one of `eligible`
        .optional()
        .transform((v) => [...new Set(([] as string[]).concat(v ?? []))])
        .refine((v) => v.length > 0, 'Choose at least one approver')
        .refine((v) => v.every((id) => eligible.includes(id)), 'Choose approvers from the list'),
      due: z // not free text: a date, YYYY-MM-DD (checked below)
        .string()
        .trim()
        .optional()
        .default('')
        .refine((v) => v === '' || (/^\d{4}-\d{2}-\d{2}$/.test(v) && Number.isFinite(endOfDay(v))), 'Enter the date as YYYY-MM-DD')
        .refine((v) => v === '' || !/^\d{4}-\d{2}-\d{2}$/.test(v) || endOfDay(v) >= dayStart(now), 'Choose today or a later date'),
      autoApprove: z.literal('yes').optional(),
      ...steps,
    })
    .superRefine((v, ctx) => {
      if (v.autoApprove && !v.due) ctx.addIssue({ code: 'custom', path: ['due'], message: 'The "approved if no answer" rule needs a due date' });
    });
}

/** Sequential order: by the step typed beside each person, then by the order of the list. */
export function orderApprovers(chosen: string[], eligible: string[], body: Record<string, unknown>): string[] {
  const step = (id: string) => {
    const n = Number.parseInt(String(body[`step:${id}`] ?? ''), 10);
    return Number.isFinite(n) ? n : 999;
  };
  return [...chosen].sort((a, b) => step(a) - step(b) || eligible.indexOf(a) - eligible.indexOf(b));
}
