// First run: /setup exists only while no user does. It creates the owner and the firm name,
// optionally loads demo data, and signs the owner in.
import { Router } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { createUser, emailSchema, nameSchema } from '../../identity/users.ts';
import { singleLine } from '../../text.ts';
import { passwordProblem } from '../../identity/passwords.ts';
import { DEFAULT_BRANDING } from '../../settings.ts';
import { seedDemo } from '../../demo.ts';
import { AtriumError } from '../../errors.ts';
import { setSessionCookie } from '../cookies.ts';
import { fieldErrors, formBody } from '../forms.ts';
import type { HttpDeps } from '../deps.ts';

const setupForm = z.strictObject({
  firmName: singleLine({ max: 100, min: 1, required: 'Enter your firm name' }),
  name: nameSchema,
  email: emailSchema,
  password: z.string().max(4096, 'Use at most 1024 bytes'), // not free text: a password, used exactly as typed
  demo: z.literal('yes').optional(),
});

export function setupRoutes(deps: HttpDeps): Router {
  const r = Router();
  const secure = deps.config.baseUrl.startsWith('https://');
  const hasUsers = async () => Boolean(await deps.db('users').first('id'));

  r.get('/setup', async (req, res, next) => {
    if (await hasUsers()) return next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 }));
    // Demo data is an option (README: "optionally tick"), so the box starts unticked: a firm
    // setting up for real must not find example clients among its own.
    await req.ctx.render('core/setup', { values: {} }, { title: 'Set up Atrium', layout: 'auth' });
  });

  r.post('/setup', async (req, res, next) => {
    if (await hasUsers()) return next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 }));
    const body = formBody(req.body);
    const parsed = setupForm.safeParse(body);
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    // The password is judged even when other fields are wrong, so every problem shows at once.
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
    const problem = passwordProblem(str('password'), [str('firmName'), str('name'), str('email').split('@')[0]!]);
    if (problem) errors.password ??= problem;
    if (!parsed.success || Object.keys(errors).length) {
      const { password: _pw, ...values } = body;
      return req.ctx.render('core/setup', { errors, values }, { title: 'Set up Atrium', status: 400, layout: 'auth' });
    }
    const input = parsed.data;
    const passwordHash = await deps.passwords.hash(input.password);
    let ownerId: string;
    try {
      ownerId = await transaction(deps.db, async (trx) => {
        // The setup marker's primary key makes a second, concurrent setup fail here.
        await trx('settings').insert({ key: 'core.setup', value: JSON.stringify({ at: deps.clock.now() }), updated_at: deps.clock.now() });
        const owner = await createUser(deps, trx, { email: input.email, name: input.name, passwordHash, firmRole: 'owner' }, { ...req.ctx.actor(), via: 'setup' });
        await deps.branding.save(trx, { firmName: input.firmName, primary: DEFAULT_BRANDING.primary, accent: DEFAULT_BRANDING.accent });
        await deps.audit.record(trx, { ...req.ctx.actor(), actorId: owner.id, action: 'core.setup.complete', detail: { firmName: input.firmName } });
        return owner.id;
      });
    } catch (err) {
      if (await hasUsers()) return next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 }));
      throw err;
    }
    deps.branding.invalidate();
    if (req.ctx.session) await deps.sessions.destroy(req.ctx.session.idHash);
    const created = await deps.sessions.create({ userId: ownerId, ip: req.ctx.ip, userAgent: req.ctx.userAgent, authAt: deps.clock.now() });
    setSessionCookie(res, secure, created.token, deps.sessions.absoluteMs);
    if (input.demo === 'yes') {
      const demo = await seedDemo(deps, { actorId: ownerId, ip: req.ctx.ip, userAgent: req.ctx.userAgent });
      if (demo.password) {
        await deps.sessions.setData(created.idHash, {
          flash: [{ kind: 'info', text: `Demo data loaded. Demo accounts (${demo.users.join(', ')}) use the password ${demo.password} — it is shown only once.` }],
        });
      }
    }
    res.redirect(303, '/staff/');
  });
  return r;
}
