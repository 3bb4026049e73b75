// Periodic jobs run once per period across processes (core/jobs.ts): many runners racing for the
// same period, each with its own holder id, as separate processes would, against one database.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, ON_PG, type TestApp } from './helpers/app.ts';
import { ManualClock } from '../core/clock.ts';
import { JobRunner } from '../core/jobs.ts';
import { Tokens } from '../core/container.ts';

const test = suite(`jobs (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
const clock = new ManualClock(Date.UTC(2026, 10, 28, 12));
let app: TestApp;

test.before(async () => {
  app = await startApp({ clock });
});
test.after(() => app.close());

test('ten runners racing for one period: the job runs exactly once', async () => {
  const runners = Array.from({ length: 10 }, () => new JobRunner(app.kernel.db, clock));
  let runs = 0;
  const results = await Promise.all(runners.map((r) => r.runOnce('test.race', 60_000, async () => ++runs)));
  assert.is(runs, 1);
  assert.is(results.filter((r) => r.ran).length, 1);
  const row = await app.kernel.db('job_runs').where({ name: 'test.race' }).first();
  assert.is(Number(row.next_run_at), clock.now() + 60_000);
  assert.ok(runners.some((r) => r.holder === row.holder), 'the winner is recorded');
  assert.ok(row.finished_at != null);
});

test('within the period nobody runs it again; after it, exactly one runner does', async () => {
  const runners = Array.from({ length: 5 }, () => new JobRunner(app.kernel.db, clock));
  let runs = 0;
  clock.advance(59_000);
  await Promise.all(runners.map((r) => r.runOnce('test.race', 60_000, async () => ++runs)));
  assert.is(runs, 0);
  clock.advance(1_000);
  await Promise.all(runners.map((r) => r.runOnce('test.race', 60_000, async () => ++runs)));
  assert.is(runs, 1);
});

test('a failing job keeps its period claimed (no tight retry loop) and runs again next period', async () => {
  const r = new JobRunner(app.kernel.db, clock);
  const failed = await r.runOnce('test.fail', 1_000, async () => {
    throw new Error('boom');
  }).then(() => '', (err: Error) => err.message);
  assert.is(failed, 'boom');
  assert.is((await r.runOnce('test.fail', 1_000, async () => 1)).ran, false);
  clock.advance(1_000);
  assert.is((await r.runOnce('test.fail', 1_000, async () => 1)).ran, true);
});

test('the runner is a kernel service in the container', () => {
  assert.ok(app.kernel.container.resolve(Tokens.Jobs) instanceof JobRunner);
});

test('every: ticks claim their period, one run at a time, errors reported, stop waits for the run', async () => {
  const runner = new JobRunner(app.kernel.db, clock);
  let runs = 0;
  let release!: () => void;
  const errors: unknown[] = [];
  const handle = runner.every(
    'test.every',
    20,
    async () => {
      runs++;
      clock.advance(1_000); // the next tick's claim is due again
      if (runs === 2) throw new Error('second run fails');
      if (runs === 3) await new Promise<void>((r) => (release = r));
    },
    { runNow: true, onError: (err) => errors.push(err) },
  );
  while (runs < 3) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 80)); // ticks while the third run hangs: none overlaps
  assert.is(runs, 3, 'no second run while one is in progress');
  assert.is(errors.length, 1);
  assert.match(String(errors[0]), 'second run fails');
  let stopped = false;
  const stopping = handle.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.not.ok(stopped, 'stop waits for the run in progress');
  release();
  await stopping;
  await new Promise((r) => setTimeout(r, 60));
  assert.is(runs, 3, 'no run after stop');
});

test.run();
