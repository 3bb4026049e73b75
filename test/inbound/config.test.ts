// Reply by email is off unless configured: no listener, no reply address (a plugin then sends
// its mail without a Reply-To). With `inbound.listen: false` a process issues reply addresses
// but leaves listening to another process.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from '../helpers/app.ts';
import { transaction } from '../../core/db/index.ts';
import { createWorkspace } from '../../core/identity/users.ts';
import { Tokens } from '../../core/container.ts';
import { connect } from 'node:net';

const test = suite('inbound config');

async function address(app: TestApp): Promise<string | undefined> {
  await setupOwner(app);
  const owner = await app.kernel.db('users').where({ email: 'owner@harbor.example' }).first('id');
  return transaction(app.kernel.db, async (trx) => {
    const ws = await createWorkspace(app.kernel, trx, { name: 'Acme' }, { actorId: null });
    return app.kernel.container.resolve(Tokens.Inbound).replyAddress(trx, { plugin: 'messaging', purpose: 'thread', userId: owner.id, workspaceId: ws.id, subjectId: 't1' });
  });
}

test('off by default: not enabled, no listener, no reply address and no row', async () => {
  const app = await startApp();
  try {
    assert.is(app.kernel.inbound.enabled, false);
    assert.is(app.kernel.inbound.listening, undefined);
    assert.is(await address(app), undefined);
    assert.is(Number((await app.kernel.db('inbound_tokens').count({ n: '*' }).first())!.n), 0);
  } finally {
    await app.close();
  }
});

test('enabled with listen false: reply addresses are issued, no port is opened', async () => {
  const app = await startApp({ overrides: { inbound: { enabled: true, listen: false, port: 0, domain: 'Reply.Harbor.example' } } });
  try {
    assert.is(app.kernel.inbound.enabled, true);
    assert.is(app.kernel.inbound.listening, undefined);
    assert.match((await address(app)) ?? '', /^reply\+[a-z2-7]{52}@reply\.harbor\.example$/);
  } finally {
    await app.close();
  }
});

test('the listener starts with the app and is gone after shutdown', async () => {
  const app = await startApp({ overrides: { inbound: { enabled: true, port: 0, domain: 'reply.harbor.example' } } });
  const { host, port } = app.kernel.inbound.listening!;
  const greeting = await new Promise<string>((resolve, reject) => {
    const s = connect(port, host);
    s.once('data', (d) => {
      resolve(String(d));
      s.end('QUIT\r\n');
    });
    s.once('error', reject);
  });
  assert.match(greeting, /^220 reply\.harbor\.example/);
  await app.close();
  const refused = await new Promise<string>((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
  });
  assert.is(refused, 'ECONNREFUSED');
});

test('a reply address needs a plugin id, a purpose, a subject and a positive lifetime', async () => {
  const app = await startApp({ overrides: { inbound: { enabled: true, listen: false, domain: 'reply.harbor.example' } } });
  try {
    await setupOwner(app);
    const owner = await app.kernel.db('users').where({ email: 'owner@harbor.example' }).first('id');
    for (const bad of [{ plugin: 'Bad Id' }, { purpose: '' }, { subjectId: '' }, { ttlMs: 0 }, { ttlMs: -5 }]) {
      const err = await transaction(app.kernel.db, async (trx) => {
        const ws = await createWorkspace(app.kernel, trx, { name: 'Acme' }, { actorId: null });
        return app.kernel.inbound.replyAddress(trx, { plugin: 'messaging', purpose: 'thread', userId: owner.id, workspaceId: ws.id, subjectId: 't1', ...bad });
      }).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      assert.is(err?.code, 'ATR_INBOUND_GRANT', JSON.stringify(bad));
    }
  } finally {
    await app.close();
  }
});

test.run();
