// The style guide (/admin/style-guide): every component of the design system (the ui/* partials,
// core/views/ui) with a live example, how to call it and a line of guidance, rendered by the
// active theme so a theme author sees their tokens at work. Read-only; example data only.
import { Router } from 'express';
import { FILE_KIND_NAMES, ICON_NAMES } from '../../views/ui.ts';
import type { HttpDeps } from '../deps.ts';

const HOUR = 3_600_000;

export function styleGuideRoutes(deps: HttpDeps): Router {
  const r = Router();

  r.get('/admin/style-guide', async (req) => {
    const now = deps.clock.now();
    await req.ctx.render(
      'ui/style-guide',
      {
        now,
        icons: ICON_NAMES.filter((n) => !FILE_KIND_NAMES.includes(n) && n !== 'folder'),
        fileKinds: ['folder', ...FILE_KIND_NAMES],
        crumbs: [
          { label: 'Files', href: '#breadcrumb' },
          { label: 'Contracts', href: '#breadcrumb' },
        ],
        tabs: [
          { label: 'Open', href: '#tabs', current: true, count: 3 },
          { label: 'Decided', href: '#tabs' },
          { label: 'All', href: '#tabs' },
        ],
        chips: [
          { label: 'Waiting', href: '#filter-bar', current: true, count: 2 },
          { label: 'Changes requested', href: '#filter-bar', count: 1 },
          { label: 'Approved', href: '#filter-bar' },
        ],
        rows: [
          { name: 'Northwind Traders', users: 2, created: now - 30 * 24 * HOUR, status: 'Active', tone: 'success' },
          { name: 'Globex Corporation', users: 1, created: now - 3 * 24 * HOUR, status: 'Invited', tone: 'info' },
        ],
        folders: [{ name: 'Contracts', href: '#file-browser', zip: '#file-browser', badges: [] }],
        files: [
          { id: 'example-1', name: 'Engagement letter.pdf', href: '#file-browser', download: '#file-browser', size: '182 KiB', updatedAt: now - 2 * HOUR, badges: [{ text: 'Deliverable', tone: 'success' }] },
          { id: 'example-2', name: 'Budget 2026.xlsx', href: '#file-browser', download: '#file-browser', size: '24 KiB', updatedAt: now - 26 * HOUR, badges: [] },
          { id: 'example-3', name: 'Working notes.docx', href: '#file-browser', download: '#file-browser', size: '12 KiB', updatedAt: now - 50 * HOUR, badges: [{ text: 'Internal', tone: 'warning', icon: 'lock' }] },
        ],
        facts: [
          { key: 'Size', value: '182 KiB' },
          { key: 'Folder', value: 'Contracts', href: '#kv' },
          { key: 'Status', value: 'Waiting for Ada', badge: { text: 'Pending', tone: 'warning', pill: true } },
        ],
        events: [
          { text: 'Sam Okafor sent the envelope', at: now - 5 * HOUR, tone: 'info' },
          { text: 'Ada Lindqvist opened it', at: now - 3 * HOUR },
          { text: 'Ada Lindqvist signed', at: now - HOUR, tone: 'success', meta: 'from a phone' },
        ],
        flashExamples: [
          { kind: 'success', text: 'Branding saved. Everyone sees it on their next page.' },
          { kind: 'error', text: 'The file could not be uploaded: it is larger than 25 MiB.' },
        ],
        options: [
          { value: 'view', label: 'view and download', selected: true },
          { value: 'upload', label: 'also upload' },
        ],
      },
      { title: 'Style guide' },
    );
  });

  return r;
}
