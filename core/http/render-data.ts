// What every template render gets besides its model: the ability (the `can` helper), the reader's
// time zone (theirs, else the firm's) and the request's clock time, for the time helpers.
import type { Request } from 'express';
import type { RenderData } from '../views/engine.ts';
import type { HttpDeps } from './deps.ts';

export async function renderData(deps: Pick<HttpDeps, 'branding' | 'clock'>, req: Request): Promise<RenderData> {
  const timeZone = req.ctx.user?.timeZone ?? (await deps.branding.get()).timeZone;
  return { ability: req.ctx.ability, timeZone, now: deps.clock.now() };
}
