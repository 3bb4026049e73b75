// Shared set-up for the invoices tests: an app with `invoices`, one workspace with a staff member
// and clients of each role, each signed in; a controllable clock; drafts made through the editor.
import { transaction } from '../../../core/db/index.ts';
import { ManualClock } from '../../../core/clock.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { WorkspaceRole } from '../../../core/plugins/define.ts';
import { setupOwner, startApp, type StartOptions, type TestApp } from '../../helpers/app.ts';
import type { HttpClient, Res } from '../../helpers/http.ts';

export const PEOPLE = { staff: 'staff', admin: 'client_admin', member: 'client_member', viewer: 'client_viewer' } as const;
export type Who = keyof typeof PEOPLE;

export interface World {
  app: TestApp;
  clock: ManualClock;
  ws: { id: string; slug: string; name: string };
  users: Record<Who, string>;
  emails: Record<Who, string>;
  as: Record<Who, HttpClient>;
}

/** Monday 2026-12-07 09:00 UTC. */
export const MONDAY = Date.parse('2026-12-07T09:00:00.000Z');

export async function invoicesWorld(opts: StartOptions & { slug?: string; settings?: Record<string, unknown> } = {}): Promise<World> {
  const clock = new ManualClock(MONDAY);
  const app = await startApp({
    plugins: ['invoices'],
    clock,
    ...opts,
    overrides: { plugins: { settings: { invoices: { paymentDetails: 'Bank: Harbor Bank\nIBAN: GB33 BUKB 2020 1555 5555 55', firmAddress: '1 Quay Street, Bristol', ...(opts.settings ?? {}) } } }, ...(opts.overrides ?? {}) },
  });
  await setupOwner(app);
  const k = app.kernel;
  const password = 'invoices-test-password-123';
  const hash = await k.passwords.hash(password);
  const slug = opts.slug ?? 'acme';
  const users = {} as Record<Who, string>;
  const emails = {} as Record<Who, string>;
  const ws = await transaction(k.db, async (trx) => {
    const w = await createWorkspace(k, trx, { name: 'Acme Ltd', slug }, { actorId: null, via: 'cli' });
    for (const [who, role] of Object.entries(PEOPLE) as Array<[Who, string]>) {
      const email = `${who}@${slug}.example`;
      const u = await createUser(k, trx, { email, name: `${who[0]!.toUpperCase()}${who.slice(1)} Person`, passwordHash: hash, firmRole: role === 'staff' ? 'staff' : null }, { actorId: null, via: 'cli' });
      await addMember(k, trx, { workspaceId: w.id, userId: u.id, role: role as WorkspaceRole }, { actorId: null, via: 'cli' });
      users[who] = u.id;
      emails[who] = email;
    }
    return w;
  });
  const as = {} as Record<Who, HttpClient>;
  for (const who of Object.keys(PEOPLE) as Who[]) {
    const c = app.client();
    const r = await c.login(emails[who], password);
    if (r.status !== 303) throw new Error(`login ${who}: ${r.status}`);
    await c.get(`/w/${slug}/`);
    as[who] = c;
  }
  return { app, clock, ws: { id: ws.id, slug, name: 'Acme Ltd' }, users, emails, as };
}

export type LineFields = [description: string, quantity: string, unitPrice: string, taxRate: string, discount?: string];

export function editorFields(lines: LineFields[], extra: Record<string, string> = {}): Record<string, string> {
  const f: Record<string, string> = { currency: 'EUR', termsDays: '30', customDays: '', notes: '', terms: '', intent: 'save', ...extra };
  lines.forEach(([d, q, p, t, disc], i) => Object.assign(f, { [`line-${i}-description`]: d, [`line-${i}-quantity`]: q, [`line-${i}-unitPrice`]: p, [`line-${i}-taxRate`]: t, [`line-${i}-discount`]: disc ?? '' }));
  return f;
}

/** Staff save a new draft through the editor; returns its id. */
export async function newDraft(w: World, lines: LineFields[], extra: Record<string, string> = {}): Promise<{ res: Res; id: string | null }> {
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/new`);
  const res = await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/new`, editorFields(lines, extra));
  const m = /\/invoices\/i\/([0-9a-f-]{36})$/.exec(res.location ?? '');
  return { res, id: m ? m[1]! : null };
}

/** Staff issue a draft through the page's dialog; returns the response. */
export async function issue(w: World, id: string): Promise<Res> {
  await w.as.staff.get(`/w/${w.ws.slug}/invoices/i/${id}`);
  return w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${id}/issue`, {});
}

export const decode = (html: string) => html.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&').replace(/&#x27;/g, "'").replace(/&quot;/g, '"');
