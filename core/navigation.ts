// Navigation items and dashboard widgets contributed by the kernel and plugins. Each carries
// the ability it needs; a request sees only what its ability allows.
import type { AppAbility } from './permissions.ts';
import type { NavItem, Widget } from './plugins/define.ts';
import type { Area } from './http/context.ts';

export interface NavLink {
  label: string;
  href: string;
  current: boolean;
}

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
      out.push({ label: item.label, href, current });
    }
    return out;
  }

  widgetsFor(area: 'workspace' | 'staff', ability: AppAbility): OwnedWidget[] {
    return this.widgets.filter((w) => w.area === area && (!w.can || ability.can(w.can[0], w.can[1])));
  }
}
