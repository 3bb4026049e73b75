// Navigation items and dashboard widgets contributed by the kernel and plugins. Each carries
// the ability it needs; a request sees only what its ability allows.
import type { AppAbility } from './permissions.ts';
import type { NavItem, SubjectAction, Widget } from './plugins/define.ts';
import type { Area } from './http/context.ts';

export interface NavLink {
  label: string;
  href: string;
  current: boolean;
  /** A count loaded after the page (`href` answers the number) and refreshed on the live `event`. */
  badge?: { href: string; event: string; label: string };
}

/** A widget's key: its card's id (`widget-<key>`) and the last part of its late URL. */
export const widgetKey = (w: { owner: string; id: string }): string => `${w.owner}-${w.id}`;

interface OwnedNav extends NavItem {
  owner: string;
}
interface OwnedWidget extends Widget {
  owner: string;
  settings: unknown;
}

export class NavigationRegistry {
  private readonly nav: OwnedNav[] = [];
  private readonly widgets: OwnedWidget[] = [];
  private readonly actions: Array<SubjectAction & { owner: string }> = [];

  addNav(owner: string, items: NavItem[]): void {
    for (const item of items) this.nav.push({ ...item, owner });
    this.nav.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.label.localeCompare(b.label));
  }

  addWidgets(owner: string, items: Widget[], settings: unknown): void {
    for (const w of items) this.widgets.push({ ...w, owner, settings });
    this.widgets.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.title.localeCompare(b.title));
  }

  links(area: Area, ability: AppAbility, currentPath: string, workspaceSlug?: string): NavLink[] {
    if (area === 'public') return [];
    const base = area === 'workspace' ? `/w/${workspaceSlug}` : `/${area}`;
    const out: NavLink[] = [];
    for (const item of this.nav) {
      if (item.area !== area) continue;
      if (item.can && !ability.can(item.can[0], item.can[1])) continue;
      const href = item.path === '/' ? `${base}/` : `${base}${item.path}`;
      const current = item.path === '/' ? currentPath === `${base}/` || currentPath === base : currentPath.startsWith(href);
      const badge = item.badge ? { href: `${base}${item.badge.path}`, event: item.badge.event, label: item.badge.label } : undefined;
      out.push({ label: item.label, href, current, ...(badge ? { badge } : {}) });
    }
    return out;
  }

  addActions(owner: string, items: SubjectAction[]): void {
    for (const a of items) this.actions.push({ ...a, owner });
    this.actions.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.label.localeCompare(b.label));
  }

  /** The actions other plugins offer on this row of `subject`, for this ability, as links. */
  actionsFor(subject: string, ability: AppAbility, workspaceSlug: string, row: { id: string } & Record<string, unknown>): Array<{ label: string; href: string }> {
    const out: Array<{ label: string; href: string }> = [];
    for (const a of this.actions) {
      if (a.subject !== subject) continue;
      if (a.can && !ability.can(a.can[0], a.can[1])) continue;
      try {
        if (a.when && !a.when(row)) continue;
      } catch {
        continue; // a faulty predicate hides its own action, never the page
      }
      out.push({ label: a.label, href: `/w/${workspaceSlug}${a.path.replace(/:id\b/g, encodeURIComponent(row.id))}` });
    }
    return out;
  }

  /** Every widget's key (`<owner>-<id>`, its card's id and its late URL's last part) in `area`. */
  widgetKeys(area: 'workspace' | 'staff'): string[] {
    return this.widgets.filter((w) => w.area === area).map(widgetKey);
  }

  widgetsFor(area: 'workspace' | 'staff', ability: AppAbility): OwnedWidget[] {
    return this.widgets.filter((w) => w.area === area && (!w.can || ability.can(w.can[0], w.can[1])));
  }
}
