// Shared set-up for the messaging tests: the approvals tests' world (one workspace, staff and a
// client of each role, signed in, a manual clock) with `files` and `messaging` enabled, and the
// mail batch job run by hand.
import { approvalsWorld, type World } from '../approvals/helpers.ts';
import type { StartOptions } from '../../helpers/app.ts';
import { runMailBatches } from '../../../plugins/messaging/mail.ts';
import type { MessagingDeps } from '../../../plugins/messaging/service.ts';
import { depsOfKernel } from './support.ts';

export type { World };

export async function messagingWorld(opts: StartOptions & { slug?: string; messaging?: Record<string, unknown> } = {}): Promise<World> {
  return approvalsWorld({
    plugins: ['files', 'messaging'],
    ...opts,
    overrides: { storage: { orphanGraceMinutes: 0 }, plugins: { settings: { messaging: { jobIntervalSeconds: 3600, ...(opts.messaging ?? {}) } } }, ...(opts.overrides ?? {}) },
  });
}

/** The plugin's services for a job run from a test. */
export const depsFor = (w: World, settings: Record<string, unknown> = {}): MessagingDeps => depsOfKernel(w.app.kernel, settings);

export const mailBatches = (w: World, settings: Record<string, unknown> = {}) => runMailBatches(depsFor(w, settings));

/** The id in a `/messaging/t/<id>` location. */
export const threadIdIn = (location: string | null) => /\/messaging\/t\/([0-9a-f-]{36})/.exec(location ?? '')?.[1] ?? null;
