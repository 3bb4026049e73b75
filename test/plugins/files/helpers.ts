// Shared set-up for the files plugin's tests: an app with `files`, one workspace, an owner, a
// staff member and one client of each role, each with a signed-in HttpClient.
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';
import type { WorkspaceRole } from '../../../core/plugins/define.ts';
import { setupOwner, startApp, type StartOptions, type TestApp } from '../../helpers/app.ts';
import type { HttpClient, Res } from '../../helpers/http.ts';

export const ROLES = ['staff', 'client_admin', 'client_member', 'client_viewer'] as const;
export type Who = (typeof ROLES)[number];

export interface FilesWorld {
  app: TestApp;
  ws: { id: string; slug: string };
  users: Record<Who, string>;
  as: Record<Who, HttpClient>;
  base: string;
}

export async function filesWorld(opts: StartOptions & { slug?: string } = {}): Promise<FilesWorld> {
  const app = await startApp({ plugins: ['files'], ...opts, overrides: { storage: { orphanGraceMinutes: 0 }, ...(opts.overrides ?? {}) } });
  await setupOwner(app);
  const k = app.kernel;
  const password = 'files-test-password-123';
  const hash = await k.passwords.hash(password);
  const slug = opts.slug ?? 'acme';
  const users = {} as Record<Who, string>;
  const ws = await transaction(k.db, async (trx) => {
    const w = await createWorkspace(k, trx, { name: 'Acme Ltd', slug }, { actorId: null, via: 'cli' });
    for (const role of ROLES) {
      const u = await createUser(k, trx, { email: `${role.replace('_', '.')}@${slug}.example`, name: `${role} person`, passwordHash: hash, firmRole: role === 'staff' ? 'staff' : null }, { actorId: null, via: 'cli' });
      await addMember(k, trx, { workspaceId: w.id, userId: u.id, role: role as WorkspaceRole }, { actorId: null, via: 'cli' });
      users[role] = u.id;
    }
    return w;
  });
  const as = {} as Record<Who, HttpClient>;
  for (const role of ROLES) {
    const c = app.client();
    const r = await c.login(`${role.replace('_', '.')}@${slug}.example`, password);
    if (r.status !== 303) throw new Error(`login ${role}: ${r.status}`);
    await c.get(`/w/${slug}/files/`);
    as[role] = c;
  }
  return { app, ws: { id: ws.id, slug }, users, as, base: `/w/${slug}/files` };
}

/** Upload files through htmx's multipart request (the CSRF token in the header). */
export async function upload(c: HttpClient, url: string, files: Array<{ name: string; data: Buffer | string; field?: string }>, fields: Record<string, string> = {}, opts: { csrf?: string | false } = {}): Promise<Res> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append(f.field ?? 'files', new Blob([typeof f.data === 'string' ? Buffer.from(f.data) : f.data]), f.name);
  const headers: Record<string, string> = { 'HX-Request': 'true' };
  if (opts.csrf !== false) headers['X-CSRF-Token'] = opts.csrf ?? c.csrf ?? '';
  return c.request('POST', url, { body: form, headers });
}

export async function download(c: HttpClient, url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const h: Record<string, string> = { ...headers };
  if (c.cookies.size) h.cookie = [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(c.base + url, { headers: h, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A minimal valid PNG (1x1). */
export const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
/** A minimal PDF header followed by `body`. */
export const pdf = (body: string) => Buffer.from(`%PDF-1.4\n%\xe2\xe3\xcf\xd3\n${body}\n%%EOF\n`, 'latin1');

export async function fileIdByName(world: FilesWorld, name: string): Promise<string> {
  const r = await world.app.kernel.db('files_files').where({ workspace_id: world.ws.id, name }).first('id');
  if (!r) throw new Error(`no file ${name}`);
  return String(r.id);
}
