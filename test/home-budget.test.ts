// The workspace home's query budget (docs/performance.md, "Waiting on you"): with every built-in
// plugin, a client's home is the session (with the notice and "waiting on you" counts), one query
// per card (the waiting card is one per provider: approvals, signatures), and the switcher. The
// header's waiting count adds none while it is fresh; any other page gets it with the session.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../core/clock.ts';
import { transaction } from '../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import { ON_PG, setupOwner, startApp, type TestApp } from './helpers/app.ts';
import { cacheOf } from '../core/cache.ts';
import type { HttpClient } from './helpers/http.ts';

const test = suite(`the workspace home's query budget (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
let app: TestApp;
let client: HttpClient;

test.before(async () => {
  // A clock that stands still: no session touch, no custom-role reload in the measured request.
  app = await startApp({ plugins: ['team', 'files', 'approvals', 'signatures', 'messaging'], clock: new ManualClock(Date.parse('2026-12-07T09:00:00.000Z')) });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash('budget-test-password-1');
  await transaction(k.db, async (trx) => {
    const actor = { actorId: null, via: 'cli' as const };
    const a = await createWorkspace(k, trx, { name: 'Acme Ltd', slug: 'acme' }, actor);
    const b = await createWorkspace(k, trx, { name: 'Bolt Ltd', slug: 'bolt' }, actor);
    const u = await createUser(k, trx, { email: 'mo@acme.example', name: 'Mo Member', passwordHash: hash, firmRole: null }, actor);
    await addMember(k, trx, { workspaceId: a.id, userId: u.id, role: 'client_member' }, actor);
    await addMember(k, trx, { workspaceId: b.id, userId: u.id, role: 'client_member' }, actor);
  });
  client = app.client();
  assert.is((await client.login('mo@acme.example', 'budget-test-password-1')).status, 303);
  await client.get('/w/acme/'); // the first page stores the person's count and their last workspace
  await client.get('/w/acme/');
});
test.after(async () => {
  await app.close();
});

async function queriesOf(path: string, mode: 'cold' | 'warm' = 'cold'): Promise<string[]> {
  // Cold: the kernel's cache off (a first visit, or right after a write the page depends on).
  const cache = cacheOf(app.kernel.db)!;
  cache.enabled = mode === 'warm';
  const seen: string[] = [];
  // The mail relay's and the job runner's own polls run in the background: not the page's.
  const spy = (q: { sql: string }) => (/[`"](outbox|job_runs)[`"]/.test(q.sql) ? undefined : seen.push(q.sql));
  app.kernel.db.on('query', spy);
  try {
    const res = await client.get(path);
    assert.is(res.status, 200, path);
  } finally {
    app.kernel.db.removeListener('query', spy);
    cache.enabled = true;
  }
  return seen;
}

test('a client home: session, one query per card (the waiting card one per provider), the switcher', async () => {
  const label = (sql: string[]) => sql.map((s) =>
    s.includes('from "sessions"') || s.includes('from `sessions`')
      ? 'session'
      : s.includes('messaging_threads')
        ? 'messaging card'
      : s.includes('approvals_requests')
        ? 'waiting: approvals'
        : s.includes('signatures_signers')
          ? 'waiting: signatures'
          : s.includes('files_files')
            ? 'files card'
            : s.includes('memberships') && s.includes('workspaces')
              ? 'switcher'
              : s.includes('memberships')
                ? 'team card'
                : s,
  );
  const sql = await queriesOf('/w/acme/');
  assert.equal(label(sql).sort(), ['files card', 'messaging card', 'session', 'switcher', 'team card', 'waiting: approvals', 'waiting: signatures'], sql.join('\n'));
  // Warm, the session, the switcher and every card's data come from the kernel's cache.
  await client.get('/w/acme/');
  const warm = await queriesOf('/w/acme/', 'warm');
  assert.equal(label(warm), [], warm.join('\n'));
  // The first visit to the file list sets the person's visit mark (a change: the cards reload);
  // opening it again moves nothing (no delivery since), its upsert changes no row, and the
  // workspace's cards stay cached.
  assert.is((await client.get('/w/acme/files/')).status, 200);
  await client.get('/w/acme/');
  assert.is((await client.get('/w/acme/files/')).status, 200);
  const after = await queriesOf('/w/acme/', 'warm');
  assert.equal(label(after), [], after.join('\n'));
});

test('any other page: the waiting count comes with the session, no query of its own', async () => {
  const sql = await queriesOf('/account');
  assert.not.ok(sql.some((s) => s.includes('waiting_counts') && !/join [`"]?waiting_counts/.test(s)), sql.join('\n'));
  assert.not.ok(sql.some((s) => s.includes('approvals_requests') || s.includes('signatures_signers')), sql.join('\n'));
});

test('the menu\'s unread-messages badge is fetched after the page: no page pays a query for it', async () => {
  const sql = await queriesOf('/w/acme/files/');
  assert.not.ok(sql.some((s) => s.includes('messaging_')), sql.join('\n'));
  const page = await client.get('/w/acme/files/');
  assert.match(page.text, 'hx-get="/w/acme/messaging/unread"');
  const badge = await queriesOf('/w/acme/messaging/unread');
  assert.is(badge.filter((s) => s.includes('messaging_messages')).length, 1, badge.join('\n'));
});

test.run();
