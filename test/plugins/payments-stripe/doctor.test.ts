// `atrium doctor` with payments-stripe: plugins contribute checks (core/cli/doctor.ts
// checkPlugins); a test-mode key in production is flagged (config env or NODE_ENV), so is the
// tests-only apiBase, and a live key outside production; no finding ever shows a key.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPlugins } from '../../../core/cli/doctor.ts';
import { loadConfig } from '../../../core/config/load.ts';
import { stripeDoctor } from '../../../plugins/payments-stripe/doctor.ts';
import { settingsSchema } from '../../../plugins/payments-stripe/settings.ts';
import { cliEnv, freshDatabase } from '../../helpers/app.ts';
import { SECRET_KEY, WEBHOOK_SECRET } from './helpers.ts';

const test = suite('payments-stripe doctor');
const LIVE_KEY = 'sk_live_atriumNotARealKey0001';
const config = (env: string, stripe: Record<string, unknown>) =>
  loadConfig({ env: {}, overrides: { env, plugins: { enabled: ['invoices', 'payments-stripe'], settings: { 'payments-stripe': { webhookSecret: WEBHOOK_SECRET, ...stripe } } } } });
const codes = (f: Array<{ code: string }>) => f.map((x) => x.code);

test('a test key in production is flagged, without showing the key', async () => {
  const findings = await checkPlugins(config('production', { secretKey: SECRET_KEY }));
  assert.ok(codes(findings).includes('STRIPE001_TEST_KEY_IN_PRODUCTION'), JSON.stringify(findings));
  const text = JSON.stringify(findings);
  assert.not.ok(text.includes(SECRET_KEY) || text.includes(WEBHOOK_SECRET));
  assert.match(findings.find((f) => f.code === 'STRIPE001_TEST_KEY_IN_PRODUCTION')!.message, /^payments-stripe: /);
});

test('a live key in production is fine; apiBase in production and a live key in development are flagged', async () => {
  assert.equal(codes(await checkPlugins(config('production', { secretKey: LIVE_KEY }))), []);
  assert.equal(codes(await checkPlugins(config('production', { secretKey: LIVE_KEY, apiBase: 'http://127.0.0.1:4010' }))), ['STRIPE003_API_BASE_SET']);
  assert.equal(codes(await checkPlugins(config('development', { secretKey: LIVE_KEY }))), ['STRIPE002_LIVE_KEY_OUTSIDE_PRODUCTION']);
  assert.equal(codes(await checkPlugins(config('development', { secretKey: SECRET_KEY }))), []);
});

test('NODE_ENV=production counts as production too', () => {
  const settings = settingsSchema.parse({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET });
  assert.equal(codes(stripeDoctor({ config: { env: 'development' }, settings }, { NODE_ENV: 'production' })), ['STRIPE001_TEST_KEY_IN_PRODUCTION']);
});

test('plugins that cannot be loaded are a finding, not a crash', async () => {
  const findings = await checkPlugins(loadConfig({ env: {}, overrides: { plugins: { enabled: ['payments-stripe'], settings: {} } } }));
  assert.equal(codes(findings), ['DOC023_PLUGINS_NOT_LOADED']);
});

test('`atrium doctor` prints the plugin finding (and --strict fails)', async () => {
  const db = await freshDatabase();
  try {
    const file = join(db.dataDir, 'stripe-config.json');
    writeFileSync(file, JSON.stringify({ plugins: { enabled: ['invoices', 'payments-stripe'], settings: { 'payments-stripe': { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET } } } }));
    const env = cliEnv(db, { ATRIUM_CONFIG: file, ATRIUM_ENV: 'production' });
    const run = promisify(execFile);
    const out = await run(process.execPath, ['bin/atrium.js', 'doctor', '--strict'], { env, timeout: 120_000 }).then(
      (r) => ({ code: 0, text: r.stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, text: e.stdout + e.stderr }),
    );
    assert.is(out.code, 1);
    assert.match(out.text, 'STRIPE001_TEST_KEY_IN_PRODUCTION');
    assert.not.ok(out.text.includes(SECRET_KEY) || out.text.includes(WEBHOOK_SECRET), 'no key in the output');
  } finally {
    await db.drop();
  }
});

test.run();
