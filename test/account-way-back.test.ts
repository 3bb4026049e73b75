// Account pages belong to no workspace: each shows the way back, in both themes — a client to
// their (last) workspace, firm staff to the staff overview.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import type { HttpClient } from './helpers/http.ts';

const test = suite('account: the way back');
const apps: Record<string, TestApp> = {};

test.before(async () => {
  for (const theme of ['default', 'ledger']) {
    apps[theme] = await startApp({ theme });
    await setupOwner(apps[theme]!);
    await seedDemo(apps[theme]!.kernel, { actorId: null }, DEMO_PASSWORD);
  }
});
test.after(async () => {
  for (const app of Object.values(apps)) await app.close();
});

async function as(app: TestApp, email: string): Promise<HttpClient> {
  const c = app.client();
  assert.is((await c.login(email, DEMO_PASSWORD)).status, 303, email);
  return c;
}

const backLink = (html: string) => /<p class="back-link"><a href="([^"]+)">.*?Back to ([^<]+)<\/a><\/p>/.exec(html);

for (const theme of ['default', 'ledger']) {
  test(`${theme}: a client with one workspace finds it again from /account and its subpages`, async () => {
    const app = apps[theme]!;
    const ada = await as(app, 'ada@northwind.example');
    for (const path of ['/account', '/account/notifications', '/account/password', '/account/email']) {
      const page = await ada.get(path);
      assert.is(page.status, 200, path);
      const link = backLink(page.text);
      assert.ok(link, `${path} has a way back`);
      assert.is(link![1], '/w/northwind/');
      assert.is(link![2], 'Northwind Traders');
    }
    assert.not.ok(backLink((await ada.get('/w/northwind/')).text), 'not on workspace pages, which have their own navigation');
  });

  test(`${theme}: firm staff go back to the staff overview`, async () => {
    const app = apps[theme]!;
    const sam = await as(app, 'sam.staff@firm.example');
    const link = backLink((await sam.get('/account')).text);
    assert.ok(link);
    assert.is(link![1], '/staff/');
    assert.is(link![2], 'the staff overview');
  });
}

test('a client in several workspaces goes back to the one they last opened', async () => {
  const app = apps.default!;
  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  await owner.get('/w/globex/invitations');
  await owner.postForm('/w/globex/invitations', { email: 'ben@northwind.example', role: 'client_viewer' });
  const { lastMailTo, linkIn, pathOf } = await import('./identity/support.ts');
  const link = pathOf(linkIn((await lastMailTo(app, 'ben@northwind.example')).text, '/invite/'));
  const ben = await as(app, 'ben@northwind.example');
  await ben.get(link);
  assert.is((await ben.postForm(link, {})).status, 303);
  await ben.get('/w/globex/');
  assert.is(backLink((await ben.get('/account')).text)![1], '/w/globex/');
  await ben.get('/w/northwind/');
  assert.is(backLink((await ben.get('/account')).text)![1], '/w/northwind/');
});

test.run();
