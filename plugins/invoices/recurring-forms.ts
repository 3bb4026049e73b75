// The recurring invoice form: the invoice editor's fields (currency, terms, notes, lines: forms.ts)
// and the schedule (a name, how often, the day of the month, the first month, whether each period
// is issued automatically or left as a draft). Checked on the server; errors beside their fields.
import { z } from 'zod';
import { fieldErrors, singleLine } from '../../core/index.ts';
import { editorValues, parseDraft, type EditorValues, type Parsed } from './forms.ts';
import type { TemplateInput } from './recurring.ts';
import { FREQUENCIES, monthOf, type Frequency } from './schedule.ts';

export interface TemplateValues extends EditorValues {
  name: string;
  frequency: string;
  dayOfMonth: string;
  startMonth: string;
  autoSend: string;
}

const scheduleForm = z.object({
  name: singleLine({ max: 120, min: 1, required: 'Name it, like “Monthly retainer”: staff see it, the client sees the invoices' }),
  frequency: z.enum(Object.keys(FREQUENCIES) as [Frequency, ...Frequency[]], { error: 'Choose how often' }),
  dayOfMonth: z.string().regex(/^\s*([1-9]|[12]\d|3[01])\s*$/, 'Use a day from 1 to 31 (31: the last day of every month)'),
  startMonth: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Use a month like 2027-01'),
  autoSend: z.enum(['yes', 'no'], { error: 'Choose what happens each period' }),
});

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export function templateValues(body: Record<string, unknown>): TemplateValues {
  return { ...editorValues(body), name: str(body.name), frequency: str(body.frequency), dayOfMonth: str(body.dayOfMonth), startMonth: str(body.startMonth), autoSend: str(body.autoSend) };
}

export function parseTemplate(v: TemplateValues, maxLines: number): Parsed<TemplateInput> {
  const draft = parseDraft(v, maxLines);
  const s = scheduleForm.safeParse({ name: v.name, frequency: v.frequency, dayOfMonth: v.dayOfMonth, startMonth: v.startMonth, autoSend: v.autoSend });
  const errors: Record<string, string> = { ...(draft.ok ? {} : draft.errors), ...(s.success ? {} : fieldErrors(s.error)) };
  if (draft.ok && !draft.value.lines.length) errors.lines = 'Add at least one line: each period’s invoice is made from them.';
  if (!draft.ok || !s.success || Object.keys(errors).length) return { ok: false, errors };
  const [y, m] = s.data.startMonth.split('-').map(Number) as [number, number];
  return {
    ok: true,
    value: {
      ...draft.value,
      name: s.data.name,
      autoSend: s.data.autoSend === 'yes',
      schedule: { anchorMonth: monthOf(y, m - 1), intervalMonths: FREQUENCIES[s.data.frequency], dayOfMonth: Number(s.data.dayOfMonth.trim()) },
    },
  };
}
