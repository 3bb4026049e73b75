// The main pages' query budget (issue 17, "a per-page budget"), after test/home-budget.test.ts:
// a signed-in client of a workspace holding a few files and an approval request opens the file
// list, a file's page and the approvals list. Each page is visited twice first (the first visit
// may store counts, the visit marker, the last workspace), then measured once; every SQL
// statement is labelled and the exact sorted list is asserted, so a change that adds a round trip
// (or a query per file or per request) fails here. Background polls of the mail relay and the job
// runner (outbox, job_runs) are not the page's. An unknown statement keeps its SQL as its label, so
// the failure shows it. The lists are the same on SQLite and PostgreSQL. Each page is measured
// cold (the kernel's cache off) and warm (on): warm, the session comes from the cache.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ON_PG } from './helpers/app.ts';
import { cacheOf } from '../core/cache.ts';
import { approvalsWorld, requestApproval, uploadFile, type World } from './plugins/approvals/helpers.ts';

const test = suite(`the main pages' query budget (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
let w: World;
let fileId: string;
let fileUrl: string;

test.before(async () => {
  // Every built-in plugin, as on the home's budget; approvalsWorld's clock stands still, so no
  // session touch and no custom-role reload happen in a measured request.
  w = await approvalsWorld({ plugins: ['team', 'files', 'approvals', 'signatures', 'messaging'] });
  // Three shared files in the top folder, uploaded by staff over HTTP: one list query must serve
  // them all (no query per file).
  fileId = await uploadFile(w, 'Brochure.txt', 'The brochure, draft one');
  await uploadFile(w, 'Budget.csv', 'a,b\n1,2\n');
  await uploadFile(w, 'Notes.txt', 'Some notes');
  const made = await requestApproval(w, fileId, { title: 'Brochure sign-off', approvers: [w.users.member] });
  assert.is(made.res.status, 303, made.res.text.slice(0, 300));
  assert.ok(made.id, 'the approval request was made');
  // The file's page as the list links it.
  const list = await w.as.member.get('/w/acme/files/');
  const link = /<a href="(\/w\/acme\/files\/[^"]+)">Brochure\.txt<\/a>/.exec(list.text);
  assert.ok(link, 'the list links the file');
  fileUrl = link[1]!;
  assert.is(fileUrl, `/w/acme/files/f/${fileId}`);
});
test.after(async () => {
  await w.app.close();
});

/**
 * The SQL of one GET by the client member, after two unmeasured visits of the same page. Cold:
 * with the kernel's cache off (what a page costs when nothing is cached: a first visit, or right
 * after a write it depends on); warm: with it on, as the visits before left it.
 */
async function queriesOf(path: string, expect: string, mode: 'cold' | 'warm'): Promise<string[]> {
  for (let i = 0; i < 2; i++) assert.is((await w.as.member.get(path)).status, 200, path);
  const cache = cacheOf(w.app.kernel.db)!;
  cache.enabled = mode === 'warm';
  const seen: string[] = [];
  // The mail relay's and the job runner's own polls run in the background: not the page's.
  const spy = (q: { sql: string }) => (/[`"](outbox|job_runs)[`"]/.test(q.sql) ? undefined : seen.push(q.sql));
  w.app.kernel.db.on('query', spy);
  try {
    const res = await w.as.member.get(path);
    assert.is(res.status, 200, path);
    assert.match(res.text, expect, `${path} shows ${expect}`);
  } finally {
    w.app.kernel.db.removeListener('query', spy);
    cache.enabled = true;
  }
  return seen;
}

/** Warm, the session (and the switcher, for a person on several workspaces) come from the cache. */
const warmOf = (cold: string[]) => cold.filter((l) => l !== 'session' && l !== 'switcher');

/** One label per statement (quotes dropped, so SQLite's and PostgreSQL's SQL read the same). */
function label(sql: string): string {
  const s = sql.replace(/[`"]/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
  // Writes first: a page that writes on every view says so in its label.
  if (/^(update|insert into) files_visits\b/.test(s)) return 'files: visit marker (WRITE)';
  if (/^(insert|update|delete|replace)\b/.test(s)) return `WRITE: ${sql}`;
  if (s.startsWith('select (select seen_at from files_visits ')) return 'files: visit marker';
  if (s.includes(' from sessions as s ')) return 'session';
  if (s.includes(' from memberships as m inner join workspaces as w ')) return 'switcher';
  if (s.startsWith('select count(*) as n from (select 1 from files_files ')) return 'files: count';
  if (s.includes(' from files_files as f left join files_folders as d ') && s.includes(' left join files_previews as p ')) return 'files: list';
  if (s.startsWith('select id, parent_id, name, area, client_access, ') && s.includes(' from files_folders ')) return 'files: folder tree';
  if (s.includes(' from files_files where ') && s.includes(' and id = ')) return 'files: the file';
  if (s.includes(' from files_previews ')) return 'files: preview';
  if (s.startsWith('select count(*) as n from approvals_requests as r ')) return 'approvals: count';
  if (s.includes(' from approvals_requests as r ') && s.includes(' approvals_decisions ')) return 'approvals: waiting on you';
  if (s.includes(' from approvals_requests as r ') && s.includes(' order by r.created_at desc')) return 'approvals: list';
  return sql;
}

const labels = (sql: string[]) => sql.map(label).sort();

// The file list, five statements:
//   session              the session with the person, notice and waiting counts, workspace and role
//   files: count         how many files are in this folder (capped), for the pager
//   files: list          one page of the folder's files, with their preview sizes in the same query
//   files: folder tree   every folder the client may see: the tree beside the list, this folder's
//                        sub-folders and its breadcrumb all come from it
//   files: visit marker  one read: the client's "seen at" for the home's "new files" card and the
//                        newest delivery; it is written only on the first visit or when a
//                        deliverable came after the mark (not here: the visits before set it)
//   (no switcher: the client's only workspace is this one, which the session query counts)
test('the file list: session, count, list, folder tree, the visit marker (a read: nothing moved)', async () => {
  const sql = await queriesOf('/w/acme/files/', 'Budget.csv', 'cold');
  const cold = ['files: count', 'files: folder tree', 'files: list', 'files: visit marker', 'session'];
  assert.equal(labels(sql), cold, sql.join('\n'));
  const warm = await queriesOf('/w/acme/files/', 'Budget.csv', 'warm');
  assert.equal(labels(warm), warmOf(cold), warm.join('\n'));
});

// A file's page (the URL the list links), three statements and no write:
//   session         the session with the person, notice and waiting counts, workspace and role
//   files: the file the file, within what the client may see
//   files: preview  its current version's first-page preview, if it has one
//   (no switcher: the client's only workspace is this one, which the session query counts)
test('a file\'s page: session, the file, its preview', async () => {
  const sql = await queriesOf(fileUrl, 'Brochure.txt', 'cold');
  const cold = ['files: preview', 'files: the file', 'session'];
  assert.equal(labels(sql), cold, sql.join('\n'));
  const warm = await queriesOf(fileUrl, 'Brochure.txt', 'warm');
  assert.equal(labels(warm), warmOf(cold), warm.join('\n'));
});

// The approvals list, four statements and no write:
//   session                   the session with the person, notice and waiting counts, workspace and role
//   approvals: waiting on you the requests waiting on this client's decision, shown first
//   approvals: count          how many requests the client is an approver of, for the pager
//   approvals: list           one page of those requests, newest first
//   (no switcher: the client's only workspace is this one, which the session query counts)
test('the approvals list: session, waiting on you, count, list', async () => {
  const sql = await queriesOf('/w/acme/approvals/', 'Brochure sign-off', 'cold');
  const cold = ['approvals: count', 'approvals: list', 'approvals: waiting on you', 'session'];
  assert.equal(labels(sql), cold, sql.join('\n'));
  const warm = await queriesOf('/w/acme/approvals/', 'Brochure sign-off', 'warm');
  assert.equal(labels(warm), warmOf(cold), warm.join('\n'));
});

test('the labeller: an unknown statement keeps its SQL (so the lists above fail on it), a write is marked', () => {
  assert.is(label('select 1 from somewhere_new'), 'select 1 from somewhere_new');
  assert.is(label('insert into files_visits (workspace_id, user_id, seen_at) values (?, ?, ?)'), 'files: visit marker (WRITE)');
  assert.match(label('update `files_files` set `name` = ?'), /^WRITE: /);
});

test.run();
