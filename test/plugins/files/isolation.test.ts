// The isolation kit over every route of the files plugin: A's people acting on B's workspace and
// B's ids get 404 and change nothing; B's canary (file and folder names) never reaches A.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runIsolationKit, type SeedContext } from '../../kit/isolation.ts';
import { FILES_GET_WRITES, FILES_VOLATILE, seedFiles } from './seed.ts';

const test = suite('files isolation');

async function seed(ctx: SeedContext) {
  return (await seedFiles(ctx)).values;
}

test('every files route x method x role: A acting on B gets 404, changes nothing, never sees B', async () => {
  const report = await runIsolationKit({
    plugins: ['files'],
    seed,
    volatileTables: FILES_VOLATILE,
    getWrites: FILES_GET_WRITES,
  });
  const mine = report.routes.filter((r) => r.path.startsWith('/w/:workspace/files'));
  assert.ok(mine.length >= 20, `${mine.length} files routes enumerated`);
  assert.equal(report.violations, []);
});

test.run();
