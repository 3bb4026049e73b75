// The invoice list counts at most 1,000 rows past the requested page (so a workspace with 100,000
// invoices lists as fast as one with 1,000: bench/invoices.ts): past that the caption and the page
// count say "more than", the next page is still offered, and what is owed is still exact.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newId } from '../../../core/ids.ts';
import { invoicesWorld, type World } from './helpers.ts';

const test = suite('invoices list count');
let w: World;
const base = () => `/w/${w.ws.slug}/invoices`;

test.before(async () => {
  w = await invoicesWorld();
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const rows = Array.from({ length: 1030 }, (_, i) => ({
    id: newId(),
    workspace_id: w.ws.id,
    status: i < 3 ? 'issued' : 'paid',
    number: `INV-LC-${String(i + 1).padStart(5, '0')}`,
    label: `INV-LC-${String(i + 1).padStart(5, '0')}`,
    currency: 'EUR',
    tax_mode: 'exclusive',
    terms_days: 30,
    notes: '',
    terms: '',
    payment_details: '',
    subtotal: 10_000,
    tax_total: 0,
    total: 10_000,
    paid_total: i < 3 ? 2_500 : 10_000,
    issued_at: t0 + i * 60_000,
    due_at: t0 + i * 60_000 + 30 * 86_400_000,
    created_at: t0 + i * 60_000,
    updated_at: t0 + i * 60_000,
  }));
  await w.app.kernel.db.batchInsert('invoices_invoices', rows, 100);
});
test.after(async () => {
  await w.app.close();
});

test('past 1,000 the count says "more than", the next page is offered, the owed total stays exact', async () => {
  for (const who of ['admin', 'staff'] as const) {
    const page = await w.as[who].get(`${base()}/`);
    assert.is(page.status, 200);
    assert.ok(page.text.includes('(more than 1000)'), `${who}: the caption`);
    assert.ok(page.text.includes('Page 1 of more than 40'), `${who}: the page count`);
    assert.ok(page.text.includes('rel="next"'), `${who}: a next page`);
    assert.ok(page.text.includes('INV-LC-01030'), `${who}: newest first`);
    // Three invoices still to pay, 75.00 each.
    assert.ok(page.text.includes('EUR 225.00'), `${who}: what is owed`);
  }
  const filtered = await w.as.admin.get(`${base()}/?status=open`);
  assert.ok(filtered.text.includes('All invoices <span class="count">(3)</span>'), 'an exact count when it is small');
});

test.run();
