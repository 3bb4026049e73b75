// Demo data with the built-in plugins (core/demo.ts and each plugin's `demo` hook): /setup's "Load
// demo data" opens on a portal in use — files, an approval waiting on Ada and one she approved, a
// document for her to sign, activity, mail in the outbox — written by the plugins' own services.
// Running it again changes nothing; a plugin enabled since adds its own part only; a `northwind`
// workspace the demo did not create is never touched.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, freshDatabase, ON_PG, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { transaction } from '../core/db/index.ts';
import { createWorkspace } from '../core/identity/users.ts';
import type { Db } from '../core/db/index.ts';

const test = suite('demo');
const ALL = ['team', 'files', 'approvals', 'signatures', 'invoices'];
// Previews off: they render after commit, and their rows would move the counts compared below.
const NO_PREVIEWS = { plugins: { settings: { files: { previewMaxBytes: 0 } } } };
let app: TestApp;
let password = '';

/** Tables that change by themselves (periodic jobs, sign-ins, cached counts), not by seeding. */
const MOVING = new Set(['job_runs', 'sessions', 'throttle', 'waiting_counts']);

async function rowCounts(db: Db): Promise<Record<string, number>> {
  const names = ON_PG
    ? ((await db.raw('select table_name as name from information_schema.tables where table_schema = current_schema()')) as { rows: Array<{ name: string }> }).rows.map((r) => r.name)
    : ((await db.raw("select name from sqlite_master where type = 'table'")) as Array<{ name: string }>).map((r) => r.name);
  const counts: Record<string, number> = {};
  for (const t of names.filter((n) => !n.startsWith('knex_') && !n.startsWith('sqlite_') && !MOVING.has(n)).sort()) {
    counts[t] = Number(((await db(t).count({ n: '*' }).first()) as { n: number | string }).n);
  }
  return counts;
}

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

async function signIn(email: string) {
  const c = app.client();
  const res = await c.login(email, password);
  assert.is(res.status, 303, `${email} signs in`);
  return c;
}

test.before(async () => {
  app = await startApp({ plugins: ALL, overrides: NO_PREVIEWS });
  const { client } = await setupOwner(app, { demo: true });
  const flash = text((await client.get('/staff/')).text);
  password = /use the password (\S+) /.exec(flash)?.[1] ?? '';
  assert.ok(password, 'the demo password is shown once after /setup');
});
test.after(async () => {
  await app.close();
});

test('/setup loads every plugin\'s demo: files, approvals, a document out for signature', async () => {
  const db = app.kernel.db;
  const northwind = (await db('workspaces').where({ slug: 'northwind' }).first('id')).id;
  const files = (await db('files_files').where({ workspace_id: northwind }).select('name', 'area')) as Array<{ name: string; area: string }>;
  assert.ok(files.length >= 6, 'several files');
  assert.ok(files.some((f) => f.name.endsWith('.png')), 'a picture');
  assert.ok(files.some((f) => f.area === 'internal'), 'and something internal to the firm');
  assert.ok(Number(((await db('files_versions').where({ workspace_id: northwind }).count({ n: '*' }).first()) as { n: string }).n) > files.length, 'a file has a second version');
  assert.is(Number(((await db('storage_blobs').count({ n: '*' }).first()) as { n: string }).n) >= files.length, true, 'bytes in the encrypted storage');
  const requests = (await db('approvals_requests').where({ workspace_id: northwind }).select('status')) as Array<{ status: string }>;
  assert.equal(requests.map((r) => r.status).sort(), ['approved', 'pending']);
  const envelope = await db('signatures_envelopes').where({ workspace_id: northwind, status: 'sent' }).first('id');
  assert.ok(envelope, 'an envelope out for signature');
  const ada = (await db('users').where({ email: 'ada@northwind.example' }).first('id')).id;
  const current = await db('signatures_signers').where({ envelope_id: envelope.id, status: 'pending' }).first('user_id');
  assert.is(current.user_id, ada, 'Ada is the current signer');
  const mail = (await db('outbox').where({ to_address: 'ada@northwind.example' }).select('subject')) as Array<{ subject: string }>;
  assert.ok(mail.some((m) => /sign/i.test(m.subject)), 'her signing link waits in the outbox');
  assert.ok(mail.length >= 2, 'with the approval request and the deliverable notice');
  const marker = JSON.parse((await db('settings').where({ key: 'core.demo' }).first('value')).value) as { plugins: string[] };
  assert.equal([...marker.plugins].sort(), ['approvals', 'files', 'invoices', 'signatures']);
  const invoices = (await db('invoices_invoices').where({ workspace_id: northwind }).select('status', 'number')) as Array<{ status: string; number: string | null }>;
  assert.equal(invoices.map((i) => i.status).sort(), ['draft', 'issued', 'partially_paid'], 'a retainer to pay, a project partly paid, a draft');
  assert.ok(invoices.some((i) => /^INV-\d{4}-0001$/.test(String(i.number))));
});

test('running it again changes nothing', async () => {
  const before = await rowCounts(app.kernel.db);
  const again = await seedDemo(app.kernel, { actorId: null, ip: null, userAgent: 'test' });
  assert.is(again.created, false);
  assert.equal(again.plugins, []);
  assert.is(again.password, undefined, 'no new password is made or shown');
  assert.equal(await rowCounts(app.kernel.db), before);
});

test('Ada\'s home shows an approval waiting on her and a document to sign; so does her inbox', async () => {
  const c = await signIn('ada@northwind.example');
  const home = text((await c.get('/w/northwind/')).text);
  assert.match(home, 'Waiting on you');
  assert.match(home, 'Statement of work: website refresh');
  assert.match(home, 'Engagement letter 2026');
  assert.match(home, 'Brand guidelines 2026.pdf', 'the new deliverable');
  const inbox = text((await c.get('/inbox')).text);
  assert.match(inbox, 'Statement of work: website refresh');
  assert.match(inbox, 'Engagement letter 2026');
  assert.not.match(inbox, 'Quarterly review Q1 2026', 'not the request she already approved');
  assert.match(inbox, /Invoice INV-\d{4}-0001/, 'the retainer to pay');
});

test('the files list shows folders and files; the internal folder only to the firm', async () => {
  const ada = text((await (await signIn('ada@northwind.example')).get('/w/northwind/files/')).text);
  for (const name of ['Agreements', 'Reports', 'Brand guidelines 2026.pdf', 'Northwind logo.png']) assert.match(ada, name);
  assert.not.match(ada, 'Firm working papers');
  const ben = text((await (await signIn('ben@northwind.example')).get('/w/northwind/files/')).text);
  assert.match(ben, 'Brand guidelines 2026.pdf', 'a viewer sees the shared files too');
  const sam = text((await (await signIn('sam.staff@firm.example')).get('/w/northwind/files/')).text);
  assert.match(sam, 'Firm working papers');
  const cara = await signIn('cara@globex.example');
  const globex = text((await cara.get('/w/globex/files/')).text);
  assert.match(globex, 'Onboarding');
  assert.not.match(globex, 'Brand guidelines');
  assert.is((await cara.get('/w/northwind/files/')).status, 404);
});

test('a file page shows its versions and the client\'s download receipt; activity reads in sentences', async () => {
  const db = app.kernel.db;
  const file = await db('files_files').where({ name: 'Brand guidelines 2026.pdf' }).first('id');
  const sam = await signIn('sam.staff@firm.example');
  const page = text((await sam.get(`/w/northwind/files/f/${file.id}`)).text);
  assert.match(page, 'Ada Lindqvist', 'the receipt names who downloaded it');
  assert.equal((await db('files_versions').where({ file_id: file.id }).orderBy('number').select('number')).map((v: { number: number | string }) => Number(v.number)), [1, 2]);
  const activity = text((await (await signIn('ada@northwind.example')).get('/w/northwind/audit')).text);
  assert.match(activity, 'Sam Okafor uploaded Engagement letter 2026.pdf');
  assert.match(activity, 'Ada Lindqvist approved Quarterly review Q1 2026');
  assert.match(activity, 'Ada Lindqvist downloaded Brand guidelines 2026.pdf');
});

test('a plugin enabled after the demo adds its own demo data and nothing else', async () => {
  const db = await freshDatabase();
  const first = await startApp({ plugins: ['files'], overrides: NO_PREVIEWS, db });
  try {
    const r = await seedDemo(first.kernel, { actorId: null }, 'demo-password-for-tests');
    assert.ok(r.created);
    assert.equal(r.plugins, ['files']);
  } finally {
    await first.close();
  }
  const second = await startApp({ plugins: ['files', 'approvals'], overrides: NO_PREVIEWS, db });
  try {
    const files = await second.kernel.db('files_files').count({ n: '*' }).first();
    const r = await seedDemo(second.kernel, { actorId: null }, 'demo-password-for-tests');
    assert.is(r.created, false);
    assert.equal(r.plugins, ['approvals']);
    assert.equal(await second.kernel.db('files_files').count({ n: '*' }).first(), files, 'files seeds nothing twice');
    assert.is(Number(((await second.kernel.db('approvals_requests').count({ n: '*' }).first()) as { n: string }).n), 2);
  } finally {
    await second.close();
    await db.drop();
  }
});

test('a workspace called northwind that the demo did not create is never touched', async () => {
  const other = await startApp({ plugins: ['files'], overrides: NO_PREVIEWS });
  try {
    await transaction(other.kernel.db, (trx) => createWorkspace(other.kernel, trx, { name: 'Northwind (a real client)', slug: 'northwind' }, { actorId: null }));
    const r = await seedDemo(other.kernel, { actorId: null }, 'demo-password-for-tests');
    assert.is(r.created, false);
    assert.equal(r.plugins, []);
    assert.is(await other.kernel.db('users').where({ email: 'ada@northwind.example' }).first('id'), undefined);
    assert.is(Number(((await other.kernel.db('files_files').count({ n: '*' }).first()) as { n: string }).n), 0);
  } finally {
    await other.close();
  }
});

test.run();
