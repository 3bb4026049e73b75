// Static assets: the kernel's JS/CSS, the active theme's assets (through its chain), htmx from
// node_modules (never a CDN), and the branding stylesheet and logo from the database.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import { BrandingService } from '../../settings.ts';
import type { HttpDeps } from '../deps.ts';
import { streamFile } from '../app.ts';

const require = createRequire(import.meta.url);
const HTMX_FILE = join(dirname(require.resolve('htmx.org/package.json')), 'dist', 'htmx.min.js');
const SSE_FILE = join(dirname(require.resolve('htmx-ext-sse/package.json')), 'dist', 'sse.min.js');
const CORE_ASSETS = fileURLToPath(new URL('../../assets', import.meta.url));
const TYPES: Record<string, string> = { css: 'text/css', js: 'text/javascript', svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', woff2: 'font/woff2', ico: 'image/x-icon', webp: 'image/webp' };

export function assetRoutes(deps: HttpDeps): Router {
  const r = Router();
  const longCache = deps.config.env === 'production' ? 86400 : 60;
  r.use('/assets/core', express.static(CORE_ASSETS, { maxAge: longCache * 1000, index: false, fallthrough: true }));
  r.get('/assets/theme/*path', (req, res, next) => {
    const path = (req.params as { path: string[] }).path.join('/');
    const file = deps.views.resolveAsset(path);
    if (!file) return next();
    streamFile(res, file, TYPES[file.split('.').pop() ?? ''] ?? 'application/octet-stream', longCache);
  });
  r.get('/vendor/htmx.min.js', (_req, res) => streamFile(res, HTMX_FILE, 'text/javascript', longCache));
  r.get('/vendor/htmx-ext-sse.min.js', (_req, res) => streamFile(res, SSE_FILE, 'text/javascript', longCache));
  r.get('/brand.css', async (req, res) => {
    const brand = await deps.branding.get();
    const current = req.query.v === String(brand.version);
    res.type('text/css').setHeader('Cache-Control', current ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.send(BrandingService.css(brand));
  });
  r.get('/brand/logo', async (_req, res, next) => {
    const logo = await deps.branding.logo();
    if (!logo) return next();
    res.type(logo.mime).setHeader('Cache-Control', 'public, max-age=300');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    res.send(logo.data);
  });
  return r;
}
