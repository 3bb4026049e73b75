// Probes for orchestrators: /healthz (the process is alive) and /readyz (the database answers
// and every migration has run).
import { Router } from 'express';
import { hasPending } from '../../db/migrations.ts';
import { ping } from '../../db/index.ts';
import type { HttpDeps } from '../deps.ts';

export function opsRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    if (!(await ping(deps.db))) return void res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    try {
      const pending = await hasPending(deps.db, deps.migrationSets);
      if (pending.length) return void res.status(503).json({ status: 'unavailable', reason: 'pending migrations', plugins: pending });
    } catch {
      return void res.status(503).json({ status: 'unavailable', reason: 'migration state unreadable' });
    }
    res.json({ status: 'ready' });
  });
  return r;
}
