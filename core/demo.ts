// Demo data: two client workspaces, a staff member and client users, so a new installation
// can be explored. The demo password is random per seed and shown once to whoever seeded.
import { randomBytes } from 'node:crypto';
import { transaction } from './db/index.ts';
import { addMember, createUser, createWorkspace, findUserByEmail, type Actor } from './identity/users.ts';
import type { Services } from './services.ts';
import type { FirmRole, WorkspaceRole } from './plugins/define.ts';

export const DEMO_WORKSPACES = [
  { slug: 'northwind', name: 'Northwind Traders' },
  { slug: 'globex', name: 'Globex Corporation' },
];

export const DEMO_USERS: Array<{ email: string; name: string; firmRole: FirmRole | null; memberships: Array<[string, WorkspaceRole]> }> = [
  { email: 'sam.staff@firm.example', name: 'Sam Okafor', firmRole: 'staff', memberships: [['northwind', 'staff'], ['globex', 'staff']] },
  { email: 'ada@northwind.example', name: 'Ada Lindqvist', firmRole: null, memberships: [['northwind', 'client_admin']] },
  { email: 'ben@northwind.example', name: 'Ben Howell', firmRole: null, memberships: [['northwind', 'client_viewer']] },
  { email: 'cara@globex.example', name: 'Cara Mendes', firmRole: null, memberships: [['globex', 'client_admin']] },
];

export interface DemoResult {
  created: boolean;
  password?: string;
  users: string[];
}

/** Seed the demo once. A second call finds the demo workspaces and changes nothing. */
export async function seedDemo(s: Services, actor: Actor, password = `demo-${randomBytes(9).toString('base64url')}`): Promise<DemoResult> {
  if (await s.db('workspaces').where({ slug: DEMO_WORKSPACES[0]!.slug }).first('id')) {
    return { created: false, users: DEMO_USERS.map((u) => u.email) };
  }
  const passwordHash = await s.passwords.hash(password);
  await transaction(s.db, async (trx) => {
    const ws = new Map<string, string>();
    for (const w of DEMO_WORKSPACES) ws.set(w.slug, (await createWorkspace(s, trx, w, { ...actor, via: 'demo' })).id);
    for (const u of DEMO_USERS) {
      const existing = await findUserByEmail(trx, u.email);
      const user = existing ?? (await createUser(s, trx, { email: u.email, name: u.name, passwordHash, firmRole: u.firmRole }, { ...actor, via: 'demo' }));
      for (const [slug, role] of u.memberships) await addMember(s, trx, { workspaceId: ws.get(slug)!, userId: user.id, role }, { ...actor, via: 'demo' });
    }
  });
  return { created: true, password, users: DEMO_USERS.map((u) => u.email) };
}
