// Home cards load side by side and within a budget (views.widgetBudgetMs, issue 17): a card whose
// data is late is sent as a placeholder that fetches itself after the page, a failing card shows
// its error, and the late card's URL answers only readers who may see that card in that workspace.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import { slowGate } from './fixtures/plugins/slow-cards/index.ts';
import { setupOwner, startApp, type TestApp } from './helpers/app.ts';
import type { HttpClient, Res } from './helpers/http.ts';

const test = suite('home cards: concurrent, within a budget, late ones after the page');
let app: TestApp;
const who: Record<'admin' | 'member' | 'other', HttpClient> = {} as never;
const PASSWORD = 'widget-budget-password-1';
const HX = { 'hx-request': 'true' };

/** The page must come back although the slow card's data never arrives during the request. */
function answered(p: Promise<Res>, what: string): Promise<Res> {
  return Promise.race([p, new Promise<Res>((_, reject) => setTimeout(() => reject(new Error(`${what} waited for the slow card`)), 8000).unref())]);
}

test.before(async () => {
  app = await startApp({ plugins: ['./test/fixtures/plugins/slow-cards'], overrides: { views: { widgetBudgetMs: 100 } } });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash(PASSWORD);
  await transaction(k.db, async (trx) => {
    const actor = { actorId: null, via: 'cli' as const };
    const acme = await createWorkspace(k, trx, { name: 'Acme Ltd', slug: 'acme' }, actor);
    const bolt = await createWorkspace(k, trx, { name: 'Bolt Ltd', slug: 'bolt' }, actor);
    for (const [email, ws, role] of [
      ['ada@acme.example', acme.id, 'client_admin'],
      ['mo@acme.example', acme.id, 'client_member'],
      ['bo@bolt.example', bolt.id, 'client_admin'],
    ] as const) {
      const u = await createUser(k, trx, { email, name: email.split('@')[0]!, passwordHash: hash, firmRole: null }, actor);
      await addMember(k, trx, { workspaceId: ws, userId: u.id, role }, actor);
    }
  });
  for (const [key, email] of [['admin', 'ada@acme.example'], ['member', 'mo@acme.example'], ['other', 'bo@bolt.example']] as const) {
    who[key] = app.client();
    assert.is((await who[key].login(email, PASSWORD)).status, 303);
  }
});
test.after(async () => {
  slowGate.open();
  await app.close();
});

test('a late card is a placeholder; the quick card is there and the broken one shows its error', async () => {
  slowGate.close();
  const before = slowGate.loads;
  const home = await answered(who.admin.get('/w/acme/'), 'the home');
  assert.is(home.status, 200);
  assert.is(slowGate.loads, before + 1, 'the slow card was asked for its data');
  assert.match(home.text, 'Quick data');
  assert.not.match(home.text, 'Slow data');
  assert.match(home.text, 'hx-get="/w/acme/_widgets/slow-cards-slow"');
  assert.match(home.text, 'hx-trigger="load"');
  assert.match(home.text, 'This card could not be loaded just now');
  // Each card keeps its own place and title.
  assert.ok(home.text.indexOf('Quick card') < home.text.indexOf('Slow card') && home.text.indexOf('Slow card') < home.text.indexOf('Broken card'));
});

test('the late card fills itself in: a fragment, for htmx only', async () => {
  slowGate.open();
  const late = await who.admin.get('/w/acme/_widgets/slow-cards-slow', HX);
  assert.is(late.status, 200);
  assert.match(late.text, 'Slow data for Acme Ltd');
  assert.not.match(late.text, '<html');
  assert.is(late.headers.get('cache-control'), 'no-store');
  const byHand = await who.admin.get('/w/acme/_widgets/slow-cards-slow');
  assert.is(byHand.status, 302);
  assert.is(byHand.location, '/w/acme/');
});

test('cards that answer within the budget are in the page itself', async () => {
  slowGate.open();
  const home = await who.admin.get('/w/acme/');
  assert.match(home.text, 'Slow data for Acme Ltd');
  assert.not.match(home.text, '_widgets/');
});

test('a late card URL answers only who may see that card, in their own workspace', async () => {
  slowGate.open();
  // A client member has no `read Card`: no card on the home, and its URL is unknown to them.
  const memberHome = await who.member.get('/w/acme/');
  assert.not.match(memberHome.text, 'Quick card');
  assert.is((await who.member.get('/w/acme/_widgets/slow-cards-quick', HX)).status, 404);
  // Another workspace's client: the same 404 as for any workspace they are not on.
  assert.is((await who.other.get('/w/acme/_widgets/slow-cards-quick', HX)).status, 404);
  assert.not.match((await who.other.get('/w/acme/_widgets/slow-cards-quick', HX)).text, 'Quick data');
  assert.is((await who.other.get('/w/bolt/_widgets/slow-cards-quick', HX)).status, 200);
  // Unknown key; signed out.
  assert.is((await who.admin.get('/w/acme/_widgets/nope-nope', HX)).status, 404);
  const anon = await app.client().get('/w/acme/_widgets/slow-cards-quick');
  assert.is(anon.status, 302);
  assert.match(anon.location ?? '', '/login');
});

test.run();
