// Wording: possessives of names ("Partners’", not "Partners’s") on pages and in mail.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { possessive } from '../core/wording.ts';
import type { HttpClient } from './helpers/http.ts';
import { lastMailTo } from './identity/support.ts';

const test = suite('wording');
let app: TestApp;
let owner: HttpClient;

test.before(async () => {
  app = await startApp();
  owner = (await setupOwner(app)).client;
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
});

test('possessive: ’s, or only ’ after a final s', () => {
  assert.is(possessive('Harbor & Vale'), 'Harbor & Vale’s');
  assert.is(possessive('Vale Partners'), 'Vale Partners’');
  assert.is(possessive('ACME SYSTEMS '), 'ACME SYSTEMS’');
  assert.is(possessive(''), '');
});

test('a firm named "… Partners": the sign-in page and the invitation mail say "Partners’", never "Partners’s"', async () => {
  await owner.get('/admin/branding');
  assert.is((await owner.postForm('/admin/branding', { firmName: 'Vale Partners', primary: '#0B3D2E', accent: '#8A1C4A' })).status, 303);
  const login = await app.client().get('/login');
  assert.match(login.text, 'Welcome to Vale Partners’ client portal.');
  assert.not.match(login.text, 'Partners’s');
  owner.csrf = undefined;
  await owner.get('/w/northwind/invitations');
  assert.is((await owner.postForm('/w/northwind/invitations', { email: 'new.person@northwind.example', role: 'client_member' })).status, 303);
  const mail = await lastMailTo(app, 'new.person@northwind.example');
  assert.match(mail.text, 'on Vale Partners’ client portal');
  assert.not.match(mail.text + mail.html, 'Partners’s');
});

test.run();
