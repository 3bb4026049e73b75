// The admin console's kernel pages: its index, branding (name, colours, logo) and creating a
// client workspace. Every change is audited in its own transaction.
import { Router } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { createWorkspace, DuplicateError, slugSchema } from '../../identity/users.ts';
import { brandingInput } from '../../settings.ts';
import { decodeUntrustedImage, type ImageLimits } from '../../images.ts';
import { singleLine } from '../../text.ts';
import { fieldErrors, formBody } from '../forms.ts';
import { readSmallMultipart } from '../multipart.ts';
import type { HttpDeps } from '../deps.ts';
import { timeZones } from '../../time.ts';

const MAX_LOGO_BYTES = 512 * 1024;
/** A logo is shown on every page: a still image small enough for any browser to decode. */
const LOGO_IMAGE: ImageLimits = { types: ['image/png', 'image/jpeg', 'image/webp'], maxBytes: MAX_LOGO_BYTES, maxWidth: 4096, maxHeight: 4096 };

const workspaceForm = z.strictObject({
  name: singleLine({ max: 200, min: 1, required: 'Enter the client organisation’s name' }),
  slug: z.union([z.literal(''), slugSchema]).optional(),
});

export function adminRoutes(deps: HttpDeps): Router {
  const r = Router();
  const forbidden = () => new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 });

  r.get('/admin/', async (req) => {
    const plugins = deps.plugins.map((p) => ({ id: p.id, version: p.def.version, description: p.def.description ?? '' }));
    await req.ctx.render('core/admin-home', { plugins, hasPlugins: plugins.length > 0 }, { title: 'Administration' });
  });

  const brandingPage = async (req: Parameters<Parameters<typeof r.get>[1]>[0], extra: object = {}, status = 200) => {
    const brand = await deps.branding.get();
    await req.ctx.render('core/admin-branding', { values: brand, current: brand, canEdit: req.ctx.ability.can('update', 'Branding'), timeZones: timeZones(), ...extra }, { title: 'Branding', status });
  };

  r.get('/admin/branding', async (req) => brandingPage(req));

  r.post('/admin/branding', async (req, _res, next) => {
    if (!req.ctx.ability.can('update', 'Branding')) return next(forbidden());
    const parsed = brandingInput.safeParse(formBody(req.body));
    if (!parsed.success) return brandingPage(req, { errors: fieldErrors(parsed.error), values: formBody(req.body) }, 400);
    await transaction(deps.db, async (trx) => {
      const saved = await deps.branding.save(trx, parsed.data);
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.branding.update', subjectType: 'Branding', detail: { ...parsed.data, version: saved.version } });
      deps.events.publish(trx, 'core.settings.updated', { keys: ['branding.main'] });
    });
    deps.branding.invalidate();
    await req.ctx.flash('success', 'Branding saved. Everyone sees it on their next page.');
    _res.redirect(303, '/admin/branding');
  });

  r.post('/admin/branding/logo', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Branding')) return next(forbidden());
    let upload;
    try {
      upload = await readSmallMultipart(req, MAX_LOGO_BYTES);
    } catch (err) {
      const status = (err as AtriumError).status;
      return brandingPage(req, { logoError: status === 413 ? 'The logo must be 512 KB or smaller.' : 'The upload could not be read.' }, status ?? 400);
    }
    if (!upload.file || upload.file.data.length === 0) return brandingPage(req, { logoError: 'Choose an image file to upload.' }, 400);
    // An untrusted image, decoded in full as it is received (core/images.ts): a damaged, truncated,
    // animated or oversized file is refused here with the reason, never stored for every page.
    const image = await decodeUntrustedImage(upload.file.data, LOGO_IMAGE, { label: 'The logo', again: 'Choose another file.' });
    if (!image.ok) return brandingPage(req, { logoError: image.problem }, image.code === 'type' ? 415 : 400);
    const mime = image.type;
    const current = await deps.branding.get();
    await transaction(deps.db, async (trx) => {
      const saved = await deps.branding.save(trx, { firmName: current.firmName, primary: current.primary, accent: current.accent }, { mime, data: upload.file!.data });
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.branding.logo', subjectType: 'Branding', detail: { mime, bytes: upload.file!.data.length, version: saved.version } });
      deps.events.publish(trx, 'core.settings.updated', { keys: ['branding.logo'] });
    });
    deps.branding.invalidate();
    await req.ctx.flash('success', 'Logo saved.');
    if (req.get('hx-request')) {
      res.setHeader('HX-Redirect', '/admin/branding');
      return void res.status(204).end();
    }
    res.redirect(303, '/admin/branding');
  });

  r.post('/admin/branding/logo/remove', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Branding')) return next(forbidden());
    const current = await deps.branding.get();
    await transaction(deps.db, async (trx) => {
      await deps.branding.save(trx, { firmName: current.firmName, primary: current.primary, accent: current.accent }, null);
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.branding.logo_remove', subjectType: 'Branding' });
      deps.events.publish(trx, 'core.settings.updated', { keys: ['branding.logo'] });
    });
    deps.branding.invalidate();
    await req.ctx.flash('success', 'Logo removed.');
    res.redirect(303, '/admin/branding');
  });

  r.post('/admin/workspaces', async (req, res, next) => {
    if (!req.ctx.ability.can('create', 'Workspace')) return next(forbidden());
    const body = formBody(req.body);
    const parsed = workspaceForm.safeParse(body);
    const rerender = (errors: Record<string, string>) =>
      req.ctx.render('core/workspace-new', { errors, values: body }, { title: 'New workspace', status: 400 });
    if (!parsed.success) return rerender(fieldErrors(parsed.error));
    try {
      const ws = await transaction(deps.db, (trx) => createWorkspace(deps, trx, { name: parsed.data.name, slug: parsed.data.slug || undefined }, req.ctx.actor()));
      await req.ctx.flash('success', `Workspace “${ws.name}” created.`);
      res.redirect(303, `/w/${ws.slug}/`);
    } catch (err) {
      if (err instanceof DuplicateError) return rerender({ [err.field === 'slug' ? 'slug' : 'name']: err.message });
      throw err;
    }
  });

  r.get('/admin/workspaces/new', async (req, _res, next) => {
    if (!req.ctx.ability.can('create', 'Workspace')) return next(forbidden());
    await req.ctx.render('core/workspace-new', { values: {} }, { title: 'New workspace' });
  });

  return r;
}
