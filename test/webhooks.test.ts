// Raw-body plugin routes (core/http/webhooks.ts, `/hooks/<plugin>/...`), with a test plugin
// (test/fixtures/plugins/echo-hooks): the handler gets the exact bytes sent as a Buffer, whatever the
// content type; no session and no CSRF token are needed or read; a body over 1 MiB is refused
// with 413 before the handler runs; each IP is limited; an unknown path under a plugin's prefix is
// 404; and ordinary routes still parse their forms and still demand their CSRF token.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { transaction } from '../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import { routeTable } from '../core/http/route-table.ts';
import { WEBHOOK_BODY_LIMIT, WEBHOOK_LIMIT } from '../core/http/webhooks.ts';
import { fixturePlugin, setupOwner, startApp, type TestApp } from './helpers/app.ts';
import type { HttpClient } from './helpers/http.ts';
import { received } from './fixtures/plugins/echo-hooks/index.ts';

const test = suite('raw-body plugin routes');
let app: TestApp;
let member: HttpClient;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const post = (body: Buffer | string, headers: Record<string, string> = {}) => fetch(`${app.url}/hooks/echo-hooks/echo`, { method: 'POST', body, headers });

test.before(async () => {
  app = await startApp({ plugins: [fixturePlugin('echo-hooks')] });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash('hooks-test-password-123');
  await transaction(k.db, async (trx) => {
    const w = await createWorkspace(k, trx, { name: 'Acme', slug: 'acme' }, { actorId: null, via: 'cli' });
    const u = await createUser(k, trx, { email: 'ada@acme.example', name: 'Ada', passwordHash: hash, firmRole: null }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: w.id, userId: u.id, role: 'client_member' }, { actorId: null, via: 'cli' });
  });
  member = app.client();
  assert.is((await member.login('ada@acme.example', 'hooks-test-password-123')).status, 303);
  await member.get('/w/acme/');
});
test.after(async () => {
  await app.close();
});

test('the handler gets the exact bytes, whatever the content type, with no session and no CSRF token', async () => {
  const bodies: Array<[Buffer, string]> = [
    [Buffer.from('{ "id":"evt_1",  "amount": 1e2,\n"x":"\\u00e9"}\r\n'), 'application/json'],
    [Buffer.from('name=Ada&name=Bob&_csrf=nothing%20here'), 'application/x-www-form-urlencoded'],
    [Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), randomBytes(4096)]), 'application/octet-stream'],
    [Buffer.from('text with no type'), ''],
  ];
  for (const [body, type] of bodies) {
    const before = received.length;
    const res = await post(body, type ? { 'content-type': type } : {});
    assert.is(res.status, 200, type);
    const json = (await res.json()) as { isBuffer: boolean; length: number; sha256: string; signedIn: boolean };
    assert.ok(json.isBuffer, `a Buffer for ${type || 'no type'}`);
    assert.is(json.length, body.length);
    assert.is(json.sha256, sha(body));
    assert.ok(received[before]!.equals(body), 'byte for byte');
    assert.is(res.headers.get('cache-control'), 'no-store');
  }
  // Even with a signed-in person's cookie, the route sees no session (and needs no CSRF token).
  const withCookie = await member.request('POST', '/hooks/echo-hooks/echo', { body: 'x', headers: { 'content-type': 'text/plain' } });
  assert.is(withCookie.status, 200);
  assert.is(JSON.parse(withCookie.text).signedIn, false);
  // An empty body is an empty Buffer.
  const empty = (await (await post('')).json()) as { isBuffer: boolean; length: number };
  assert.equal([empty.isBuffer, empty.length], [true, 0]);
});

test('a body of exactly 1 MiB is read; one byte more is refused with 413 before the handler runs', async () => {
  const max = randomBytes(WEBHOOK_BODY_LIMIT);
  const ok = await post(max, { 'content-type': 'application/json' });
  assert.is(ok.status, 200);
  assert.is(((await ok.json()) as { sha256: string }).sha256, sha(max));
  const before = received.length;
  const big = await post(Buffer.concat([max, Buffer.from('x')]), { 'content-type': 'application/json' });
  assert.is(big.status, 413);
  await big.text();
  assert.is(received.length, before, 'the handler never ran');
});

test('an unknown path under a plugin prefix is 404 and never reaches the session pipeline', async () => {
  const res = await fetch(`${app.url}/hooks/echo-hooks/nothing`, { method: 'POST', body: 'x' });
  assert.is(res.status, 404);
  assert.is(res.headers.getSetCookie().length, 0, 'no anonymous session was created');
  assert.is((await fetch(`${app.url}/hooks/nobody/echo`, { method: 'POST', body: 'x' })).status, 403, 'no plugin of that id: an ordinary unsafe request without a CSRF token');
});

test('ordinary routes still parse forms and still demand the CSRF token', async () => {
  const res = await member.postForm('/w/acme/echo-hooks/form', { name: 'Ada Lovelace' });
  assert.is(res.status, 200);
  assert.equal(JSON.parse(res.text), { name: 'Ada Lovelace' });
  const noToken = await member.postForm('/w/acme/echo-hooks/form', { name: 'x' }, { csrf: false });
  assert.is(noToken.status, 403);
});

test('the route table lists the raw-body route under /hooks/<plugin>', async () => {
  const routes = routeTable(app.kernel.app).map((r) => `${r.method} ${r.path}`);
  assert.ok(routes.includes('POST /hooks/echo-hooks/echo'), routes.filter((r) => r.includes('hooks')).join(', '));
});

test('each IP is limited: beyond the limit, 429 with Retry-After and the handler does not run', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < WEBHOOK_LIMIT.max; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, WEBHOOK_LIMIT.max - i) }, () => post('x').then(async (r) => (await r.arrayBuffer(), r.status))));
    statuses.push(...batch);
  }
  // Earlier tests already spent some of this minute's calls: the last ones are refused.
  assert.is(statuses.at(-1), 429);
  const before = received.length;
  const res = await post('x');
  assert.is(res.status, 429);
  assert.ok(Number(res.headers.get('retry-after')) >= 1);
  assert.is(received.length, before);
});

test.run();
