// Plugin loading: dependency order, and every way a plugin set can be wrong, refused with its code.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkAndSort, sortByRequires, type LoadedPlugin } from '../core/plugins/loader.ts';
import { definePlugin, validatePlugin } from '../core/plugins/define.ts';
import { Container, Tokens, token } from '../core/container.ts';
import { AtriumError } from '../core/errors.ts';
import { startApp, fixturePlugin, FIXTURE, freshDatabase } from './helpers/app.ts';
import { order } from './fixtures/plugins/dep-base/index.ts';
import { fixtureState, FixtureServiceToken } from './fixtures/plugins/fixture/index.ts';

const test = suite('plugins');

async function bootError(plugins: string[], settings?: Record<string, unknown>): Promise<AtriumError> {
  try {
    const app = await startApp({ plugins, overrides: settings ? { plugins: { settings } } : undefined });
    await app.close();
  } catch (err) {
    if (err instanceof AtriumError) return err;
    throw err;
  }
  throw new Error(`booting ${plugins.join(', ')} should have failed`);
}

function fake(id: string, requires: string[] = []): LoadedPlugin {
  return { id, ref: id, source: 'builtin', migrationsDir: undefined, viewsDir: undefined, settings: {}, def: validatePlugin({ id, version: '1.0.0', kernel: '^1.0.0', requires }, id) };
}

test('a dependency is ordered before its dependent, whatever the config order', () => {
  const sorted = sortByRequires([fake('approvals', ['files']), fake('invoices', ['approvals', 'files']), fake('files')]);
  assert.equal(sorted.map((p) => p.id), ['files', 'approvals', 'invoices']);
});

test('a cycle is refused with ATR_PLUGIN_CYCLE naming every member', () => {
  try {
    sortByRequires([fake('a', ['b']), fake('b', ['c']), fake('c', ['a'])]);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AtriumError);
    assert.is((err as AtriumError).code, 'ATR_PLUGIN_CYCLE');
    assert.match((err as AtriumError).message, 'a -> b -> c -> a');
  }
});

test('a duplicate id is refused with ATR_PLUGIN_DUPLICATE_ID', () => {
  try {
    checkAndSort([fake('files'), { ...fake('files'), ref: '@acme/files' }], { plugins: { enabled: [], settings: {} } });
    assert.unreachable();
  } catch (err) {
    assert.is((err as AtriumError).code, 'ATR_PLUGIN_DUPLICATE_ID');
    assert.match((err as AtriumError).message, '@acme/files');
  }
});

test('definePlugin rejects unknown keys and bad ids, naming them', () => {
  try {
    definePlugin({ id: 'Files_Plugin', version: '1.0.0', kernel: '^1.0.0' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as AtriumError).code, 'ATR_PLUGIN_INVALID');
    assert.match((err as AtriumError).message, 'id');
  }
  try {
    definePlugin({ id: 'files', version: '1.0.0', kernel: '^1.0.0', route() {} } as never);
    assert.unreachable();
  } catch (err) {
    assert.match((err as AtriumError).message, 'route: unknown key');
  }
});

test('boot: register runs in dependency order (dep-top listed first)', async () => {
  order.length = 0;
  const app = await startApp({ plugins: [fixturePlugin('dep-top'), fixturePlugin('dep-base')] });
  assert.equal(order, ['dep-base', 'dep-top']);
  assert.equal(app.kernel.plugins.map((p) => p.id), ['dep-base', 'dep-top']);
  await app.close();
});

test('boot: a cycle stops start-up with ATR_PLUGIN_CYCLE', async () => {
  const err = await bootError([fixturePlugin('cycle-a'), fixturePlugin('cycle-b')]);
  assert.is(err.code, 'ATR_PLUGIN_CYCLE');
  assert.match(err.message, 'cycle-a');
  assert.match(err.message, 'cycle-b');
});

test('boot: a missing dependency stops start-up with ATR_PLUGIN_MISSING_DEP naming both', async () => {
  const err = await bootError([fixturePlugin('needs-missing')]);
  assert.is(err.code, 'ATR_PLUGIN_MISSING_DEP');
  assert.match(err.message, 'needs-missing requires not-installed');
});

test('boot: a plugin written for another kernel major is refused', async () => {
  const err = await bootError([fixturePlugin('future-kernel')]);
  assert.is(err.code, 'ATR_PLUGIN_KERNEL_RANGE');
  assert.match(err.message, 'future-kernel');
});

test('boot: an unknown plugin id or package is ATR_PLUGIN_NOT_FOUND', async () => {
  const err = await bootError(['no-such-plugin-anywhere']);
  assert.is(err.code, 'ATR_PLUGIN_NOT_FOUND');
  assert.match(err.message, 'no-such-plugin-anywhere');
});

test('boot: an invalid raw definition names the unknown key', async () => {
  const err = await bootError([fixturePlugin('bad-definition')]);
  assert.is(err.code, 'ATR_PLUGIN_INVALID');
  assert.match(err.message, 'routs: unknown key');
});

test('boot: a definition refused by definePlugin keeps its code through the loader', async () => {
  const err = await bootError([fixturePlugin('invalid-defined')]);
  assert.is(err.code, 'ATR_PLUGIN_INVALID');
  assert.match(err.message, 'kernal: unknown key');
});

test('boot: the same plugin enabled twice is ATR_PLUGIN_DUPLICATE_ID', async () => {
  const err = await bootError([FIXTURE, `${FIXTURE}/`]);
  assert.is(err.code, 'ATR_PLUGIN_DUPLICATE_ID');
});

test('boot: re-registering a kernel token is refused (ATR_CONTAINER_DUPLICATE_TOKEN)', async () => {
  const err = await bootError([fixturePlugin('steals-db-token')]);
  assert.is(err.code, 'ATR_CONTAINER_DUPLICATE_TOKEN');
  assert.match(err.message, 'core:db');
});

test('boot: two plugins exporting the same token are refused', async () => {
  const err = await bootError([fixturePlugin('same-token-a'), fixturePlugin('same-token-b')]);
  assert.is(err.code, 'ATR_CONTAINER_DUPLICATE_TOKEN');
  assert.match(err.message, 'same-token-b');
});

test('boot: plugin settings are validated by the plugin schema; unknown plugin settings refused', async () => {
  let err = await bootError([FIXTURE], { fixture: { greeting: 42 } });
  assert.is(err.code, 'ATR_PLUGIN_SETTINGS_INVALID');
  assert.match(err.message, 'plugins.settings.fixture.greeting');
  err = await bootError([FIXTURE], { ghost: {} });
  assert.match(err.message, 'plugins.settings.ghost');
});

test('container: a child sees root services; exports are visible to all; duplicates throw', () => {
  const root = Container.createRoot();
  root.provide(Tokens.Clock, { useValue: { now: () => 1 } });
  const a = root.createChild('a');
  const b = root.createChild('b');
  const Svc = token<string>('a:svc');
  const Private = token<string>('a:private');
  a.export(Svc, { useValue: 'shared' });
  a.provide(Private, { useValue: 'mine' });
  assert.is(b.resolve(Svc), 'shared');
  assert.is(a.resolve(Tokens.Clock).now(), 1);
  assert.not.ok(b.has(Private));
  assert.throws(() => b.provide(Tokens.Clock, { useValue: { now: () => 2 } }), (e: AtriumError) => e.code === 'ATR_CONTAINER_DUPLICATE_TOKEN');
  assert.throws(() => b.resolve(Private), (e: AtriumError) => e.code === 'ATR_CONTAINER_UNKNOWN_TOKEN');
});

test('lifecycle: register -> routes -> bootstrap on boot, destroy on stop; exported service resolvable', async () => {
  fixtureState.reset();
  const app = await startApp({ plugins: [FIXTURE] });
  assert.equal(fixtureState.calls, ['register', 'routes', 'bootstrap']);
  assert.is(app.kernel.container.resolve(FixtureServiceToken).greet('Ada'), 'Hello, Ada');
  await app.close();
  assert.equal(fixtureState.calls, ['register', 'routes', 'bootstrap', 'destroy']);
});

test('a failing plugin hook stops boot with ATR_PLUGIN_HOOK_FAILED naming the plugin', async () => {
  const db = await freshDatabase();
  const { boot } = await import('../core/boot.ts');
  const { testConfig } = await import('./helpers/app.ts');
  const pino = (await import('pino')).default;
  const config = testConfig(db, { plugins: [FIXTURE], overrides: { plugins: { settings: { fixture: { greeting: 'Hi' } } } } });
  // The fixture's bootstrap throws this once.
  const { default: fixture } = await import('./fixtures/plugins/fixture/index.ts');
  const original = fixture.bootstrap;
  fixture.bootstrap = () => {
    throw new Error('cannot start worker');
  };
  try {
    await boot({ config, logger: pino({ level: 'silent' }) });
    assert.unreachable();
  } catch (err) {
    assert.is((err as AtriumError).code, 'ATR_PLUGIN_HOOK_FAILED');
    assert.match((err as AtriumError).message, 'fixture.bootstrap: cannot start worker');
  } finally {
    fixture.bootstrap = original;
    await db.drop();
  }
});

test.run();
