// Invoice numbers are gap-free and unique under concurrency: 20 drafts issued at once (on
// PostgreSQL through two kernels, each with its own pool, on the same database) get 20
// consecutive numbers; a failed issue gives its number back; the series restarts each year.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { transaction } from '../../../core/db/index.ts';
import { ManualClock } from '../../../core/clock.ts';
import { createWorkspace } from '../../../core/identity/users.ts';
import type { Kernel } from '../../../core/boot.ts';
import { createDraft, issueInvoice, type InvoicesDeps, type Ws } from '../../../plugins/invoices/service.ts';
import { formatNumber, seriesKey } from '../../../plugins/invoices/numbering.ts';
import { settingsSchema } from '../../../plugins/invoices/settings.ts';
import { freshDatabase, ON_PG, setupOwner, startApp, type TestApp } from '../../helpers/app.ts';

const test = suite('invoices numbering');
const clock = new ManualClock(Date.parse('2026-12-07T09:00:00.000Z'));
let one: TestApp;
let two: TestApp | undefined;
let ws: Ws;

function depsOf(k: Kernel): InvoicesDeps {
  return { db: k.db, audit: k.audit, events: k.events, storage: k.storage, branding: k.branding, notifications: k.notifications, approvables: k.approvables, clock, logger: pino({ level: 'silent' }), settings: settingsSchema.parse({}) };
}

test.before(async () => {
  const db = await freshDatabase();
  one = await startApp({ db, plugins: ['invoices'], clock });
  // On PostgreSQL a second kernel on the same database: another pool, as another process would have.
  if (ON_PG) two = await startApp({ db, plugins: ['invoices'], clock });
  await setupOwner(one);
  ws = await transaction(one.kernel.db, async (trx) => {
    const w = await createWorkspace(one.kernel, trx, { name: 'Acme Ltd', slug: 'acme' }, { actorId: null, via: 'cli' });
    return { id: w.id, slug: 'acme', name: 'Acme Ltd' };
  });
});
test.after(async () => {
  await two?.close();
  await one.close();
  await one.db.drop();
});

const draft = (deps: InvoicesDeps) =>
  transaction(deps.db, (trx) => createDraft(deps, trx, ws, { actorId: null }, { currency: 'EUR', termsDays: 30, notes: '', terms: '', lines: [{ description: 'Work', quantity: 1000, unitPrice: 10_000, taxRate: 0, discount: 0 }] }));

test('the number format: prefix with the year, padded', () => {
  assert.is(formatNumber(seriesKey('INV-{YYYY}-', Date.parse('2026-03-01T00:00:00Z')), 7, 4), 'INV-2026-0007');
  assert.is(formatNumber(seriesKey('F', 0), 12, 6), 'F000012');
});

test('20 concurrent issues get 20 consecutive numbers, none twice', async () => {
  const a = depsOf(one.kernel);
  const b = two ? depsOf(two.kernel) : a;
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push(await draft(a));
  const numbers = await Promise.all(ids.map((id, i) => issueInvoice(i % 2 ? b : a, ws, { actorId: null }, id)));
  const expected = Array.from({ length: 20 }, (_, i) => `INV-2026-${String(i + 1).padStart(4, '0')}`);
  assert.equal([...numbers].sort(), expected);
  const stored = (await one.kernel.db('invoices_invoices').whereNotNull('number').orderBy('number').pluck('number')) as string[];
  assert.equal(stored, expected);
  const series = await one.kernel.db('invoices_series').where({ key: 'INV-2026-' }).first();
  assert.is(Number(series.last), 20);
});

test('an issue that fails gives its number back (no gap); a new year starts a new series', async () => {
  const a = depsOf(one.kernel);
  const empty = await transaction(a.db, (trx) => createDraft(a, trx, ws, { actorId: null }, { currency: 'EUR', termsDays: 30, notes: '', terms: '', lines: [] }));
  let refused = false;
  try {
    await issueInvoice(a, ws, { actorId: null }, empty);
  } catch {
    refused = true;
  }
  assert.ok(refused, 'a draft without lines is refused');
  // A failure after the number was taken (the PDF store throws) rolls the counter back.
  const id = await draft(a);
  const broken = { ...a, storage: { ...a.storage, put: async () => { throw new Error('disk full'); } } } as unknown as InvoicesDeps;
  let failed = false;
  try {
    await issueInvoice(broken, ws, { actorId: null }, id);
  } catch {
    failed = true;
  }
  assert.ok(failed);
  assert.is(await issueInvoice(a, ws, { actorId: null }, id), 'INV-2026-0021');
  clock.set(Date.parse('2027-01-01T00:00:01Z'));
  assert.is(await issueInvoice(a, ws, { actorId: null }, await draft(a)), 'INV-2027-0001');
});

test.run();
