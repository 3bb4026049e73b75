// View models, field by field: what a page may show of a thread and a message. An internal note
// reaches a model only for a reader whose rules let repo.ts select it in the first place.
import type { Request } from 'express';
import Handlebars from 'handlebars';
import { formatBytes } from '../../core/index.ts';
import type { AttachmentRow, MessageRow, ThreadRow } from './repo.ts';

export function threadTitle(t: Pick<ThreadRow, 'kind' | 'title'>): string {
  return t.kind === 'general' ? 'General' : t.title;
}

export interface MessageView {
  id: string;
  author: string;
  initials: string;
  firm: boolean;
  mine: boolean;
  internal: boolean;
  removed: boolean;
  /** The body, sanitised when it was written (markdown.ts): marked safe for the template. */
  html: Handlebars.SafeString;
  at: number;
  edited: boolean;
  viaEmail: boolean;
  attachments: Array<{ name: string; href: string; size: string }>;
  editHref?: string;
  deleteHref?: string;
  historyHref?: string;
}

const initialsOf = (name: string) =>
  name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]!.toUpperCase())
    .join('') || '?';

export function messageView(req: Request, m: MessageRow, atts: AttachmentRow[], o: { me: string; now: number; editWindowMs: number; staff: boolean; base: string }): MessageView {
  const removed = m.deleted_at != null;
  const mine = m.author_id === o.me;
  const author = m.author_name ?? 'Former user';
  return {
    id: m.id,
    author,
    initials: initialsOf(author),
    firm: m.author_firm,
    mine,
    internal: m.visibility === 'internal',
    removed,
    html: new Handlebars.SafeString(removed ? '' : m.html),
    at: m.created_at,
    edited: m.edited_at != null && !removed,
    viaEmail: m.via === 'email',
    attachments: removed ? [] : atts.map((a) => ({ name: a.name, href: `${o.base}/a/${a.id}`, size: formatBytes(a.size) })),
    editHref: !removed && mine && o.now - m.created_at <= o.editWindowMs ? `${o.base}/m/${m.id}/edit` : undefined,
    deleteHref: !removed && (mine || req.ctx.ability.can('manage', 'all')) ? `${o.base}/m/${m.id}/delete` : undefined,
    historyHref: o.staff && m.edited_at != null && !removed ? `${o.base}/m/${m.id}/history` : undefined,
  };
}
