// The request context every handler sees as `req.ctx`: who is asking, in which workspace,
// with which ability. Built once per request by the session middleware.
import type { Logger } from 'pino';
import type { LoadedSession } from '../identity/sessions.ts';
import type { AppAbility } from '../permissions.ts';
import type { WorkspaceRole } from '../plugins/define.ts';
import type { AuditEntry } from '../audit.ts';
import type { WorkspaceScope } from '../tenancy.ts';
import type { LinkGrant } from '../links.ts';

export type Area = 'public' | 'workspace' | 'staff' | 'admin';

export interface RenderOptions {
  title?: string;
  status?: number;
  /** `main` (default) or `auth` (a centred card for login and setup). */
  layout?: string;
}

export interface RequestContext {
  requestId: string;
  /** CSP nonce for this response's <script> tags. */
  nonce: string;
  log: Logger;
  ip: string;
  userAgent: string | null;
  session: LoadedSession | null;
  user: LoadedSession['user'];
  workspace: LoadedSession['workspace'];
  workspaceRole: WorkspaceRole | null;
  /** Queries already filtered to the current workspace (null outside /w/:workspace/). */
  scope: WorkspaceScope | null;
  /** Set on `/l/<plugin>/:token` routes once the kernel has resolved the token (core/links.ts). */
  link?: LinkGrant;
  ability: AppAbility;
  area: Area;
  /** The session's CSRF token; creates an anonymous session when there is none yet. */
  csrfToken(): Promise<string>;
  /** Render a view inside the theme layout, or as a fragment for htmx requests. */
  render(view: string, model?: object, opts?: RenderOptions): Promise<void>;
  /** Actor fields for an audit entry: who, from where. */
  actor(): Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;
  /** Actions other plugins offer on this row of `subject` ("Request approval" on a file), as links. */
  subjectActions(subject: string, row: { id: string } & Record<string, unknown>): Array<{ label: string; href: string }>;
  /** The discussion of this subject, when a plugin provides discussions and this reader may read them: render `{{> core/subject-thread thread=…}}`. */
  subjectThread(subjectType: string, subjectId: string): { href: string } | undefined;
  /** Queue a one-time message shown on the next page. */
  flash(kind: 'success' | 'info' | 'error', text: string): Promise<void>;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      ctx: RequestContext;
    }
  }
}

export {};
