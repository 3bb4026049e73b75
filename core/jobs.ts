// Periodic background work that must run once per period across every Atrium process sharing
// the database (the trash purge, sweeps, reminders), however many processes tick at once.
//
//   const ran = await jobs.runOnce('files.purge-trash', 60 * 60_000, () => purgeTrash(...));
//
// Claiming is one conditional UPDATE (`next_run_at <= now` -> `now + period`): exactly one
// process sees one row changed, on SQLite and on PostgreSQL alike; the others skip. A process that
// dies mid-run loses that period's run; the next period's claim runs the job again, so jobs must
// be idempotent (they are: each works from what is still due in the database).
import { hostname } from 'node:os';
import type { Clock } from './clock.ts';
import type { Db } from './db/index.ts';
import { newId } from './ids.ts';

export class JobRunner {
  /** This process, as recorded in `job_runs.holder` (for operators reading the table). */
  readonly holder = `${hostname().slice(0, 30)}:${process.pid}:${newId().slice(-8)}`;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Claim this period of job `name`; true if this process should run it now. */
  async claim(name: string, periodMs: number): Promise<boolean> {
    const now = this.clock.now();
    await this.db('job_runs').insert({ name, next_run_at: 0, holder: null, started_at: null, finished_at: null }).onConflict('name').ignore();
    const n = await this.db('job_runs')
      .where({ name })
      .andWhere('next_run_at', '<=', now)
      .update({ next_run_at: now + periodMs, holder: this.holder, started_at: now, finished_at: null });
    return Number(n) === 1;
  }

  /**
   * Run `fn` if this process claims the period; returns whether it ran (and its result). Errors
   * propagate to the caller (who logs them); the period stays claimed, so a failing job is not
   * retried in a tight loop by every process.
   */
  async runOnce<T>(name: string, periodMs: number, fn: () => Promise<T>): Promise<{ ran: boolean; result?: T }> {
    if (!(await this.claim(name, periodMs))) return { ran: false };
    const result = await fn();
    await this.db('job_runs').where({ name, holder: this.holder }).update({ finished_at: this.clock.now() });
    return { ran: true, result };
  }

  /**
   * Run job `name` every `periodMs` in this process, claiming each period first (so across
   * processes it runs once per period), never two runs at once here; errors go to `onError`.
   * `claimMs` (default `periodMs`) is how long a claim holds: a little under the period, so a
   * tick that comes a moment early still runs. Call `stop()` at shutdown: it waits for a run.
   */
  every(name: string, periodMs: number, fn: () => Promise<unknown>, opts: { claimMs?: number; runNow?: boolean; onError: (err: unknown) => void }): { stop(): Promise<void> } {
    let running: Promise<unknown> | undefined;
    const tick = () => {
      running ??= this.runOnce(name, opts.claimMs ?? periodMs, fn)
        .catch(opts.onError)
        .finally(() => (running = undefined));
    };
    if (opts.runNow) tick();
    const timer = setInterval(tick, periodMs);
    timer.unref();
    return {
      async stop() {
        clearInterval(timer);
        await running;
      },
    };
  }
}
