// Probes, logs and error pages.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApp, setupOwner, FIXTURE, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';

const test = suite('ops');
let app: TestApp;
const lines: string[] = [];

test.before(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  app = await startApp({ logger: pino({ level: 'info' }, sink) });
});
test.after(async () => {
  await app.close();
});

test('/healthz answers while the process is alive', async () => {
  const res = await fetch(`${app.url}/healthz`);
  assert.is(res.status, 200);
  assert.equal(await res.json(), { status: 'ok' });
});

test('/readyz is 200 when the database answers and is migrated, 503 when a migration is pending', async () => {
  let res = await fetch(`${app.url}/readyz`);
  assert.is(res.status, 200);
  assert.equal(await res.json(), { status: 'ready' });
  const row = await app.kernel.db('knex_migrations__core').first();
  await app.kernel.db('knex_migrations__core').where({ id: row.id }).delete();
  res = await fetch(`${app.url}/readyz`);
  assert.is(res.status, 503);
  const body = (await res.json()) as { reason: string; plugins: string[] };
  assert.is(body.reason, 'pending migrations');
  assert.equal(body.plugins, ['core']);
  await app.kernel.db('knex_migrations__core').insert(row);
  assert.is((await fetch(`${app.url}/readyz`)).status, 200);
});

test('an unknown page gets the themed 404 with a request id and no stack', async () => {
  const res = await fetch(`${app.url}/no/such/page`);
  assert.is(res.status, 404);
  const html = await res.text();
  assert.match(html, 'Page not found');
  assert.match(html, '<!doctype html>');
  const id = res.headers.get('x-request-id');
  assert.ok(id);
  assert.match(html, id!);
  assert.not.match(html, 'node_modules');
});

test('a malformed body gets a 400 page, not a crash or a stack', async () => {
  const c = app.client();
  await c.get('/setup');
  const res = await c.request('POST', '/setup', { body: '{"firmName":', headers: { 'content-type': 'application/json', 'x-csrf-token': c.csrf! } });
  assert.is(res.status, 400);
  assert.not.match(res.text, 'SyntaxError');
  assert.is((await fetch(`${app.url}/healthz`)).status, 200);
});

test('every request is logged as JSON with a request id; passwords and session ids never appear', async () => {
  const { client, password } = await setupOwner(app);
  await client.get('/staff/');
  const sid = client.sessionCookie()!;
  await new Promise((r) => setTimeout(r, 20));
  const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
  assert.ok(requests.length > 3);
  for (const r of requests) {
    assert.type(r.reqId, 'string');
    assert.type(r.status, 'number');
  }
  const all = lines.join('\n');
  assert.not.match(all, password);
  assert.not.match(all, sid);
  assert.not.match(all, client.csrf ?? 'no-token');
});

test("a plugin page's request log names the full path (the workspace too), never the query string", async () => {
  const mine: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      mine.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const plugged = await startApp({ plugins: [FIXTURE], logger: pino({ level: 'info' }, sink) });
  try {
    const { client } = await setupOwner(plugged);
    await seedDemo(plugged.kernel, { actorId: null });
    assert.is((await client.get('/w/northwind/fixture/?access_token=SECRET-IN-QUERY')).status, 200);
    assert.is((await client.get('/staff/fixture/notes/no-such-note')).status, 404);
    await new Promise((r) => setTimeout(r, 20));
    const paths = mine.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request').map((l) => l.path);
    assert.ok(paths.includes('/w/northwind/fixture/'), `logged: ${paths.join(' ')}`);
    assert.ok(paths.includes('/staff/fixture/notes/no-such-note'));
    assert.not.ok(paths.includes('/'), 'no plugin-relative path');
    assert.not.match(mine.join('\n'), 'SECRET-IN-QUERY');
  } finally {
    await plugged.close();
  }
});

test('without a baseUrl, links follow the port the server listens on (PORT=0 picks one)', async () => {
  const own = await startApp({ overrides: { baseUrl: '' } });
  try {
    assert.is(own.kernel.config.baseUrl, `http://localhost:${new URL(own.url).port}`);
  } finally {
    await own.close();
  }
});

test('security headers on every page: CSP with nonce, nosniff, no framing, referrer policy', async () => {
  for (const path of ['/login', '/no/such/page', '/healthz']) {
    const res = await fetch(`${app.url}${path}`);
    assert.is(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.is(res.headers.get('x-frame-options'), 'DENY', path);
    assert.match(res.headers.get('content-security-policy') ?? '', "frame-ancestors 'none'", path);
    assert.ok(res.headers.get('referrer-policy'), path);
    assert.is(res.headers.get('x-powered-by'), null, path);
  }
});

test.run();
