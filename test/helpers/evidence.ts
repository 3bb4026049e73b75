// Shared set-up for the proof-of-service tests (core/evidence.ts and each contributor): an app with
// the plugins named, two workspaces A and B, each with a staff member and a client admin (B's rows
// carry a canary), and a way to read one provider's items for a workspace and period as a viewer.
import { transaction } from '../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../core/identity/users.ts';
import { newId } from '../../core/ids.ts';
import type { Evidence, EvidenceItem, EvidenceQuery } from '../../core/evidence.ts';
import { setupOwner, startApp, type TestApp } from './app.ts';

export interface EvidenceWorld {
  app: TestApp;
  A: { id: string; staff: string; client: string };
  B: { id: string; staff: string; client: string };
}

export const CANARY = 'CANARY-B-7f3a';

export async function evidenceWorld(plugins: string[]): Promise<EvidenceWorld> {
  const app = await startApp({ plugins });
  await setupOwner(app);
  const k = app.kernel;
  const make = (name: string, slug: string) =>
    transaction(k.db, async (trx) => {
      const w = await createWorkspace(k, trx, { name, slug }, { actorId: null, via: 'cli' });
      const staff = await createUser(k, trx, { email: `staff@${slug}.example`, name: `Sam Staff ${slug}`, passwordHash: 'x', firmRole: 'staff' }, { actorId: null, via: 'cli' });
      const client = await createUser(k, trx, { email: `cfo@${slug}.example`, name: `Cleo Client ${slug}`, passwordHash: 'x', firmRole: null }, { actorId: null, via: 'cli' });
      await addMember(k, trx, { workspaceId: w.id, userId: staff.id, role: 'staff' }, { actorId: null, via: 'cli' });
      await addMember(k, trx, { workspaceId: w.id, userId: client.id, role: 'client_admin' }, { actorId: null, via: 'cli' });
      return { id: w.id, staff: staff.id, client: client.id };
    });
  return { app, A: await make('Alpha Ltd', 'alpha'), B: await make(`Bravo ${CANARY}`, 'bravo') };
}

/** A query for `workspaceId` and [from, to), asked by `userId` as a client admin. */
export function queryFor(world: EvidenceWorld, workspaceId: string, userId: string, from: string, to: string): EvidenceQuery {
  const ability = world.app.kernel.permissions.abilityFor(null, 'client_admin');
  return { workspaceId, from: Date.parse(from), to: Date.parse(to), viewer: { userId, firmRole: null, ability } };
}

/** One provider's raw items (what the plugin yields), in order. */
export async function providerItems(world: EvidenceWorld, id: string, q: EvidenceQuery): Promise<EvidenceItem[]> {
  const registry = world.app.kernel.evidence as unknown as { providers: Map<string, { items: (db: unknown, q: EvidenceQuery) => AsyncIterable<EvidenceItem> }> };
  const p = registry.providers.get(id);
  if (!p) throw new Error(`no evidence provider ${id}`);
  const out: EvidenceItem[] = [];
  for await (const it of p.items(world.app.kernel.db, q)) out.push(it);
  return out;
}

/** Everything the registry hands out for `q`. */
export async function allEvidence(world: EvidenceWorld, q: EvidenceQuery): Promise<Evidence[]> {
  const out: Evidence[] = [];
  for await (const e of world.app.kernel.evidence.items(world.app.kernel.db, q)) out.push(e);
  return out;
}

/** A stored-blob row for a version inserted by hand (the bytes are never read here). */
export async function fakeBlob(world: EvidenceWorld, workspaceId: string): Promise<string> {
  const key = newId().replace(/-/g, '');
  await world.app.kernel.db('storage_blobs').insert({ key, owner: 'files', workspace_id: workspaceId, size: 1, sha256: 'a'.repeat(64), alg: 'test', key_id: 'test', wrapped_key: 'x', bind: 'test', created_at: 1 });
  return key;
}
