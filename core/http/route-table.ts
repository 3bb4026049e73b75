// The route table: every method and path the assembled app answers, read from Express's own
// router stacks (kernel routers and plugin routers alike). The isolation test kit enumerates it,
// so a new route is covered by the cross-tenant tests without anyone remembering to add it.
import type express from 'express';

export interface RouteEntry {
  method: string;
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string | string[];
}

function join(prefix: string, path: string): string {
  if (!path || path === '/') return prefix || '/';
  return `${prefix}${path.startsWith('/') ? '' : '/'}${path}`.replace(/\/{2,}/g, '/');
}

function walk(stack: Layer[], prefix: string, out: RouteEntry[]): void {
  for (const layer of stack) {
    if (layer.route) {
      for (const p of ([] as string[]).concat(layer.route.path)) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: join(prefix, p) });
        }
      }
    } else if (layer.handle?.stack) {
      for (const p of ([] as Array<string | undefined>).concat(layer.rawPath)) walk(layer.handle.stack, p && p !== '/' ? join(prefix, p) : prefix, out);
    }
  }
}

export function routeTable(app: express.Express): RouteEntry[] {
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  const out: RouteEntry[] = [];
  walk(router.stack, '', out);
  const seen = new Set<string>();
  return out.filter((r) => {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
