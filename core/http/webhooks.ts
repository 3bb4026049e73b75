// Raw-body plugin routes (`/hooks/<plugin>/...`): for machine-to-machine callbacks that prove
// themselves with a signature over the exact bytes sent (a payment provider's webhook). They are
// mounted before the form and JSON parsers, the session lookup and the CSRF check, because:
//   - a signature is computed over the bytes: parsing and re-serialising would change them, so the
//     handler gets `req.body` as a Buffer, byte for byte, and nothing is parsed;
//   - the caller has no session and no CSRF token: its signature is its authentication, and the
//     handler must verify it before it believes anything in the body;
//   - a body is read whole into memory, so it is capped (WEBHOOK_BODY_LIMIT, 413 beyond it).
// They are still logged like every request (the request id and log line come first) and counted
// per client IP in the throttle table (WEBHOOK_LIMIT: 429 with Retry-After beyond it), so a
// flood of forged calls cannot make the handler verify signatures without end.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { HttpDeps } from './deps.ts';
import { AtriumError } from '../errors.ts';
import { ipKey, retryAfterSeconds, type Limit } from '../identity/throttle.ts';

/** Where a plugin's raw-body router is mounted: `/hooks/<plugin id>`. */
export const WEBHOOK_PREFIX = '/hooks';

/** The most a raw-body route reads: 1 MiB (a Stripe event is a few KiB). */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/** Calls per client IP and plugin: 600 a minute, then 429 until the minute ends. */
export const WEBHOOK_LIMIT: Limit = { max: 600, windowMs: 60_000 };

/** Is this path one of the raw-body routes (for the route table and the isolation kit)? */
export function isWebhookPath(path: string): boolean {
  return path === WEBHOOK_PREFIX || path.startsWith(`${WEBHOOK_PREFIX}/`);
}

/**
 * The pipeline in front of one plugin's raw-body router: the client's address on the context,
 * the rate limit, then the body read as bytes (any content type) up to the limit.
 */
export function webhookPipeline(deps: HttpDeps, pluginId: string, router: Router): Router {
  const pipeline = express.Router();
  pipeline.use(async (req: Request, res: Response, next: NextFunction) => {
    const ctx = req.ctx;
    ctx.ip = req.ip ?? req.socket.remoteAddress ?? '';
    ctx.userAgent = req.get('user-agent')?.slice(0, 400) ?? null;
    ctx.area = 'public';
    ctx.session = null;
    ctx.user = null;
    ctx.workspace = null;
    ctx.workspaceRole = null;
    ctx.scope = null;
    ctx.actor = () => ({ actorId: null, ip: ctx.ip, userAgent: ctx.userAgent });
    res.setHeader('Cache-Control', 'no-store');
    try {
      const block = await deps.throttle.hit(`webhook:${pluginId}:${ipKey(ctx.ip)}`, WEBHOOK_LIMIT);
      if (block > 0) {
        res.setHeader('Retry-After', String(retryAfterSeconds(block)));
        res.status(429).type('text/plain').send('Too many requests');
        return;
      }
    } catch (err) {
      return next(err);
    }
    next();
  });
  pipeline.use(express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }));
  pipeline.use((req: Request, _res: Response, next: NextFunction) => {
    // No body at all (a GET, or an empty POST): an empty Buffer, so handlers see one type.
    if (!Buffer.isBuffer(req.body)) req.body = Buffer.alloc(0);
    next();
  });
  pipeline.use(router);
  // Nothing matched under this plugin's prefix: 404 here, never on into the session pipeline.
  pipeline.use((_req: Request, _res: Response, next: NextFunction) => next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 })));
  return pipeline;
}
