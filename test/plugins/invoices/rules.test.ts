// One rule, two forms: the client admin's `read Invoice` (never a draft) selects the same rows in
// memory (canOnRow) and in SQL (accessibleBy), over invoices in every status.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkRuleAgreement } from '../../kit/rules.ts';
import { invoicesWorld, issue, newDraft, type World } from './helpers.ts';

const test = suite('invoices rules');
let w: World;

test.before(async () => {
  w = await invoicesWorld();
});
test.after(async () => {
  await w.app.close();
});

test('read Invoice agrees in memory and in SQL over drafts, issued, paid and void invoices', async () => {
  await newDraft(w, [['Draft', '1', '1.00', '0']]);
  const issued = (await newDraft(w, [['Issued', '1', '2.00', '0']])).id!;
  await issue(w, issued);
  const voided = (await newDraft(w, [['Void', '1', '3.00', '0']])).id!;
  await issue(w, voided);
  await w.as.staff.postForm(`/w/${w.ws.slug}/invoices/i/${voided}/void`, { reason: 'Wrong client' });
  const { checked, violations } = await checkRuleAgreement(w.app.kernel, ['invoices']);
  assert.ok(checked.length >= 1, checked.join('; '));
  assert.equal(violations, []);
});

test.run();
