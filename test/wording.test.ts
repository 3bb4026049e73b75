// Wording: possessives of names ("Partners’", not "Partners’s") on pages and in mail; role names
// and permission rules in words on the admin pages (never `client_admin` or raw JSON conditions).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { conditionsInWords, membershipRoleName, possessive, roleName } from '../core/wording.ts';
import type { HttpClient } from './helpers/http.ts';
import { lastMailTo } from './identity/support.ts';

const test = suite('wording');
let app: TestApp;
let owner: HttpClient;

test.before(async () => {
  app = await startApp({ plugins: ['team', 'files', 'approvals', 'signatures'] });
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

test('roles and rules in words', () => {
  assert.is(roleName('client_admin'), 'Client admin');
  assert.is(roleName('admin'), 'Firm admin');
  assert.is(roleName(null), 'Client');
  assert.is(roleName('custom-notes-reader', { 'custom-notes-reader': 'Notes reader' }), 'Notes reader');
  assert.is(roleName('custom-gone_role'), 'Gone role', 'an unknown key is still words');
  assert.is(membershipRoleName('staff'), 'Account team');
  assert.is(conditionsInWords({ area: 'shared', client_access: { $in: ['upload', 'manage'] } }), 'area is shared and client access is upload or manage');
  assert.is(conditionsInWords({ user_id: '$person.id', status: 'pending' }), 'it is their own and status is pending');
  assert.is(conditionsInWords({ status: { $nin: ['draft', 'void'] }, archived: false }), 'status is neither draft nor void and not archived');
  assert.is(conditionsInWords({ size: { $lte: 10 }, note: { $exists: false } }), 'size is at most 10 and note is not set');
  assert.is(conditionsInWords({ tags: { $elemMatch: { a: 1 } } }), 'tags meets a further condition');
});

test('admin pages: role names in words, permission rules in words, no raw keys or JSON', async () => {
  owner.csrf = undefined;
  const roles = await owner.get('/admin/roles');
  assert.is(roles.status, 200);
  assert.match(roles.text, 'Client admin');
  assert.match(roles.text, 'When area is shared and client access is upload or manage');
  assert.match(roles.text, 'When it is their own');
  assert.not.match(roles.text, '$in');
  assert.not.match(roles.text, '&quot;');
  assert.not.match(roles.text, '$person');
  const people = await owner.get('/admin/people');
  const rowOf = (email: string) => new RegExp(`<tr>(?:(?!</tr>).)*${email.replace(/\./g, '\\.')}(?:(?!</tr>).)*</tr>`, 's').exec(people.text)?.[0] ?? '';
  assert.match(rowOf('owner@harbor.example'), '>Owner<');
  assert.match(rowOf('sam.staff@firm.example'), '>Staff<');
  assert.match(rowOf('ada@northwind.example'), '>Client<');
  assert.not.match(people.text, '>owner<');
  const ada = await app.kernel.db('users').where({ email: 'ada@northwind.example' }).first('id');
  const adaPage = await owner.get(`/admin/people/${ada.id}`);
  assert.match(adaPage.text, 'Client admin');
  assert.not.match(adaPage.text, 'client_admin');
  const sam = await app.kernel.db('users').where({ email: 'sam.staff@firm.example' }).first('id');
  const samPage = await owner.get(`/admin/people/${sam.id}`);
  assert.match(samPage.text, 'Account team');
  assert.not.match(samPage.text, '<td>staff</td>');
});

test.run();
