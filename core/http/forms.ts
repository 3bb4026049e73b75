// Form handling: zod validation into a field -> message map, shown beside each field.
import type { z } from 'zod';

export type FieldErrors = Record<string, string>;

export function fieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.code === 'unrecognized_keys' ? '_form' : String(issue.path[0] ?? '_form');
    out[key] ??= issue.code === 'unrecognized_keys' ? 'The form had unexpected fields' : issue.message;
  }
  return out;
}

/** Strip the CSRF field before validating a form with a strict schema. */
export function formBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object') return {};
  const { _csrf, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** A local redirect target from user input: a path on this site, never another host. */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string') return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || /[\r\n]/.test(value)) return '/';
  return value;
}
