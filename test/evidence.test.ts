// The proof-of-service registry (core/evidence.ts): providers are declared once, named for their
// plugin; their items are merged in time order; each item keeps its allow-listed fields only, as
// plain single-line text; an item of another workspace or outside the period never gets through,
// whatever a provider returned; a consumer that stops early closes every provider's stream; keyset
// pages read each row once.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EvidenceRegistry, mergeSorted, pagedByTime, type EvidenceItem, type EvidenceQuery } from '../core/evidence.ts';
import type { AppAbility } from '../core/permissions.ts';

const test = suite('evidence');
const q: EvidenceQuery = { workspaceId: 'ws-a', from: 1000, to: 2000, viewer: { userId: 'u', firmRole: null, ability: {} as AppAbility } };
const item = (at: number, title: string, extra: Partial<EvidenceItem> = {}): EvidenceItem => ({ workspaceId: 'ws-a', at, kind: 'Delivered', title, detail: '', who: 'Ada', ...extra });
async function* from<T>(xs: T[]) {
  for (const x of xs) yield x;
}
const all = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

test('a provider is named <plugin>.<thing>, for its own plugin, once', () => {
  const r = new EvidenceRegistry();
  r.register('files', { id: 'files.deliveries', label: 'Files', items: () => from([]) });
  assert.throws(() => r.register('files', { id: 'files.deliveries', label: 'Files', items: () => from([]) }), /registered by files and files/);
  assert.throws(() => r.register('approvals', { id: 'files.other', label: 'X', items: () => from([]) }), /must start with "approvals\."/);
  assert.throws(() => r.register('files', { id: 'Files deliveries', label: 'X', items: () => from([]) }), /<plugin>\.<thing>/);
  assert.equal(r.list(), [{ id: 'files.deliveries', label: 'Files', owner: 'files' }]);
});

test('items of every provider merged in time order, ties in registration order', async () => {
  const r = new EvidenceRegistry();
  r.register('files', { id: 'files.deliveries', label: 'Files', items: () => from([item(1100, 'f1'), item(1500, 'f2'), item(1900, 'f3')]) });
  r.register('approvals', { id: 'approvals.decisions', label: 'Approvals', items: () => from([item(1000, 'a1'), item(1500, 'a2')]) });
  const got = await all(r.items({} as never, q));
  assert.equal(got.map((e) => `${e.source}:${e.title}`), ['Approvals:a1', 'Files:f1', 'Files:f2', 'Approvals:a2', 'Files:f3']);
});

test('another workspace’s item, an item outside the period and a bad time are dropped; fields are plain text', async () => {
  const r = new EvidenceRegistry();
  const leaky = [
    item(1200, 'B secret', { workspaceId: 'ws-b' }),
    item(999, 'too early'),
    item(2000, 'too late (to is excluded)'),
    item(Number.NaN, 'no time'),
    { ...item(1300, 'Evil\u202Efdp.exe\nsecond line'), kind: 'x'.repeat(100), extra: 'internal note', secret: 'token' } as EvidenceItem,
  ];
  r.register('files', { id: 'files.deliveries', label: 'Files', items: () => from(leaky) });
  const got = await all(r.items({} as never, q));
  assert.is(got.length, 1);
  assert.equal(Object.keys(got[0]!).sort(), ['at', 'detail', 'kind', 'source', 'title', 'who']);
  assert.is(got[0]!.title, 'Evil fdp.exe second line');
  assert.is([...got[0]!.kind].length, 40);
  assert.ok(got[0]!.kind.endsWith('…'));
});

test('stopping early closes every provider’s stream', async () => {
  const closed: string[] = [];
  const gen = (name: string) =>
    (async function* () {
      try {
        for (let i = 0; i < 100; i++) yield item(1000 + i, `${name}${i}`);
      } finally {
        closed.push(name);
      }
    })();
  const r = new EvidenceRegistry();
  r.register('files', { id: 'files.deliveries', label: 'Files', items: () => gen('f') });
  r.register('approvals', { id: 'approvals.decisions', label: 'Approvals', items: () => gen('a') });
  for await (const e of r.items({} as never, q)) if (e.title === 'a3') break;
  assert.equal(closed.sort(), ['a', 'f']);
});

test('mergeSorted holds one item of each stream and keeps sorted order', async () => {
  const got = await all(mergeSorted([from([1, 4, 9]), from([2, 3, 10]), from([]), from([5])], (a, b) => a - b));
  assert.equal(got, [1, 2, 3, 4, 5, 9, 10]);
});

test('pagedByTime reads keyset pages until a short one, each row once', async () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({ at: 1000 + Math.floor(i / 3), id: `r${String(i).padStart(2, '0')}` }));
  const pages: Array<string | null> = [];
  const got = await all(
    pagedByTime(
      async (after, limit) => {
        pages.push(after ? `${after.at}/${after.id}` : null);
        return rows.filter((r) => !after || r.at > after.at || (r.at === after.at && r.id > after.id)).slice(0, limit);
      },
      (r) => r,
      (r) => r.id,
      10,
    ),
  );
  assert.equal(got, rows.map((r) => r.id));
  assert.equal(pages, [null, '1003/r09', '1006/r19']);
});

test.run();
