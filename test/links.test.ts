// Single-purpose links (core/links.ts): a plugin's `/l/<plugin>/:token` pages work without
// signing in, for one purpose and one subject in one workspace; the kernel refuses every other
// token with the same 404 before the plugin's handlers run.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE, setupOwner, startApp, type TestApp } from './helpers/app.ts';
import { ManualClock } from '../core/clock.ts';
import { transaction } from '../core/db/index.ts';
import { createWorkspace } from '../core/identity/users.ts';
import { newId, sha256Hex } from '../core/ids.ts';
import { redactPath } from '../core/http/security.ts';

const test = suite('links');
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9));
let app: TestApp;
let ws: { id: string; slug: string };
let noteId: string;

const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);
const issue = (over: Partial<{ plugin: string; ttlMs: number; subjectId: string }> = {}) =>
  transaction(app.kernel.db, (trx) => app.kernel.links.issue(trx, { plugin: over.plugin ?? 'fixture', purpose: 'read', workspaceId: ws.id, userId: null, subjectId: over.subjectId ?? noteId, ttlMs: over.ttlMs ?? 3_600_000 }));

test.before(async () => {
  app = await startApp({ plugins: [FIXTURE], clock });
  await setupOwner(app);
  ws = await transaction(app.kernel.db, (trx) => createWorkspace(app.kernel, trx, { name: 'Linked Ltd', slug: 'linked' }, { actorId: null, via: 'cli' }));
  noteId = newId();
  await app.kernel.db('fixture_notes').insert({ id: noteId, workspace_id: ws.id, body: 'the linked note', area: 'shared', created_at: clock.now() });
});
test.after(() => app.close());

test('a link opens its page without signing in; the URL is absolute and only its hash is stored', async () => {
  const url = await issue();
  assert.ok(url.startsWith(`${app.kernel.config.baseUrl}/l/fixture/`));
  const token = tokenOf(url);
  assert.equal(token.length, 43); // 256 bits, base64url
  const row = await app.kernel.db('links').where({ token_hash: sha256Hex(token) }).first();
  assert.ok(row, 'stored by its SHA-256');
  assert.not.ok(JSON.stringify(await app.kernel.db('links').select('*')).includes(token), 'the token itself is stored nowhere');
  const res = await app.client().get(`/l/fixture/${token}`);
  assert.equal(res.status, 200);
  assert.match(res.text, 'the linked note');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.match(res.headers.get('cache-control') ?? '', 'no-store');
});

test('POST acts once: the link is consumed, and a second use (or a later GET) is 404', async () => {
  const token = tokenOf(await issue());
  const c = app.client();
  await c.get(`/l/fixture/${token}`); // the page carries the CSRF token of an anonymous session
  const first = await c.postForm(`/l/fixture/${token}`, {});
  assert.equal(first.status, 200);
  assert.equal(first.text, 'acknowledged');
  const audit = await app.kernel.db('audit_events').where({ action: 'fixture.note.acknowledge', workspace_id: ws.id });
  assert.equal(audit.length, 1);
  assert.equal((await c.postForm(`/l/fixture/${token}`, {})).status, 404);
  assert.equal((await c.get(`/l/fixture/${token}`)).status, 404);
});

test('a POST without the page\'s CSRF token is refused and consumes nothing', async () => {
  const token = tokenOf(await issue());
  const res = await app.client().request('POST', `/l/fixture/${token}`, { body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(res.status, 403);
  assert.equal((await app.kernel.db('links').where({ token_hash: sha256Hex(token) }).first('used_at')).used_at, null);
});

test('expired, revoked, another plugin\'s, malformed and unknown tokens all get the same 404', async () => {
  const c = app.client();
  const expired = tokenOf(await issue({ ttlMs: 60_000 }));
  clock.advance(61_000);
  const revoked = tokenOf(await issue());
  await transaction(app.kernel.db, (trx) => app.kernel.links.revoke(trx, { plugin: 'fixture', subjectId: noteId }));
  const other = tokenOf(await issue({ plugin: 'approvals' }));
  const live = tokenOf(await issue());
  const pages = await Promise.all([expired, revoked, other, 'short', 'A'.repeat(43)].map((t) => c.get(`/l/fixture/${t}`)));
  for (const p of pages) assert.equal(p.status, 404);
  const texts = new Set(pages.map((p) => p.text.replace(/content="[^"]+"|nonce="[^"]+"|value="[^"]+"|Request id[^<]*|[0-9a-f-]{36}/g, '')));
  assert.equal(texts.size, 1, 'one uniform page');
  assert.equal((await c.get(`/l/fixture/${live}`)).status, 200);
});

test('a link of an archived workspace stops working', async () => {
  const token = tokenOf(await issue());
  await app.kernel.db('workspaces').where({ id: ws.id }).update({ archived: true });
  try {
    assert.equal((await app.client().get(`/l/fixture/${token}`)).status, 404);
  } finally {
    await app.kernel.db('workspaces').where({ id: ws.id }).update({ archived: false });
  }
  assert.equal((await app.client().get(`/l/fixture/${token}`)).status, 200);
});

test('request logs never carry the token', () => {
  assert.equal(redactPath('/l/approvals/AbC_-123/decide'), '/l/approvals/[token]/decide');
  assert.equal(redactPath('/l/signatures/AbC_-123'), '/l/signatures/[token]');
});

test('housekeeping deletes links long expired', async () => {
  const token = tokenOf(await issue({ ttlMs: 1000 }));
  clock.advance(31 * 24 * 3_600_000);
  const n = await app.kernel.links.sweep();
  assert.ok(n >= 1);
  assert.equal(await app.kernel.db('links').where({ token_hash: sha256Hex(token) }).first(), undefined);
});

test.run();
