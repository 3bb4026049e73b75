// The staff list of envelopes: newest first, paginated, filtered by status, with an empty state.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newId } from '../../../core/ids.ts';
import { sigWorld, type SigWorld } from './helpers.ts';

const test = suite('signatures: the envelope list');
let w: SigWorld;

test.before(async () => {
  w = await sigWorld({ overrides: { plugins: { settings: { signatures: { pageSize: 5 } } } } });
});
test.after(async () => {
  await w.app.close();
});

test('an empty workspace says how to start', async () => {
  const res = await w.as.staff.get(`${w.base}/`);
  assert.is(res.status, 200);
  assert.match(res.text, 'No envelopes here yet');
  assert.match(res.text, 'Send a PDF for signature');
});

test('seven envelopes: five per page, newest first, a next page, and the status filter', async () => {
  const base = Date.UTC(2026, 10, 1);
  for (let i = 1; i <= 7; i++) {
    await w.app.kernel.db('signatures_envelopes').insert({
      id: newId(base + i * 1000), workspace_id: w.ws.id, title: `Envelope ${String(i).padStart(2, '0')}`, message: '', file_id: newId(), version_id: newId(), document_name: `doc ${i}.pdf`, document_size: 100, sha256_sent: 'a'.repeat(64), page_count: 1,
      status: i === 7 ? 'completed' : 'sent', created_by: w.users.staff, created_at: base + i * 1000, sent_at: base + i * 1000, finished_at: null, signed_version_id: null, sha256_stamped: null, sha256_final: null, void_reason: null,
    });
  }
  const p1 = await w.as.staff.get(`${w.base}/`);
  const titles = (t: string) => [...t.matchAll(/>(Envelope \d\d)</g)].map((m) => m[1]);
  assert.equal(titles(p1.text), ['Envelope 07', 'Envelope 06', 'Envelope 05', 'Envelope 04', 'Envelope 03']);
  assert.match(p1.text, 'Page 1 of 2');
  const next = /href="([^"]+)" rel="next"/.exec(p1.text)![1]!.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
  const p2 = await w.as.staff.get(next);
  assert.equal(titles(p2.text), ['Envelope 02', 'Envelope 01']);
  const done = await w.as.staff.get(`${w.base}/?status=completed`);
  assert.equal(titles(done.text), ['Envelope 07']);
  const voided = await w.as.staff.get(`${w.base}/?status=voided`);
  assert.match(voided.text, 'No envelopes here yet');
  const junk = await w.as.staff.get(`${w.base}/?status=%3Cscript%3E&page=-4`);
  assert.is(junk.status, 200, 'a bad query falls back to the defaults');
});

test.run();
