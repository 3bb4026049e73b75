// The isolation kit over every route and fragment with messaging (and files, so a thread about a
// File is covered): A's people acting on B's workspace, B's threads, messages, attachments or B's
// file as a subject get 404 and change nothing; B's canary (thread titles, message bodies, an
// edited message's old body, an internal note, an attachment's name, the file's name) never
// reaches A. And over the live stream: a client of B never receives an event about A's thread.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { FILES_GET_WRITES, FILES_VOLATILE, seedFiles } from '../files/seed.ts';
import { PNG } from '../files/helpers.ts';
import { depsOfKernel, seedEdit, seedPost, seedThread, openSseLog, cookieOf } from './support.ts';
import { messagingWorld, type World } from './helpers.ts';
import { threadEvent, UNREAD_EVENT } from '../../../plugins/messaging/service.ts';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../../core/identity/users.ts';

const test = suite('messaging isolation');

async function seed(ctx: SeedContext) {
  const { kernel: k, workspace, canary, users } = ctx;
  const files = await seedFiles(ctx);
  const deps = depsOfKernel(k);
  const general = await seedThread(deps, { workspaceId: workspace.id, kind: 'general', key: 'general', title: 'General', by: users.client_admin });
  const topic = await seedThread(deps, { workspaceId: workspace.id, kind: 'topic', key: `topic:${workspace.id}`, title: `Launch ${canary}`, by: users.client_member });
  const fileRow = await k.db('files_files').where({ id: files.fileId }).first('name');
  const onFile = await seedThread(deps, { workspaceId: workspace.id, kind: 'subject', key: `subject:File:${files.fileId}`, title: String(fileRow.name), subjectType: 'File', subjectId: files.fileId, by: users.staff });
  await seedPost(deps, general, { by: users.client_admin, firm: false, body: `Hello ${canary}` });
  const reply = await seedPost(deps, general, { by: users.staff, firm: true, body: `Answer ${canary}`, file: { name: `logo ${canary}.png`, data: PNG, contentType: 'image/png' } });
  await seedPost(deps, general, { by: users.staff, firm: true, body: `Internal ${canary}`, internal: true });
  const mine = await seedPost(deps, topic, { by: users.client_member, firm: false, body: `First draft ${canary}` });
  await seedEdit(deps, topic, { id: mine.id, by: users.client_member, oldBody: `First draft ${canary}`, body: `Second draft ${canary}` });
  await seedPost(deps, onFile, { by: users.client_admin, firm: false, body: `About the file ${canary}` });
  return {
    ...files.values,
    threadId: general.id,
    messageId: mine.id,
    attachmentId: reply.attachmentId!,
    subjectType: 'File',
    subjectId: files.fileId,
  };
}

test('every route x method x role with messaging and files: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['files', 'messaging'],
    seed,
    // The batched-mail job ticks every 15 s by default and claims its period in job_runs; the kit
    // runs longer than that, and a background tick between two fingerprints is not a request's write.
    overrides: { plugins: { settings: { messaging: { jobIntervalSeconds: 3600 } } } },
    // messaging_reads: opening a thread (page, fragment, a subject's discussion) moves the
    // reader's own read mark, which is a marker of what they have seen, not business data.
    volatileTables: [...FILES_VOLATILE, 'messaging_reads'],
    getWrites: FILES_GET_WRITES,
    globalTables: {
      // SQLite only (PostgreSQL uses a generated tsvector column on messaging_messages instead).
      messaging_fts: 'SQLite FTS5 index of message bodies: a virtual table cannot carry NOT NULL; its workspace_id is an unindexed column and every search joins back to messaging_messages through the workspace scope and the rules',
      messaging_fts_data: 'FTS5 shadow table of messaging_fts (index b-tree pages), managed by SQLite',
      messaging_fts_idx: 'FTS5 shadow table of messaging_fts (segment index), managed by SQLite',
      messaging_fts_content: 'FTS5 shadow table of messaging_fts (its column values), managed by SQLite',
      messaging_fts_docsize: 'FTS5 shadow table of messaging_fts (token counts), managed by SQLite',
      messaging_fts_config: 'FTS5 shadow table of messaging_fts (configuration), managed by SQLite',
    },
  });
  const mine = report.routes.filter((r) => r.path.includes('/messaging'));
  assert.ok(mine.length >= 20, `${mine.length} messaging routes enumerated: ${mine.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  for (const p of [':threadId', ':messageId', ':attachmentId', ':subjectType/:subjectId']) assert.ok(mine.some((r) => r.path.includes(p)), `a route with ${p}`);
  assert.equal(report.violations, []);
});

let w: World;

test('over the live stream: a client of B never receives an event about A’s thread; A’s client does', async () => {
  w = await messagingWorld({ slug: 'alpha' });
  const k = w.app.kernel;
  // Workspace B with one client, signed in, with an open stream.
  const bClient = await transaction(k.db, async (trx) => {
    const ws = await createWorkspace(k, trx, { name: 'Bravo Ltd', slug: 'bravo' }, { actorId: null, via: 'cli' });
    const u = await createUser(k, trx, { email: 'client@bravo.example', name: 'Bravo Client', passwordHash: await k.passwords.hash(w.password), firmRole: null }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: ws.id, userId: u.id, role: 'client_admin' }, { actorId: null, via: 'cli' });
    return u.id;
  });
  const b = w.app.client();
  assert.is((await b.login('client@bravo.example', w.password)).status, 303);
  const bStream = await openSseLog(`${w.app.url}/live`, cookieOf(b.cookies));
  const aStream = await openSseLog(`${w.app.url}/live`, cookieOf(w.as.member.cookies));
  assert.is(bStream.status, 200);
  assert.is(aStream.status, 200);
  try {
    const base = `/w/${w.ws.slug}/messaging`;
    await w.as.staff.get(`${base}/general`);
    const res = await w.as.staff.postForm(`${base}/general`, { body: 'For Alpha only' });
    assert.is(res.status, 303);
    const thread = await k.db('messaging_threads').where({ workspace_id: w.ws.id, key: 'general' }).first('id');
    // A's member hears the thread and the unread count.
    await aStream.until(threadEvent(thread.id));
    await aStream.until(UNREAD_EVENT);
    // B's client: a sentinel published after the post arrives, and nothing of messaging before it.
    await k.live.publish(bClient, 'sentinel', 'done');
    await bStream.until('sentinel');
    assert.equal(bStream.events.filter((e) => e.event.startsWith('messaging')), [], JSON.stringify(bStream.events));
  } finally {
    aStream.close();
    bStream.close();
  }
});

test.after(async () => {
  await w?.app.close();
});

test.run();
