// Browser journey: a home card whose data is late (views.widgetBudgetMs) is shown as "Loading…"
// and fills itself in after the page, in Debian's Chromium, under the page's CSP. The slow-cards
// test plugin holds its slow card's data until the journey lets it go. On a phone and a desk, as a
// client admin: the page arrives with the quick card and the placeholder, then the card's text
// replaces "Loading…" without a reload. Each page is checked with axe-core, for horizontal
// overflow and for console or CSP errors, and saved in test-artifacts/late-cards/.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { transaction } from '../../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../../core/identity/users.ts';
import { slowGate } from '../fixtures/plugins/slow-cards/index.ts';
import { setupOwner, startApp, type TestApp } from '../helpers/app.ts';
import { Artifacts, Watch, launchChromium, mainText, signInOnPage, VIEWPORTS, type Viewport } from './support.ts';

const art = new Artifacts('late-cards');
const test = suite('journey: a late home card shows "Loading…", then fills itself in without a reload');
const EMAIL = 'ada@acme.example';
const PASSWORD = 'late-cards-password-1';
let app: TestApp;
let browser: Browser;
const watch = new Watch(art, () => app.url);

test.before(async () => {
  app = await startApp({ plugins: ['team', './test/fixtures/plugins/slow-cards'], overrides: { baseUrl: '', views: { widgetBudgetMs: 100 } } });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash(PASSWORD);
  await transaction(k.db, async (trx) => {
    const actor = { actorId: null, via: 'cli' as const };
    const ws = await createWorkspace(k, trx, { name: 'Acme Ltd', slug: 'acme' }, actor);
    const u = await createUser(k, trx, { email: EMAIL, name: 'Ada Admin', passwordHash: hash, firmRole: null }, actor);
    await addMember(k, trx, { workspaceId: ws.id, userId: u.id, role: 'client_admin' }, actor);
  });
  browser = await launchChromium();
});
test.after(async () => {
  slowGate.open();
  await browser?.close();
  await app?.close();
  art.save();
});

for (const size of Object.keys(VIEWPORTS) as Viewport[]) {
  test(`${size}: the page comes with "Loading…" in the slow card, which fills itself in`, async () => {
    slowGate.close();
    const { ctx, page } = await watch.open(browser, size, 'Ada');
    try {
      await page.goto(`${app.url}/login?next=${encodeURIComponent('/w/acme/')}`);
      await signInOnPage(page, EMAIL, PASSWORD);
      assert.match(new URL(page.url()).pathname, '/w/acme/');
      const slow = page.locator('#widget-slow-cards-slow');
      assert.match((await slow.textContent()) ?? '', 'Loading…');
      assert.match(await mainText(page), 'Quick data');
      await watch.look(page, `${size}-loading`);
      slowGate.open();
      await slow.getByText('Slow data for Acme Ltd').waitFor({ timeout: 10_000 });
      assert.not.match((await slow.textContent()) ?? '', 'Loading…');
      await watch.look(page, `${size}-filled`);
    } finally {
      await ctx.close();
    }
  });
}

test('no console errors, CSP violations, overflow or accessibility findings', () => {
  assert.equal(watch.problems, []);
  assert.equal(art.a11y, []);
});

test.run();
