// The firm's view of pending invitations (/staff/invitations): every invitation not yet accepted
// or revoked in the workspaces the staff member can open, and nothing of any other workspace.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from '../helpers/app.ts';
import { seedDemo } from '../../core/demo.ts';
import { transaction } from '../../core/db/index.ts';
import { addMember, createUser } from '../../core/identity/users.ts';
import { invite, revoke } from '../../core/identity/invitations.ts';

const test = suite('staff: pending invitations');
let app: TestApp;

const ws = async (slug: string) => (await app.kernel.db('workspaces').where({ slug }).first('id', 'name')) as { id: string; name: string };
const inviteTo = async (slug: string, email: string) => {
  const w = await ws(slug);
  return transaction(app.kernel.db, (trx) => invite(app.kernel, trx, { workspace: w, email, role: 'client_member', inviter: { id: null as unknown as string, name: 'The firm' } }, { actorId: null }));
};
const signedIn = async (email: string, password = DEMO_PASSWORD) => {
  const c = app.client();
  assert.is((await c.login(email, password)).status, 303);
  return c;
};

test.before(async () => {
  app = await startApp();
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
  // A staff member on Northwind only.
  const hash = await app.kernel.passwords.hash(DEMO_PASSWORD);
  // (Read before the transaction: SQLite has one connection, held by an open transaction.)
  const northwind = await ws('northwind');
  await transaction(app.kernel.db, async (trx) => {
    const u = await createUser(app.kernel, trx, { email: 'nina@firm.example', name: 'Nina North', passwordHash: hash, firmRole: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(app.kernel, trx, { workspaceId: northwind.id, userId: u.id, role: 'staff' }, { actorId: null, via: 'cli' });
  });
});
test.after(() => app.close());

test('an empty list says what to do next', async () => {
  const page = await (await signedIn('nina@firm.example')).get('/staff/invitations');
  assert.is(page.status, 200);
  assert.match(page.text, 'No pending invitations');
  assert.match(page.text, 'href="/staff/invitations"', 'in the staff navigation');
});

test('staff see pending invitations of their own workspaces only; owners see every workspace', async () => {
  await inviteTo('northwind', 'new.person@northwind.example');
  await inviteTo('globex', 'secret.hire@globex.example');
  const revoked = await inviteTo('northwind', 'changed.mind@northwind.example');
  const northwind = await ws('northwind');
  await transaction(app.kernel.db, (trx) => revoke(app.kernel, trx, { workspaceId: northwind.id, id: revoked }, { actorId: null }));

  const nina = await (await signedIn('nina@firm.example')).get('/staff/invitations');
  assert.match(nina.text, 'new.person@northwind.example');
  assert.match(nina.text, 'href="/w/northwind/invitations"');
  assert.not.match(nina.text, 'secret.hire', 'another workspace is never listed');
  assert.not.match(nina.text, 'Globex');
  assert.not.match(nina.text, 'changed.mind', 'a revoked invitation is not pending');

  const owner = await (await signedIn('owner@harbor.example', 'correct-horse-battery-staple')).get('/staff/invitations');
  assert.match(owner.text, 'new.person@northwind.example');
  assert.match(owner.text, 'secret.hire@globex.example');
});

test('clients cannot open it', async () => {
  const res = await (await signedIn('ada@northwind.example')).get('/staff/invitations');
  assert.is(res.status, 404);
});

test.run();
