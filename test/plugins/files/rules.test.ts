// The files plugin's row-filtering grants (clients: shared only; upload and organize by the
// folder's client access) agree in memory and as SQL over the same rows.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { newId } from '../../../core/ids.ts';
import { checkRuleAgreement } from '../../kit/rules.ts';
import { filesWorld, type FilesWorld } from './helpers.ts';

const test = suite('files rules');
let w: FilesWorld;

test.before(async () => {
  w = await filesWorld();
  const now = Date.now();
  const folders = [];
  for (const area of ['shared', 'internal']) for (const access of ['view', 'upload', 'manage']) folders.push({ id: newId(), workspace_id: w.ws.id, parent_id: null, name: `${area}-${access}`, area, client_access: access, created_at: now });
  await w.app.kernel.db('files_folders').insert(folders);
  const files = ['shared', 'internal', 'shared'].map((area, i) => ({
    id: newId(),
    workspace_id: w.ws.id,
    folder_id: null,
    name: `f${i}.pdf`,
    name_key: `f${i}.pdf`,
    area,
    current_version_id: null,
    size: 10,
    content_type: 'application/pdf',
    created_at: now,
    updated_at: now,
  }));
  await w.app.kernel.db('files_files').insert(files);
});
test.after(async () => {
  await w.app.close();
});

test('every files grant with conditions: memory and SQL select the same rows', async () => {
  const { checked, violations } = await checkRuleAgreement(w.app.kernel, ['files']);
  assert.ok(checked.length >= 8, checked.join('; '));
  assert.equal(violations, []);
});

test.run();
