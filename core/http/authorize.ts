// Route-level permission checks. A refusal answers 404 by default, the same as a missing row,
// so a forbidden route tells the caller nothing about what exists behind it.
import type { NextFunction, Request, Response } from 'express';
import { AtriumError } from '../errors.ts';

export function authorize(action: string, subject: string, opts: { status?: 403 | 404 } = {}) {
  const status = opts.status ?? 404;
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (req.ctx.ability.can(action, subject)) return next();
    next(new AtriumError(status === 404 ? 'ATR_NOT_FOUND' : 'ATR_FORBIDDEN', undefined, { status }));
  };
}
