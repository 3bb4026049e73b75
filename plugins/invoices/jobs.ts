// The invoices plugin's background work: recurring invoices (recurring.ts) and payment reminders
// (reminders.ts), every `jobIntervalSeconds`. The kernel's job runner lets one process claim each
// period; inside a run every period and every reminder step is claimed again by a unique row and
// a conditional update, so even two overlapping runs make each invoice and send each reminder once.
import { Tokens, type BootstrapContext, type JobRunner } from '../../core/index.ts';
import { runRecurring } from './recurring.ts';
import { runReminders } from './reminders.ts';
import type { InvoicesDeps } from './service.ts';
import type { InvoicesSettings } from './settings.ts';

/** One pass of both jobs through `jobs` (a process's runner); what each did, when it ran. */
export async function runBillingJobs(jobs: Pick<JobRunner, 'runOnce'>, deps: InvoicesDeps, periodMs: number) {
  const every = Math.max(1000, periodMs - 5_000);
  // Each job on its own: one failing does not stop the other (the error is logged).
  const failed = (job: string) => (err: unknown) => {
    deps.logger.error({ err, job }, 'invoices job failed');
    return { ran: true };
  };
  const recurring = await jobs.runOnce('invoices.recurring', every, () => runRecurring(deps)).catch(failed('recurring'));
  const reminders = await jobs.runOnce('invoices.reminders', every, () => runReminders(deps)).catch(failed('reminders'));
  return { recurring, reminders };
}

const running = new WeakMap<object, { timer?: NodeJS.Timeout; running?: Promise<unknown> }>();

export function startBillingJobs(ctx: BootstrapContext<InvoicesSettings>, deps: InvoicesDeps): void {
  const jobs = ctx.container.resolve(Tokens.Jobs);
  const periodMs = ctx.settings.jobIntervalSeconds * 1000;
  const state: { timer?: NodeJS.Timeout; running?: Promise<unknown> } = {};
  const run = () => {
    state.running ??= runBillingJobs(jobs, deps, periodMs)
      .catch((err) => ctx.logger.error({ err }, 'invoices jobs failed'))
      .finally(() => (state.running = undefined));
  };
  run();
  state.timer = setInterval(run, periodMs);
  state.timer.unref();
  running.set(ctx, state);
}

export async function stopBillingJobs(ctx: BootstrapContext<InvoicesSettings>): Promise<void> {
  const state = running.get(ctx);
  if (state?.timer) clearInterval(state.timer);
  await state?.running;
}
