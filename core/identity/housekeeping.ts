// Periodic clean-up any process may run at any time: expired sessions, spent or expired
// reset / invitation / email-change tokens and reply-by-email addresses past a grace period, and
// idle throttle rows.
import type { Services } from '../services.ts';

const EVERY_MS = 10 * 60_000;
/** Spent tokens are kept a week, so "this link was already used" can still be told apart. */
const KEEP_SPENT_MS = 7 * 24 * 3_600_000;

export async function sweepOnce(s: Pick<Services, 'db' | 'clock' | 'sessions' | 'throttle'> & { links?: Services['links']; inbound?: Services['inbound'] }): Promise<void> {
  const cutoff = s.clock.now() - KEEP_SPENT_MS;
  await s.sessions.sweep();
  await s.throttle.sweep();
  await s.links?.sweep(KEEP_SPENT_MS);
  await s.inbound?.sweep(KEEP_SPENT_MS);
  for (const table of ['password_resets', 'email_changes']) {
    await s.db(table).where('expires_at', '<', cutoff).delete();
  }
}

export function startHousekeeping(s: Pick<Services, 'db' | 'clock' | 'sessions' | 'throttle' | 'logger' | 'links' | 'inbound' | 'jobs'>): { stop(): void } {
  const timer = setInterval(() => {
    // Once per period across processes: the deletes are idempotent, but there is no point in
    // every process repeating them.
    s.jobs.runOnce('core.housekeeping', EVERY_MS - 5_000, () => sweepOnce(s)).catch((err) => s.logger.warn({ err }, 'housekeeping failed'));
  }, EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
