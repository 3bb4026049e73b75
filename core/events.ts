// A typed in-process event bus. Names are `<owner>.<thing>.<verb>` and declared up front
// (a plugin's `events` list); subscribers run only after the publishing transaction commits,
// and a failing subscriber is logged without breaking the publisher.
import type { Logger } from 'pino';
import { afterCommit, type Db, type Trx } from './db/index.ts';
import { AtriumError } from './errors.ts';

/** Payloads by event name. A plugin adds its own by declaration merging, e.g. in
 *  plugins/files/events.ts: `declare module '../../core/events.ts' { interface AtriumEvents { 'files.file.uploaded': {...} } }` */
export interface AtriumEvents {
  'core.user.created': { userId: string };
  'core.user.login': { userId: string };
  'core.workspace.created': { workspaceId: string };
  'core.membership.created': { workspaceId: string; userId: string; role: string };
  'core.settings.updated': { keys: string[] };
  'core.invitation.created': { invitationId: string; workspaceId: string; role: string };
  'core.invitation.accepted': { invitationId: string; workspaceId: string; userId: string; role: string };
  'core.invitation.revoked': { invitationId: string; workspaceId: string };
  'core.membership.removed': { workspaceId: string; userId: string; role: string };
  'core.user.passwordChanged': { userId: string; via: 'account' | 'reset' | 'welcome' };
  'core.user.emailChanged': { userId: string };
  'core.user.disabled': { userId: string };
  'core.user.enabled': { userId: string };
  'core.user.roleChanged': { userId: string; from: string; to: string };
  'core.mfa.enabled': { userId: string };
  'core.mfa.disabled': { userId: string; by: 'self' | 'admin' };
  /** An approvable subject got a new current version (core/approvables.ts). */
  'core.approvable.revised': { workspaceId: string; type: string; subjectId: string; versionId: string; number: number; sha256: string };
}

export const KERNEL_EVENTS = [
  'core.user.created',
  'core.user.login',
  'core.workspace.created',
  'core.membership.created',
  'core.settings.updated',
  'core.invitation.created',
  'core.invitation.accepted',
  'core.invitation.revoked',
  'core.membership.removed',
  'core.user.passwordChanged',
  'core.user.emailChanged',
  'core.user.disabled',
  'core.user.enabled',
  'core.user.roleChanged',
  'core.mfa.enabled',
  'core.mfa.disabled',
  'core.approvable.revised',
] as const;

type Payload<K extends string> = K extends keyof AtriumEvents ? AtriumEvents[K] : unknown;
type Handler<K extends string> = (payload: Payload<K>, meta: { name: K; at: number }) => unknown;

export class EventBus {
  private readonly declared = new Map<string, string>();
  private readonly handlers = new Map<string, Array<Handler<string>>>();

  constructor(private readonly logger: Logger) {}

  /** Declare an event name for an owner. Declaring a name twice throws. */
  declare(name: string, owner: string): void {
    const prev = this.declared.get(name);
    if (prev) throw new AtriumError('ATR_PLUGIN_DUPLICATE_EVENT', `"${name}" declared by ${prev} and ${owner}`);
    this.declared.set(name, owner);
  }

  isDeclared(name: string): boolean {
    return this.declared.has(name);
  }

  subscribe<K extends string>(name: K, handler: Handler<K>): () => void {
    const list = this.handlers.get(name) ?? [];
    list.push(handler as Handler<string>);
    this.handlers.set(name, list);
    return () => {
      const i = list.indexOf(handler as Handler<string>);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Publish `name` once `trx` commits (immediately when given the plain db handle).
   * Never delivered for a rolled-back change.
   */
  publish<K extends string>(trx: Db | Trx, name: K, payload: Payload<K>): void {
    if (!this.declared.has(name)) throw new AtriumError('ATR_EVENT_UNDECLARED', name);
    afterCommit(trx, () => this.deliver(name, payload));
  }

  private async deliver(name: string, payload: unknown): Promise<void> {
    const at = Date.now();
    for (const h of [...(this.handlers.get(name) ?? [])]) {
      try {
        await h(payload as never, { name, at });
      } catch (err) {
        this.logger.error({ err, event: name }, 'event subscriber failed');
      }
    }
  }
}
