// Approvable subjects: the kernel's contract between a plugin that owns something people approve
// (a file version, a quote, a design) and the plugin that runs approvals. The owner registers a
// subject type here; approvals asks the registry to describe a subject, always through a workspace
// scope, so a subject of another workspace simply is not found. Neither plugin imports the other.
//
//   approvables.register('files', { type: 'files.version', label: 'File', describe, send, pages, pageImage })
//   await approvables.revised(trx, { workspaceId, type, subjectId, versionId, number, sha256 })
//   approvables.onRevised(async (trx, revision) => { ... })   // runs inside that same transaction
//
// A revision is also published as the kernel event `core.approvable.revised` (after commit).
import type { Request, Response } from 'express';
import type { Db, Trx } from './db/index.ts';
import type { EventBus } from './events.ts';
import type { PermissionRegistry } from './permissions.ts';
import type { WorkspaceRole } from './plugins/define.ts';
import type { WorkspaceScope } from './tenancy.ts';
import type { DocumentPages, PageImage } from './document-pages.ts';
import { AtriumError } from './errors.ts';

/** One subject at one version, as the owner describes it. Every field is safe to show its readers. */
export interface ApprovableSubject {
  type: string;
  subjectId: string;
  /** A human title ("Brand guidelines.pdf"). */
  title: string;
  /** Where the subject lives, relative to the workspace root (`/files/f/<id>`). */
  path: string;
  versionId: string;
  versionNumber: number;
  /** SHA-256 (hex) of the exact bytes of this version. */
  sha256: string;
  size?: number;
  contentType?: string;
  /** False when the subject is internal to the firm: clients may then neither see nor approve it. */
  clientVisible: boolean;
}

export interface ApprovableType {
  /** `<plugin>.<thing>`, e.g. `files.version`. */
  type: string;
  /** What a person calls it ("File"). */
  label: string;
  /** The subject at its current version, or at `versionId`; undefined when it does not exist in this workspace. */
  describe(scope: WorkspaceScope, subjectId: string, opts?: { versionId?: string }): Promise<ApprovableSubject | undefined>;
  /**
   * Stream the exact bytes of one version to `res` (a download from an approval page or link).
   * Resolves false when there is nothing to send (the caller answers 404). Optional.
   */
  send?(req: Request, res: Response, scope: WorkspaceScope, subjectId: string, versionId: string): Promise<boolean>;
  /**
   * The pages of one version as images, to read it where it is decided (core/document-pages.ts);
   * undefined when the version is not in this workspace. Optional: without it the approval pages
   * offer the download only.
   */
  pages?(scope: WorkspaceScope, subjectId: string, versionId: string): Promise<DocumentPages | undefined>;
  /** Page `n`'s image of one version; undefined when there is no such page or it is not in `scope`. */
  pageImage?(scope: WorkspaceScope, subjectId: string, versionId: string, n: number): Promise<PageImage | undefined>;
}

export interface ApprovableRevision {
  workspaceId: string;
  type: string;
  subjectId: string;
  versionId: string;
  number: number;
  sha256: string;
}

export type RevisionListener = (trx: Trx, revision: ApprovableRevision) => Promise<void>;

export class ApprovableRegistry {
  private readonly types = new Map<string, ApprovableType & { owner: string }>();
  private readonly listeners: RevisionListener[] = [];

  constructor(
    private readonly events: EventBus,
    private readonly permissions: PermissionRegistry,
  ) {}

  /** Declare a subject type (from a plugin's `register`). A type registered twice throws. */
  register(owner: string, def: ApprovableType): void {
    if (!/^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9]*$/.test(def.type)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: approvable type "${def.type}" must be <plugin>.<thing>`);
    if (!def.type.startsWith(`${owner}.`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: approvable type "${def.type}" must start with "${owner}."`);
    const prev = this.types.get(def.type);
    if (prev) throw new AtriumError('ATR_PLUGIN_INVALID', `approvable type "${def.type}" registered by ${prev.owner} and ${owner}`);
    this.types.set(def.type, { ...def, owner });
  }

  /** The registered types (for a "what can be approved" list). */
  list(): Array<{ type: string; label: string; owner: string }> {
    return [...this.types.values()].map((t) => ({ type: t.type, label: t.label, owner: t.owner }));
  }

  has(type: string): boolean {
    return this.types.has(type);
  }

  label(type: string): string {
    return this.types.get(type)?.label ?? 'Item';
  }

  /** Describe a subject inside `scope`'s workspace; undefined for an unknown type or subject. */
  async describe(scope: WorkspaceScope, type: string, subjectId: string, opts: { versionId?: string } = {}): Promise<ApprovableSubject | undefined> {
    const t = this.types.get(type);
    if (!t || !subjectId) return undefined;
    const s = await t.describe(scope, subjectId, opts);
    // The owner answers for its own type only: anything else is treated as not found.
    return s && s.type === type && s.subjectId === subjectId ? s : undefined;
  }

  /** Stream one version's bytes; false when the type cannot, or the version is not in `scope`. */
  async send(req: Request, res: Response, scope: WorkspaceScope, type: string, subjectId: string, versionId: string): Promise<boolean> {
    const t = this.types.get(type);
    if (!t?.send) return false;
    return t.send(req, res, scope, subjectId, versionId);
  }

  /** A version's pages as images; undefined when the type cannot show pages or the version is not in `scope`. */
  async pages(scope: WorkspaceScope, type: string, subjectId: string, versionId: string): Promise<DocumentPages | undefined> {
    const t = this.types.get(type);
    if (!t?.pages || !subjectId || !versionId) return undefined;
    return t.pages(scope, subjectId, versionId);
  }

  /** Page `n` of a version as an image; undefined when there is none (the caller answers 404). */
  async pageImage(scope: WorkspaceScope, type: string, subjectId: string, versionId: string, n: number): Promise<PageImage | undefined> {
    const t = this.types.get(type);
    if (!t?.pageImage || !subjectId || !versionId) return undefined;
    return t.pageImage(scope, subjectId, versionId, n);
  }

  /** Called by approvals (or any plugin) to act on a revision inside the reporting transaction. */
  onRevised(listener: RevisionListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * The owner reports that a subject has a new current version, in `trx`. Listeners run inside
   * `trx` (a failure rolls the report back with them); the event follows the commit.
   */
  async revised(trx: Trx, revision: ApprovableRevision): Promise<void> {
    if (!this.types.has(revision.type)) throw new AtriumError('ATR_PLUGIN_INVALID', `approvable type "${revision.type}" is not registered`);
    for (const l of [...this.listeners]) await l(trx, revision);
    this.events.publish(trx, 'core.approvable.revised', revision);
  }

  /**
   * The people of a workspace whose role lets them `action` on `subject` (e.g. decide Approval):
   * members only, enabled accounts only, by the same abilities their requests get.
   */
  async peopleWhoCan(db: Db | Trx, workspaceId: string, action: string, subject: string): Promise<Array<{ userId: string; name: string; email: string; role: string; staff: boolean }>> {
    const rows = (await db('memberships as m')
      .join('users as u', 'u.id', 'm.user_id')
      .where('m.workspace_id', workspaceId)
      .andWhere('u.disabled', false)
      .orderBy('u.name')
      .limit(1000)
      .select('u.id', 'u.name', 'u.email', 'u.firm_role', 'm.role')) as Array<{ id: string; name: string; email: string; firm_role: string | null; role: string }>;
    return rows
      .filter((r) => this.permissions.abilityFor((r.firm_role as never) ?? null, r.role as WorkspaceRole).can(action, subject))
      .map((r) => ({ userId: String(r.id), name: String(r.name), email: String(r.email), role: String(r.role), staff: Boolean(r.firm_role) }));
  }
}
