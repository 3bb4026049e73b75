// Shared set-up for the approvals tests: an app with `files` and `approvals`, one workspace with a
// staff member and clients of each role (two members, so a request can have two client
// approvers), each with a signed-in HttpClient; a controllable clock; mail read from the outbox.
import { transaction } from '../../../core/db/index.ts';
import { ManualClock } from '../../../core/clock.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { WorkspaceRole } from '../../../core/plugins/define.ts';
import { setupOwner, startApp, type StartOptions, type TestApp } from '../../helpers/app.ts';
import type { HttpClient, Res } from '../../helpers/http.ts';
import { upload } from '../files/helpers.ts';
import { mailsTo as deliveredTo } from '../../identity/support.ts';

export const PEOPLE = { staff: 'staff', admin: 'client_admin', member: 'client_member', member2: 'client_member', viewer: 'client_viewer' } as const;
export type Who = keyof typeof PEOPLE;

export interface World {
  app: TestApp;
  clock: ManualClock;
  ws: { id: string; slug: string };
  users: Record<Who, string>;
  emails: Record<Who, string>;
  as: Record<Who, HttpClient>;
  password: string;
}

/** Monday 2026-12-07 09:00 UTC: a known weekday to count reminders from. */
export const MONDAY = Date.parse('2026-12-07T09:00:00.000Z');

export async function approvalsWorld(opts: StartOptions & { slug?: string; settings?: Record<string, unknown> } = {}): Promise<World> {
  const clock = new ManualClock(MONDAY);
  const app = await startApp({
    plugins: ['files', 'approvals'],
    clock,
    ...opts,
    overrides: { storage: { orphanGraceMinutes: 0 }, plugins: { settings: { approvals: { jobIntervalSeconds: 3600, ...(opts.settings ?? {}) } } }, ...(opts.overrides ?? {}) },
  });
  await setupOwner(app);
  const k = app.kernel;
  const password = 'approvals-test-password-123';
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
  return { app, clock, ws: { id: ws.id, slug }, users, emails, as, password };
}

/** Staff upload a shared file (a new version when the name exists); returns its id. */
export async function uploadFile(w: World, name: string, body: string): Promise<string> {
  await w.as.staff.get(`/w/${w.ws.slug}/files/`);
  const res = await upload(w.as.staff, `/w/${w.ws.slug}/files/upload`, [{ name, data: body }]);
  if (res.status !== 200) throw new Error(`upload ${name}: ${res.status} ${res.text.slice(0, 300)}`);
  const f = await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name }).first('id');
  return String(f.id);
}

/** Staff create a request through the form; returns its id. */
export async function requestApproval(w: World, fileId: string, fields: Record<string, string | string[]>): Promise<{ res: Res; id: string | null }> {
  await w.as.staff.get(`/w/${w.ws.slug}/approvals/new?type=files.version&subject=${fileId}`);
  const res = await w.as.staff.postForm(`/w/${w.ws.slug}/approvals/`, { type: 'files.version', subject: fileId, title: 'Approve the design', sequence: 'parallel', ...fields });
  const m = /\/approvals\/r\/([0-9a-f-]{36})$/.exec(res.location ?? '');
  return { res, id: m ? m[1]! : null };
}

/**
 * Every mail delivered to `email`, oldest first, as the recipient got it (the file transport's
 * copy: the outbox row's body is scrubbed of single-use links once delivered).
 */
export async function mailsTo(w: World, email: string): Promise<Array<{ subject: string; text: string }>> {
  return (await deliveredTo(w.app, email)).map((m) => ({ subject: m.subject, text: m.text }));
}

/** The decision link (path) in the latest mail to `email` whose subject matches. */
export async function linkIn(w: World, email: string, subject: RegExp = /./): Promise<string> {
  const mails = (await mailsTo(w, email)).filter((m) => subject.test(m.subject));
  const last = mails[mails.length - 1];
  const m = last && /http:\/\/127\.0\.0\.1:3000(\/l\/approvals\/[A-Za-z0-9_-]{43})/.exec(last.text);
  if (!m) throw new Error(`no approval link mailed to ${email}: ${JSON.stringify(mails.map((x) => x.subject))}`);
  return m[1]!;
}

export const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';

/** A newly signed-in client (after the clock moved past the session's idle limit). */
export async function signIn(w: World, who: Who): Promise<HttpClient> {
  const c = w.app.client();
  const r = await c.login(w.emails[who], w.password);
  if (r.status !== 303) throw new Error(`login ${who}: ${r.status}`);
  await c.get(`/w/${w.ws.slug}/`);
  w.as[who] = c;
  return c;
}
