// The audit log in the browser: firm admins browse, filter, page and export the whole log; a
// client admin sees their own workspace's activity and never a trace of another workspace.
// Runs on SQLite, or PostgreSQL with DATABASE_URL.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from './helpers/app.ts';
import type { HttpClient } from './helpers/http.ts';
import { transaction } from '../core/db/index.ts';
import { seedDemo } from '../core/demo.ts';
import { addMember, createUser } from '../core/identity/users.ts';
import type { AuditEntry } from '../core/audit.ts';

const test = suite('audit log pages');
const PW = 'demo-password-for-tests';
const CANARY = 'CANARY-B-7f3a';
const FIRM_CANARY = 'CANARY-FIRM-91c2';
const A_ROWS = 1100; // more than one export batch (1000) and many pages (50)
let app: TestApp;
let owner: HttpClient;
let ids: { northwind: string; globex: string; ada: string; cara: string; bEventId: string };
const sql: string[] = [];

const db = () => app.kernel.db;
const count = async (q: ReturnType<ReturnType<typeof db>>) => Number((await q.count({ n: '*' }).first())!.n);

async function signIn(email: string, password = PW): Promise<HttpClient> {
  const c = app.client();
  const res = await c.login(email, password);
  assert.is(res.status, 303, `sign in ${email}`);
  return c;
}

async function record(entries: AuditEntry[]): Promise<void> {
  await transaction(db(), async (trx) => {
    for (const e of entries) await app.kernel.audit.record(trx, e);
  });
}

/** A small RFC 4180 reader: quoted cells, doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
    } else cell += ch;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

const times = (html: string) => [...html.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]!);
const hrefOf = (html: string, rel: 'next' | 'prev') => {
  const m = new RegExp(`<a href="([^"]+)" rel="${rel}"`).exec(html);
  return m ? m[1]!.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=') : null;
};

test.before(async () => {
  app = await startApp();
  owner = (await setupOwner(app)).client;
  assert.ok((await seedDemo(app.kernel, { actorId: null, ip: null, userAgent: 'test', via: 'demo' }, PW)).created);
  const ws = await db()('workspaces').select('id', 'slug');
  const users = await db()('users').select('id', 'email');
  const wid = (slug: string) => String(ws.find((w) => w.slug === slug)!.id);
  const uid = (email: string) => String(users.find((u) => u.email === email)!.id);
  ids = { northwind: wid('northwind'), globex: wid('globex'), ada: uid('ada@northwind.example'), cara: uid('cara@globex.example'), bEventId: '' };
  // A client member of Northwind, who may not read the log.
  const hash = await app.kernel.passwords.hash(PW);
  await transaction(db(), async (trx) => {
    const dan = await createUser(app.kernel, trx, { email: 'dan@northwind.example', name: 'Dan Member', passwordHash: hash, firmRole: null }, { actorId: null, ip: null, userAgent: 'test' });
    await addMember(app.kernel, trx, { workspaceId: ids.northwind, userId: dan.id, role: 'client_member' }, { actorId: null, ip: null, userAgent: 'test' });
  });
  // Workspace B's rows carry the canary in subject and detail; so do firm-wide rows.
  await record([
    { action: 'files.file.upload', actorId: ids.cara, workspaceId: ids.globex, subjectType: 'File', subjectId: `${CANARY}-subject`, ip: '198.51.100.66', userAgent: 'CanaryAgent/1.0', detail: { name: `${CANARY}-detail` } },
    { action: 'files.file.download', actorId: ids.cara, workspaceId: ids.globex, subjectType: 'File', subjectId: `${CANARY}-2`, ip: '198.51.100.66', detail: { note: CANARY } },
    { action: 'core.settings.update', actorId: null, subjectType: 'Settings', subjectId: FIRM_CANARY, detail: { canary: FIRM_CANARY } },
  ]);
  ids.bEventId = String((await db()('audit_events').where({ workspace_id: ids.globex }).orderBy('seq', 'desc').first('id'))!.id);
  // Workspace A: many rows, and some whose cells a spreadsheet would run as formulas.
  const many: AuditEntry[] = [];
  // About the workspace itself, which its client admin may read (an event about a subject they
  // may not read is never listed for them: test/plugins/files/activity.test.ts).
  for (let i = 0; i < A_ROWS; i++) many.push({ action: 'files.file.upload', actorId: ids.ada, workspaceId: ids.northwind, subjectType: 'Workspace', subjectId: ids.northwind, ip: '203.0.113.5', userAgent: 'Mozilla/5.0 Test', detail: { n: i } });
  await record(many);
  await record([
    { action: 'files.file.rename', actorId: ids.ada, workspaceId: ids.northwind, subjectType: '+cmd', subjectId: '=HYPERLINK("http://evil.example","x")', ip: '203.0.113.5', userAgent: '-2+3', detail: { to: '@SUM(1)' } },
    { action: 'files.file.rename', actorId: ids.ada, workspaceId: ids.northwind, subjectType: '@cmd', subjectId: '\tTAB', ip: '203.0.113.5', userAgent: '\rCR', detail: {} },
  ]);
  db().on('query', (q: { sql: string }) => sql.push(q.sql));
});
test.after(async () => {
  await app.close();
});
test.before.each(() => {
  sql.length = 0;
});

test('an owner sees the whole log newest first: time, person, workspace, action, subject and ip, in an accessible table', async () => {
  const res = await owner.get('/admin/audit');
  assert.is(res.status, 200);
  assert.match(res.text, '<h1 class="page-header-h">Audit log</h1>');
  assert.match(res.text, /<a href="\/admin\/audit" aria-current="page">Audit log<\/a>/, 'nav item, current');
  assert.match(res.text, '<caption');
  assert.match(res.text, '<th scope="col">Time (UTC)</th>');
  assert.match(res.text, '<th scope="col">Workspace</th>');
  assert.match(res.text, '<th scope="col" class="hide-narrow">IP address</th>');
  const t = times(res.text);
  assert.is(t.length, 50);
  assert.equal([...t].sort().reverse(), t, 'newest first');
  assert.match(res.text, 'Ada Lindqvist');
  assert.match(res.text, 'ada@northwind.example');
  assert.match(res.text, 'Northwind Traders');
  assert.match(res.text, '203.0.113.5');
  assert.match(res.text, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  for (const q of sql) assert.not.match(q, /\boffset\b/i, q);
});

test('admin filters: workspace, person, action prefix and UTC dates, each alone and together', async () => {
  const globex = await owner.get('/admin/audit?workspace=globex');
  assert.is(globex.status, 200);
  assert.match(globex.text, `${CANARY}-subject`);
  assert.not.match(globex.text, 'f-a-');
  assert.not.match(globex.text, FIRM_CANARY);
  assert.is(times(globex.text).length, await count(db()('audit_events').where({ workspace_id: ids.globex })));

  const cara = await owner.get('/admin/audit?actor=CARA%40globex.example');
  assert.is(times(cara.text).length, 2);

  const prefix = await owner.get('/admin/audit?action=files.file.re');
  assert.is(times(prefix.text).length, 2);
  assert.match(prefix.text, '>files.file.rename</code>');
  assert.not.match(prefix.text, '>files.file.upload</code>');
  // `_` and `%` are not wildcards, and the match is case-sensitive on both databases.
  assert.is(times((await owner.get('/admin/audit?action=files_file')).text).length, 0);
  assert.is(times((await owner.get('/admin/audit?action=FILES.')).text).length, 0);

  const today = new Date().toISOString().slice(0, 10);
  const both = await owner.get(`/admin/audit?workspace=northwind&actor=ada%40northwind.example&action=files.&from=${today}&to=${today}`);
  assert.is(both.status, 200);
  assert.is(times(both.text).length, 50);
  assert.not.match(both.text, CANARY);
  const future = await owner.get('/admin/audit?from=2099-01-01');
  assert.is(future.status, 200);
  assert.match(future.text, 'No events match these filters');
  assert.match((await owner.get('/admin/audit?to=2000-01-01')).text, 'No events match these filters');
  assert.match(future.text, 'value="2099-01-01"', 'the form keeps what was asked');
});

test('admin filters that cannot be used come back beside their fields with 400', async () => {
  const cases: Array<[string, string, string]> = [
    ['actor=nobody%40example.com', 'actor', 'No one has the email address'],
    ['workspace=no-such-place', 'workspace', 'No workspace has the address'],
    ['from=2026-02-30', 'from', 'That date does not exist'],
    ['from=27%2F11%2F2026', 'from', 'Use a date like'],
    ['from=2026-11-27&to=2026-11-01', 'to', 'The end date is before the start date'],
    ['action=core.session%25', 'action', 'Use letters, digits'],
  ];
  for (const [qs, field, message] of cases) {
    const res = await owner.get(`/admin/audit?${qs}`);
    assert.is(res.status, 400, qs);
    assert.match(res.text, `id="${field}-error"`, qs);
    assert.match(res.text, message, qs);
    assert.match(res.text, 'aria-invalid="true"', qs);
    assert.is(times(res.text).length, 0, qs);
  }
  assert.is((await owner.get('/admin/audit?page=2')).status, 400, 'unknown keys are refused');
  assert.is((await owner.get('/admin/audit?before=0')).status, 400);
  assert.is((await owner.get('/admin/audit?action=a&action=b')).status, 400, 'a repeated key is refused');
});

test('keyset pages: older and newer links, no overlap, no OFFSET, plain links that htmx upgrades', async () => {
  const first = await owner.get('/admin/audit?workspace=northwind');
  const older = hrefOf(first.text, 'next');
  assert.ok(older);
  assert.match(older!, /^\/admin\/audit\?workspace=northwind&before=\d+$/);
  assert.match(first.text, /<a href="[^"]+" rel="next" hx-get="[^"]+" hx-target="#audit-results" hx-push-url="true">Older events <svg[^>]*>.*?<\/svg><\/a>/s);
  assert.is(hrefOf(first.text, 'prev'), null, 'no newer page on the first one');
  const second = await owner.get(older!);
  assert.is(second.status, 200);
  const t1 = times(first.text);
  const t2 = times(second.text);
  assert.is(t2.length, 50);
  assert.ok(t2[0]! <= t1.at(-1)!, 'the second page is older');
  const subjects = (html: string) => [...html.matchAll(/f-a-(\d+)/g)].map((m) => Number(m[1]));
  const s1 = subjects(first.text);
  const s2 = subjects(second.text);
  assert.ok(Math.min(...s1) > Math.max(...s2), 'no row on both pages');
  const newer = hrefOf(second.text, 'prev');
  assert.ok(newer);
  assert.match(second.text, 'Newest events');
  const back = await owner.get(newer!);
  assert.equal(subjects(back.text), s1, 'newer from page two is page one again');
  for (const q of sql) assert.not.match(q, /\boffset\b/i, q);
});

test('htmx: the form swaps only the results and pushes the URL; fragments carry no layout', async () => {
  const page = await owner.get('/admin/audit');
  assert.match(page.text, /<form id="audit-filters" class="form" method="get" action="\/admin\/audit"[^>]*hx-get="\/admin\/audit" hx-target="#audit-results" hx-push-url="true">/);
  assert.match(page.text, '<div id="audit-results">');
  const frag = await owner.get('/admin/audit?action=files.file.re', { 'HX-Request': 'true' });
  assert.is(frag.status, 200);
  assert.not.match(frag.text, '<html');
  assert.not.match(frag.text, 'id="audit-filters"');
  assert.match(frag.text, /<table class="table"[^>]*>/);
  assert.match(frag.text, 'autofocus', 'focus moves to the new results');
  assert.is(times(frag.text).length, 2);
  assert.is(frag.headers.get('vary')?.includes('HX-Request'), true);
  const restore = await owner.get('/admin/audit?action=files.file.re', { 'HX-Request': 'true', 'HX-History-Restore-Request': 'true' });
  assert.match(restore.text, '<html');
  const invalid = await owner.get('/admin/audit?from=nope', { 'HX-Request': 'true' });
  assert.is(invalid.status, 200, 'htmx swaps only 2xx: the problem is listed in the results');
  assert.match(invalid.text, 'role="alert"');
  assert.match(invalid.text, 'href="#from"');
});

test('no inline script, style or hx-on on the audit pages (strict nonce CSP)', async () => {
  const ada = await signIn('ada@northwind.example');
  for (const [c, path] of [
    [owner, '/admin/audit'],
    [owner, '/admin/audit?from=2099-01-01'],
    [ada, '/w/northwind/audit'],
  ] as const) {
    const res = await c.get(path);
    assert.is(res.status, 200);
    assert.not.match(res.text, /\sstyle=/i, path);
    assert.not.match(res.text, /<style/i, path);
    assert.not.match(res.text, /hx-on/i, path);
    assert.not.match(res.text, /\son[a-z]+=/i, path);
    for (const m of res.text.matchAll(/<script[^>]*>/g)) assert.match(m[0], /src="[^"]+" nonce="/, path);
    assert.match(res.headers.get('content-security-policy') ?? '', "script-src 'nonce-");
  }
});

test('CSV export: streamed attachment, every row of the filter, newest first, formula cells neutralised', async () => {
  const res = await owner.get('/admin/audit/export.csv?workspace=northwind');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'text/csv');
  assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="audit-all-\d{8}T\d{6}Z\.csv"; filename\*=UTF-8''audit-all-\d{8}T\d{6}Z\.csv$/);
  assert.is(res.headers.get('cache-control'), 'no-store');
  const rows = parseCsv(res.text);
  const [header, ...body] = rows;
  assert.equal(header, ['seq', 'id', 'time_utc', 'actor_name', 'action', 'subject_type', 'subject_id', 'actor_id', 'actor_email', 'workspace_id', 'workspace_name', 'ip', 'user_agent', 'detail']);
  assert.is(body.length, await count(db()('audit_events').where({ workspace_id: ids.northwind })));
  assert.ok(body.length > 1000, 'more than one batch');
  const seqs = body.map((r) => Number(r[0]));
  assert.ok(seqs.every((s, i) => i === 0 || s < seqs[i - 1]!), 'strictly newest first, no repeats across batches');
  // Every cell a spreadsheet would run starts with an apostrophe instead.
  for (const r of body) for (const cell of r) assert.not.match(cell, /^[=+\-@\t\r]/, cell);
  const formula = body.find((r) => r[6]!.includes('HYPERLINK'))!;
  assert.is(formula[6], `'=HYPERLINK("http://evil.example","x")`);
  assert.is(formula[5], `'+cmd`);
  assert.is(formula[12], `'-2+3`);
  const other = body.find((r) => r[5] === `'@cmd`)!;
  assert.is(other[6], `'\tTAB`);
  assert.is(other[12], `'\rCR`);
  assert.match(res.text, '"\'=HYPERLINK(""http://evil.example"",""x"")"', 'quotes doubled inside a quoted cell');
  assert.not.match(res.text, CANARY);
  for (const q of sql) assert.not.match(q, /\boffset\b/i, q);
});

test('JSON export: an array of the same rows with parsed detail; exports are audited with their filter', async () => {
  const before = await count(db()('audit_events').where({ action: 'core.audit.export' }));
  const res = await owner.get('/admin/audit/export.json?action=files.file.re');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'application/json');
  assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="audit-all-\d{8}T\d{6}Z\.json"; filename\*=UTF-8''audit-all-\d{8}T\d{6}Z\.json$/);
  const rows = JSON.parse(res.text) as Array<Record<string, unknown>>;
  assert.is(rows.length, 2);
  assert.equal(rows[0]!.detail, {});
  assert.equal(rows[1]!.detail, { to: '@SUM(1)' });
  assert.is(rows[1]!.workspace_name, 'Northwind Traders');
  assert.is(rows[1]!.actor_email, 'ada@northwind.example');
  const empty = JSON.parse((await owner.get('/admin/audit/export.json?from=2099-01-01')).text);
  assert.equal(empty, []);
  const emptyCsv = parseCsv((await owner.get('/admin/audit/export.csv?from=2099-01-01')).text);
  assert.is(emptyCsv.length, 1, 'an empty export still has its header');
  const exports = await db()('audit_events').where({ action: 'core.audit.export' }).orderBy('seq');
  assert.is(exports.length, before + 3);
  const mine = exports[before]!;
  const owner_ = await db()('users').where({ email: 'owner@harbor.example' }).first('id');
  assert.is(mine.actor_id, owner_.id);
  assert.is(mine.subject_type, 'AuditLog');
  assert.equal(JSON.parse(mine.detail), { format: 'json', filter: { action: 'files.file.re' } });
  assert.equal(await app.kernel.audit.verify(db()), { ok: true, count: await count(db()('audit_events')) });
});

test('an export started from another site, or a HEAD request, is not recorded; bad filters are 400', async () => {
  const before = await count(db()('audit_events'));
  const res = await owner.get('/admin/audit/export.csv', { 'Sec-Fetch-Site': 'cross-site' });
  assert.is(res.status, 403);
  assert.is((await owner.get('/admin/audit/export.json', { 'Sec-Fetch-Site': 'same-site' })).status, 403);
  const head = await owner.request('HEAD', '/admin/audit/export.csv');
  assert.is(head.status, 200);
  assert.match(head.headers.get('content-disposition') ?? '', 'attachment');
  assert.is((await owner.get('/admin/audit/export.csv?from=nope')).status, 400);
  assert.is(await count(db()('audit_events')), before);
  assert.is((await owner.get('/admin/audit/export.csv?action=files.file.re', { 'Sec-Fetch-Site': 'same-origin' })).status, 200);
});

test('staff and clients get 404 for the admin log and its exports', async () => {
  for (const email of ['sam.staff@firm.example', 'ada@northwind.example', 'dan@northwind.example']) {
    const c = await signIn(email);
    for (const path of ['/admin/audit', '/admin/audit/export.csv', '/admin/audit/export.json', '/admin/audit?workspace=globex']) {
      const res = await c.get(path);
      assert.is(res.status, 404, `${email} ${path}`);
      assert.not.match(res.text, CANARY);
    }
    const home = await c.get('/');
    assert.not.match(home.text, 'href="/admin/audit"');
  }
});

test("a client admin sees their workspace's activity: names only, no ip, email, detail or seq", async () => {
  const ada = await signIn('ada@northwind.example');
  const page = await ada.get('/w/northwind/audit');
  assert.is(page.status, 200);
  assert.match(page.text, '<h1 class="page-header-h">Activity</h1>');
  assert.match(page.text, /<a href="\/w\/northwind\/audit" aria-current="page">Activity<\/a>/);
  assert.match(page.text, '<option value="">Everyone</option>');
  assert.match(page.text, 'Dan Member', 'the person filter lists the members');
  const frag = await ada.get('/w/northwind/audit', { 'HX-Request': 'true' });
  assert.is(frag.status, 200);
  assert.not.match(frag.text, '<html');
  assert.is(times(frag.text).length, 50);
  assert.match(frag.text, 'Ada Lindqvist');
  assert.not.match(frag.text, 'IP address');
  assert.not.match(frag.text, '203.0.113.5');
  assert.not.match(frag.text, 'Mozilla/5.0 Test');
  assert.not.match(frag.text, '@northwind.example');
  assert.not.match(frag.text, '"n":');
  assert.not.match(frag.text, '<th scope="col">Workspace</th>');
  const older = hrefOf(frag.text, 'next')!;
  assert.match(older, /^\/w\/northwind\/audit\?before=[0-9a-f-]{36}$/, 'the page cursor is an opaque id, not seq');
  assert.not.match(frag.text, 'Export CSV', 'a client admin may read but not export');
});

test("a client admin of A never sees B's rows: every page, fragment and filter, whatever the query says", async () => {
  const ada = await signIn('ada@northwind.example');
  const seen: string[] = [];
  let path: string | null = '/w/northwind/audit';
  let rows = 0;
  for (let guard = 0; path && guard < 100; guard++) {
    const res = await ada.get(path);
    assert.is(res.status, 200, path);
    seen.push(res.text);
    rows += times(res.text).length;
    const frag = await ada.get(path, { 'HX-Request': 'true' });
    seen.push(frag.text);
    path = hrefOf(res.text, 'next');
  }
  // Every row of A about a subject a client admin may read; the two rows about made-up subject
  // types ('+cmd', '@cmd') have no audit rule, so only firm admins see them.
  assert.is(rows, await count(db()('audit_events').where({ workspace_id: ids.northwind }).whereIn('subject_type', ['Workspace', 'Membership', 'Invitation', 'AuditLog'])), 'every row of A a client admin may read, once');
  assert.ok(rows < (await count(db()('audit_events').where({ workspace_id: ids.northwind }))), 'rows about subjects without a rule are not listed');
  const probes = [
    '/w/northwind/audit?workspace=globex',
    `/w/northwind/audit?workspace_id=${ids.globex}`,
    `/w/northwind/audit?before=${ids.bEventId}`,
    `/w/northwind/audit?after=${ids.bEventId}`,
    `/w/northwind/audit?actor=${ids.cara}`,
    '/w/northwind/audit?action=files.file.download',
    '/w/northwind/audit?action=core.settings.',
  ];
  for (const p of probes) {
    for (const headers of [undefined, { 'HX-Request': 'true' }]) {
      const res = await ada.get(p, headers);
      assert.ok(res.status === 200 || res.status === 400, `${p} ${res.status}`);
      seen.push(res.text);
    }
  }
  assert.is(times((await ada.get(`/w/northwind/audit?actor=${ids.cara}`)).text).length, 0);
  assert.is((await ada.get('/w/northwind/audit?workspace=globex')).status, 400, 'no workspace parameter in a workspace');
  for (const text of seen) {
    assert.not.match(text, CANARY);
    assert.not.match(text, FIRM_CANARY);
    assert.not.match(text, 'Globex');
    assert.not.match(text, 'Cara Mendes');
    assert.not.match(text, '198.51.100.66');
  }
  for (const q of sql) assert.not.match(q, /\boffset\b/i, q);
});

test("exports of a workspace's log hold only that workspace's rows and client fields", async () => {
  for (const format of ['csv', 'json'] as const) {
    const res = await owner.get(`/w/northwind/audit/export.${format}`);
    assert.is(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="audit-northwind-\\d{8}T\\d{6}Z\\.${format}"; filename\\*=UTF-8''audit-northwind-\\d{8}T\\d{6}Z\\.${format}$`));
    assert.not.match(res.text, CANARY);
    assert.not.match(res.text, FIRM_CANARY);
    assert.not.match(res.text, 'Globex');
    assert.not.match(res.text, '203.0.113.5');
    const total = await count(db()('audit_events').where({ workspace_id: ids.northwind }));
    if (format === 'csv') {
      const [header, ...body] = parseCsv(res.text);
      assert.equal(header, ['id', 'time_utc', 'actor_name', 'action', 'subject_type', 'subject_id']);
      assert.is(body.length, total, 'every row, the export event included');
    } else {
      const rows = JSON.parse(res.text) as Array<Record<string, unknown>>;
      assert.is(rows.length, total);
      assert.equal(Object.keys(rows[0]!), ['id', 'time_utc', 'actor_name', 'action', 'subject_type', 'subject_id']);
      assert.is(rows[0]!.action, 'core.audit.export', 'the export itself is first, recorded in the workspace');
    }
  }
  const last = await db()('audit_events').where({ action: 'core.audit.export' }).orderBy('seq', 'desc').first();
  assert.is(last.workspace_id, ids.northwind);
  // The firm's owner, looking at a workspace's activity, is pointed at the full entries.
  const page = await owner.get('/w/northwind/audit?action=files.');
  assert.match(page.text.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&'), 'href="/admin/audit?action=files.&workspace=northwind"');
  assert.not.match((await (await signIn('ada@northwind.example')).get('/w/northwind/audit')).text, 'href="/admin/audit');
});

test('client members, viewers and other clients get 404 for a workspace log', async () => {
  // Firm staff assigned to the workspace read it (issue 14): test/admin-staff.test.ts.
  const cases: Array<[string, string]> = [
    ['dan@northwind.example', '/w/northwind/audit'],
    ['ben@northwind.example', '/w/northwind/audit'],
    ['cara@globex.example', '/w/northwind/audit'],
    ['ada@northwind.example', '/w/northwind/audit/export.csv'],
    ['ada@northwind.example', '/w/northwind/audit/export.json'],
    ['ada@northwind.example', '/w/globex/audit'],
  ];
  for (const [email, path] of cases) {
    const c = await signIn(email);
    const res = await c.get(path);
    assert.is(res.status, 404, `${email} ${path}`);
    assert.not.match(res.text, CANARY);
    assert.is((await c.get(path, { 'HX-Request': 'true' })).status, 404);
  }
  const dan = await signIn('dan@northwind.example');
  assert.not.match((await dan.get('/w/northwind/')).text, 'href="/w/northwind/audit"', 'no Activity nav item without the permission');
});

test('empty states: nothing matches, and past the end of the log', async () => {
  const ada = await signIn('ada@northwind.example');
  const none = await ada.get('/w/northwind/audit?from=2099-01-01');
  assert.is(none.status, 200);
  assert.match(none.text, /<div id="audit-summary" tabindex="-1">\s*<div class="empty-state ui-empty">/, 'the summary, which htmx focuses, holds the empty state');
  assert.match(none.text, 'No events match these filters');
  const oldest = await db()('audit_events').where({ workspace_id: ids.northwind }).orderBy('seq').first('id');
  const end = await ada.get(`/w/northwind/audit?before=${oldest.id}`);
  assert.match(end.text, 'No more events');
  assert.match(end.text, 'href="/w/northwind/audit"');
});

test.run();
