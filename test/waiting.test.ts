// "Waiting on you" (core/waiting.ts), with a test plugin of two providers (test/fixtures/plugins/
// chores): a person sees only their own items, only in workspaces they belong to (never another
// workspace's, never an archived one's, never where their role has no right), overdue first, then
// by due date, undated last; one query per provider whatever the number of workspaces; /inbox
// pages and its empty state; the home cards; the header's count is stored, read with the
// session, recounted after a provider's change event and sent live to the person's open pages.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../core/clock.ts';
import { transaction } from '../core/db/index.ts';
import { newId } from '../core/ids.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import type { WorkspaceRole } from '../core/plugins/define.ts';
import { COUNT_TTL_MS } from '../core/waiting.ts';
import { checkRuleAgreement } from './kit/rules.ts';
import { fixturePlugin, ON_PG, setupOwner, startApp, type TestApp } from './helpers/app.ts';
import type { HttpClient } from './helpers/http.ts';
import { cookieOf, openSse } from './helpers/sse.ts';

const test = suite(`waiting on you (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-07T09:00:00.000Z');
const PW = 'waiting-test-password-123';
const clock = new ManualClock(NOW);
let app: TestApp;
const ws = {} as Record<'a' | 'b' | 'gone', { id: string; slug: string }>;
const ids = {} as Record<'ada' | 'ben' | 'vic' | 'sam' | 'zoe', string>;
const as = {} as Record<'ada' | 'ben' | 'vic' | 'sam' | 'zoe', HttpClient>;

async function item(workspace: 'a' | 'b' | 'gone', who: keyof typeof ids, kind: 'task' | 'review', title: string, due: number | null, opts: { done?: boolean; createdAt?: number } = {}) {
  const id = newId();
  await app.kernel.db('chores_items').insert({ id, workspace_id: ws[workspace].id, assignee_id: ids[who], kind, title, due_at: due, created_at: opts.createdAt ?? NOW - 10 * DAY, done: opts.done ?? false });
  return id;
}

test.before(async () => {
  app = await startApp({ plugins: [fixturePlugin('chores')], clock });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash(PW);
  await transaction(k.db, async (trx) => {
    const actor = { actorId: null, via: 'cli' as const };
    ws.a = await createWorkspace(k, trx, { name: 'Acme Ltd', slug: 'acme' }, actor);
    ws.b = await createWorkspace(k, trx, { name: 'Bolt & Co', slug: 'bolt' }, actor);
    ws.gone = await createWorkspace(k, trx, { name: 'Gone Inc', slug: 'gone' }, actor);
    const people: Array<[keyof typeof ids, string | null, Array<['a' | 'b' | 'gone', WorkspaceRole]>]> = [
      ['ada', null, [['a', 'client_member'], ['b', 'client_admin'], ['gone', 'client_admin']]],
      ['ben', null, [['a', 'client_member']]],
      ['vic', null, [['a', 'client_viewer']]],
      ['sam', 'staff', [['a', 'staff'], ['b', 'staff']]],
      ['zoe', null, [['b', 'client_member']]],
    ];
    for (const [name, firm, memberships] of people) {
      const u = await createUser(k, trx, { email: `${name}@example.test`, name: name[0]!.toUpperCase() + name.slice(1), passwordHash: hash, firmRole: firm as 'staff' | null }, actor);
      ids[name] = u.id;
      for (const [w, role] of memberships) await addMember(k, trx, { workspaceId: ws[w].id, userId: u.id, role }, actor);
    }
  });
  await k.db('workspaces').where({ id: ws.gone.id }).update({ archived: true });
  // Ada: two overdue (one in each workspace), one due later, one undated; done and archived ones never show.
  await item('a', 'ada', 'task', 'Ada task overdue 1 day', NOW - DAY);
  await item('b', 'ada', 'review', 'Ada review overdue 2 days', NOW - 2 * DAY);
  await item('a', 'ada', 'review', 'Ada review due tomorrow', NOW + DAY);
  await item('a', 'ada', 'task', 'Ada task undated', null, { createdAt: NOW - 20 * DAY });
  await item('a', 'ada', 'task', 'Ada task done', NOW - 5 * DAY, { done: true });
  await item('gone', 'ada', 'task', 'Ada task archived workspace', NOW - 9 * DAY);
  // Ben: one of his own in A, and one "assigned" in B, where he is no member.
  await item('a', 'ben', 'task', 'Ben task', NOW - 3 * DAY);
  await item('b', 'ben', 'task', 'Ben task in a workspace he is not in', NOW - 4 * DAY);
  // Vic is a viewer: the rule gives viewers nothing, so an item assigned to him never shows.
  await item('a', 'vic', 'task', 'Vic task', NOW - DAY);
  // Rows put straight into the table, without the plugin's change event: recount (memberships
  // made above were counted, with nothing assigned yet).
  await k.waiting.refresh(Object.values(ids));
  for (const name of Object.keys(ids) as Array<keyof typeof ids>) {
    const c = app.client();
    assert.is((await c.login(`${name}@example.test`, PW)).status, 303, name);
    as[name] = c;
  }
});
test.after(async () => {
  await app.close();
});

// The inbox's links and the home card's ui-list titles (class="ui-list-title").
const titles = (html: string) => [...html.matchAll(/<a (?:class="ui-list-title" )?href="\/w\/[a-z]+\/chores\/[a-z]+s\/[0-9a-f-]+">([^<]+)<\/a>/g)].map((m) => m[1]!);
const headerCount = (html: string) => Number(/sse-swap="waiting"[^>]*>(\d+)</.exec(html)?.[1] ?? NaN);

test('two providers, one person: overdue first, then by due date, undated last; only their own, only their workspaces', async () => {
  const k = app.kernel;
  const person = await k.waiting.personFor(k.db, { id: ids.ada, firmRole: null });
  assert.equal(person.workspaces.map((w) => w.slug).sort(), ['acme', 'bolt'], 'an archived workspace is not one of theirs');
  const list = await k.waiting.list(k.db, person, { limit: 10 });
  assert.equal(list.items.map((i) => i.title), ['Ada review overdue 2 days', 'Ada task overdue 1 day', 'Ada review due tomorrow', 'Ada task undated']);
  assert.equal(list.items.map((i) => [i.kind, i.verb, i.workspace.slug, i.overdue]), [
    ['Review', 'Review', 'bolt', true],
    ['Task', 'Do', 'acme', true],
    ['Review', 'Review', 'acme', false],
    ['Task', 'Do', 'acme', false],
  ]);
  assert.is(list.total, 4);
  assert.is(list.overdue, 2);
  assert.ok(list.items.every((i) => i.href.startsWith(`/w/${i.workspace.slug}/chores/`)));

  const ben = await k.waiting.list(k.db, await k.waiting.personFor(k.db, { id: ids.ben, firmRole: null }), { limit: 10 });
  assert.equal(ben.items.map((i) => i.title), ['Ben task'], "never another workspace's row, even one naming him");
  const vic = await k.waiting.list(k.db, await k.waiting.personFor(k.db, { id: ids.vic, firmRole: null }), { limit: 10 });
  assert.is(vic.total, 0, 'a viewer has no right to do chores: nothing waits on him');
  // One workspace asked: only that one's.
  const onlyA = await k.waiting.list(k.db, k.waiting.personOver({ id: ids.ada, firmRole: null }, [{ id: ws.a.id, slug: 'acme', name: 'Acme Ltd', role: 'client_member' }]), { limit: 10 });
  assert.equal(onlyA.items.map((i) => i.workspace.slug), ['acme', 'acme', 'acme']);
  // Pages: the second item alone.
  const second = await k.waiting.list(k.db, person, { limit: 1, offset: 1 });
  assert.equal(second.items.map((i) => i.title), ['Ada task overdue 1 day']);
  assert.is(second.total, 4);
});

test('a list or a count is one query per provider, however many workspaces', async () => {
  const k = app.kernel;
  const person = await k.waiting.personFor(k.db, { id: ids.ada, firmRole: null });
  const seen: string[] = [];
  const spy = (q: { sql: string }) => seen.push(q.sql);
  k.db.on('query', spy);
  try {
    await k.waiting.list(k.db, person, { limit: 5 });
    assert.is(seen.length, 2, `two providers, two queries: ${seen.join(' | ')}`);
    seen.length = 0;
    assert.is(await k.waiting.count(k.db, person), 4);
    assert.is(seen.length, 2);
  } finally {
    k.db.removeListener('query', spy);
  }
});

test('the rule on the person agrees in memory and in SQL, for every person', async () => {
  const { checked, violations } = await checkRuleAgreement(app.kernel, ['chores']);
  assert.ok(checked.some((c) => c.includes('per person')), checked.join('; '));
  assert.equal(violations, []);
  // Without a person, a rule on the person matches nothing: fail closed.
  const anon = app.kernel.permissions.abilityFor(null, 'client_member');
  const rows = await app.kernel.db('chores_items').modify((await import('../core/permissions.ts')).accessibleBy(anon, 'do', 'Chore')).pluck('id');
  assert.equal(rows, []);
});

test('/inbox: across the workspaces, overdue first, the workspace named; the header counts them; empty state for someone with nothing', async () => {
  const page = await as.ada.get('/inbox');
  assert.is(page.status, 200);
  assert.equal(titles(page.text), ['Ada review overdue 2 days', 'Ada task overdue 1 day', 'Ada review due tomorrow', 'Ada task undated']);
  assert.match(page.text, '4 things are waiting for you, 2 overdue. The most urgent come first.');
  assert.match(page.text, 'Review · Bolt &amp; Co');
  assert.match(page.text, /2026-12-05 <span class="ui-badge ui-badge-danger">Overdue<\/span>/);
  assert.match(page.text, '>Review<span class="visually-hidden">: Ada review overdue 2 days</span>');
  assert.is(headerCount(page.text), 4);
  assert.not.match(page.text, 'Ben task');
  assert.not.match(page.text, 'archived');

  const empty = await as.vic.get('/inbox');
  assert.match(empty.text, 'Nothing is waiting on you');
  assert.match(empty.text, '<a class="button" href="/w/acme/">Go to Acme Ltd</a>');
  assert.is(headerCount(empty.text), 0);
  // Signed out: to the sign-in page.
  const anon = await app.client().get('/inbox');
  assert.is(anon.status, 302);
  assert.match(anon.location ?? '', '/login?next=%2Finbox');
});

test('/inbox pages: 20 a page, Next and Previous, a page past the end shows the last', async () => {
  for (let i = 0; i < 21; i++) await item('a', 'zoe', 'task', `Zoe filler ${String(i).padStart(2, '0')}`, NOW + (i + 1) * DAY);
  // Zoe is a member of B only: these are in A, so she has none. Move them to B.
  await app.kernel.db('chores_items').where({ assignee_id: ids.zoe }).update({ workspace_id: ws.b.id });
  await app.kernel.waiting.refresh([ids.zoe]);
  const first = await as.zoe.get('/inbox');
  assert.is(titles(first.text).length, 20);
  assert.match(first.text, 'Page 1 of 2');
  assert.match(first.text, 'href="/inbox?page&#x3D;2" rel="next"');
  const second = await as.zoe.get('/inbox?page=2');
  assert.equal(titles(second.text), ['Zoe filler 20']);
  assert.match(second.text, 'href="/inbox?page&#x3D;1" rel="prev"');
  assert.equal(titles((await as.zoe.get('/inbox?page=9')).text), ['Zoe filler 20']);
  assert.equal(titles((await as.zoe.get('/inbox?page=nonsense')).text).length, 20);
});

test('the home cards: this workspace on its home, every workspace on the staff overview', async () => {
  const home = await as.ada.get('/w/acme/');
  const i = home.text.indexOf('id="widget-core-waiting"');
  assert.ok(i >= 0, 'the card is on the workspace home');
  const card = home.text.slice(i, home.text.indexOf('</section>', i));
  assert.equal(titles(card), ['Do: Ada task overdue 1 day', 'Review: Ada review due tomorrow', 'Do: Ada task undated']);
  assert.not.match(card, 'Ada review overdue 2 days', "another workspace's item is not listed here");
  assert.match(card, '1 more thing waits for you in your other workspaces');
  assert.match(card, 'href="/inbox"');

  await app.kernel.db('chores_items').insert({ id: newId(), workspace_id: ws.b.id, assignee_id: ids.sam, kind: 'review', title: 'Sam review in Bolt', due_at: NOW - DAY, created_at: NOW - DAY, done: false });
  await app.kernel.waiting.refresh([ids.sam]);
  const staff = await as.sam.get('/staff/');
  const j = staff.text.indexOf('id="widget-core-waiting"');
  assert.ok(j >= 0, 'the card is on the staff overview');
  const staffCard = staff.text.slice(j, staff.text.indexOf('</section>', j));
  assert.match(staffCard, 'Review: Sam review in Bolt');
  assert.match(staffCard, 'Review · Bolt &amp; Co');
  const empty = await as.vic.get('/w/acme/');
  assert.match(empty.text, 'Nothing is waiting on you.');
});

test('the header count is stored and read with the session: no query of its own until a change or its age', async () => {
  const k = app.kernel;
  await as.ben.get('/account/notifications'); // fills in Ben's stored count if it is not there yet
  const seen: string[] = [];
  const spy = (q: { sql: string }) => seen.push(q.sql);
  k.db.on('query', spy);
  try {
    const page = await as.ben.get('/account/notifications');
    assert.is(headerCount(page.text), 1);
    const counting = (s: string) => s.includes('chores_items') || /^(insert into|update|select [^]* from) "?waiting_counts/.test(s);
    assert.equal(seen.filter(counting), [], 'no provider query and no count query on a page view');
    seen.length = 0;
    clock.advance(COUNT_TTL_MS + 1000);
    assert.is(headerCount((await as.ben.get('/account/notifications')).text), 1);
    assert.ok(seen.some((s) => s.includes('chores_items')), 'an old count is recounted once');
    seen.length = 0;
    await as.ben.get('/account/notifications');
    assert.ok(!seen.some((s) => s.includes('chores_items')), 'and then trusted again');
  } finally {
    k.db.removeListener('query', spy);
  }
});

test("a provider's change event recounts the people it names and sends them the count live; nobody else's", async () => {
  const k = app.kernel;
  const adaStream = await openSse(`${app.url}/live`, cookieOf(as.ada.cookies));
  const benStream = await openSse(`${app.url}/live`, cookieOf(as.ben.cookies));
  assert.is(adaStream.status, 200);
  const id = await item('a', 'ada', 'task', 'Ada new task', NOW + 3 * DAY);
  // Rolled back: nothing is sent. Then committed.
  await transaction(k.db, async (trx) => {
    k.events.publish(trx, 'chores.item.changed', { assigneeId: ids.ada });
    throw new Error('roll back');
  }).catch(() => {});
  await transaction(k.db, async (trx) => k.events.publish(trx, 'chores.item.changed', { assigneeId: ids.ada }));
  assert.is((await adaStream.next('waiting')).data, '5');
  assert.is(headerCount((await as.ada.get('/account/notifications')).text), 5, 'the stored count is the new one');
  // Done: one fewer, through the plugin's own call this time.
  await k.db('chores_items').where({ id }).update({ done: true });
  await transaction(k.db, async (trx) => k.waiting.changed(trx, [ids.ada]));
  assert.is((await adaStream.next('waiting')).data, '4');
  // Ben's stream carried nothing of Ada's: his first "waiting" event is his own.
  await item('a', 'ben', 'review', 'Ben new review', null);
  await transaction(k.db, async (trx) => k.events.publish(trx, 'chores.item.changed', { assigneeId: ids.ben }));
  assert.is((await benStream.next('waiting')).data, '2');
  adaStream.close();
  benStream.close();
});

test('a membership gained or lost recounts that person', async () => {
  const k = app.kernel;
  const zoeBefore = (await k.db('waiting_counts').where({ user_id: ids.zoe }).first('count')).count;
  await item('a', 'zoe', 'task', 'Zoe task in Acme', NOW - DAY);
  await transaction(k.db, (trx) => addMember(k, trx, { workspaceId: ws.a.id, userId: ids.zoe, role: 'client_member' }, { actorId: null, via: 'cli' }));
  for (let i = 0; i < 50 && Number((await k.db('waiting_counts').where({ user_id: ids.zoe }).first('count')).count) === Number(zoeBefore); i++) await new Promise((r) => setTimeout(r, 20));
  assert.is(Number((await k.db('waiting_counts').where({ user_id: ids.zoe }).first('count')).count), Number(zoeBefore) + 1);
});

test('registering a provider: its id must be the plugin\'s, once; a change event must be its own', async () => {
  const w = app.kernel.waiting;
  const p = { id: 'chores.task', kind: 'Task', verb: 'Do', query: () => app.kernel.db('chores_items'), href: () => '/' };
  assert.throws(() => w.register('chores', p), /registered by chores and chores/);
  assert.throws(() => w.register('other', { ...p, id: 'chores.other' }), /must be "other.<thing>"/);
  assert.throws(() => w.register('chores', { ...p, id: 'chores.more', changes: { 'core.user.login': () => [] } }), /not its own event/);
});

test.run();
