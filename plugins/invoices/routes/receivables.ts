// The receivables page, /staff/invoices (the firm's people who may issue invoices): for each client
// workspace they work in, per currency, the open invoices, what is outstanding, what is overdue and
// what was received this month; the totals by currency on top; sortable columns, a page at a time,
// and the same rows as CSV. "This month" is the calendar month in the reader's time zone.
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { authorize, contentDisposition, notFound } from '../../../core/index.ts';
import { decimalString, formatMoney, minorDigits } from '../money.ts';
import { csvCell, csvNumber, receivables, SORTS, totalsByCurrency, type ReceivablesQuery, type Sort } from '../receivables.ts';
import type { InvoicesDeps } from '../service.ts';

const PAGE = 25;
const CSV_MAX = 10_000;
/** Amounts read largest first; the client's name A to Z. */
const NATURAL: Record<Sort, 'asc' | 'desc'> = { client: 'asc', outstanding: 'desc', overdue: 'desc', paid: 'desc', open: 'desc' };
const LABELS: Record<Sort, string> = { client: 'Client', open: 'Open invoices', outstanding: 'Outstanding', overdue: 'Overdue', paid: 'Received this month' };

const query = z.object({
  sort: z.enum(SORTS).catch('outstanding').default('outstanding'),
  dir: z.enum(['asc', 'desc']).optional().catch(undefined),
  mine: z.enum(['1']).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
});

export function receivablesRoutes(staff: Router, deps: InvoicesDeps): void {
  const { db } = deps;

  async function params(req: Request) {
    // The firm's side only: the staff area lets in staff, admins and owners; invoices need issue.
    if (!req.ctx.ability.can('issue', 'Invoice')) throw notFound();
    const q = query.parse(req.query);
    const user = req.ctx.user!;
    const now = deps.clock.now();
    const zone = user.timeZone ?? (await deps.branding.get()).timeZone;
    const [y, m] = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit' }).format(now).split('-').map(Number) as [number, number];
    const rq: ReceivablesQuery = { user: { id: user.id, firmRole: user.firmRole }, mine: Boolean(q.mine), now, month: { from: Date.UTC(y, m - 1, 1), to: Date.UTC(y, m, 1) } };
    const monthName = new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(rq.month.from);
    return { q, rq, dir: q.dir ?? NATURAL[q.sort], monthName, seesAll: user.firmRole === 'owner' || user.firmRole === 'admin', today: new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(now) };
  }

  staff.get('/', authorize('issue', 'Invoice'), async (req: Request) => {
    const { q, rq, dir, monthName, seesAll } = await params(req);
    const first = await receivables(db, rq, { sort: q.sort, dir, limit: PAGE, offset: (q.page - 1) * PAGE });
    const pages = Math.max(1, Math.ceil(first.total / PAGE));
    const page = Math.min(q.page, pages);
    const got = page === q.page ? first : await receivables(db, rq, { sort: q.sort, dir, limit: PAGE, offset: (page - 1) * PAGE });
    const totals = await totalsByCurrency(db, rq);
    const link = (over: Record<string, string>) => `/staff/invoices/?${new URLSearchParams({ sort: q.sort, dir, ...(q.mine ? { mine: '1' } : {}), page: String(page), ...over })}`;
    const column = (s: Sort, num = true) => {
      const current = q.sort === s;
      const next = current ? (dir === 'asc' ? 'desc' : 'asc') : NATURAL[s];
      return { label: LABELS[s], href: link({ sort: s, dir: next, page: '1' }), sort: current ? (dir === 'asc' ? 'ascending' : 'descending') : 'none', num };
    };
    const money = (v: number, c: string) => formatMoney(v, c);
    await req.ctx.render(
      'invoices/receivables',
      {
        monthName,
        columns: [column('client', false), { label: 'Currency' }, column('open'), column('outstanding'), column('overdue'), column('paid')],
        rows: got.rows.map((r) => ({
          name: r.name,
          href: `/w/${r.slug}/invoices/?status=open`,
          overdueHref: `/w/${r.slug}/invoices/?status=overdue`,
          currency: r.currency,
          open: r.open,
          outstanding: money(r.outstanding, r.currency),
          overdue: r.overdue ? money(r.overdue, r.currency) : null,
          paid: r.paid ? money(r.paid, r.currency) : null,
        })),
        totals: totals.map((t) => ({ currency: t.currency, open: t.open, outstanding: money(t.outstanding, t.currency), overdue: money(t.overdue, t.currency), paid: money(t.paid, t.currency) })),
        total: got.total,
        page,
        pages,
        prev: page > 1 ? link({ page: String(page - 1) }) : null,
        next: page < pages ? link({ page: String(page + 1) }) : null,
        csvHref: `/staff/invoices/receivables.csv?${new URLSearchParams({ sort: q.sort, dir, ...(q.mine ? { mine: '1' } : {}) })}`,
        chips: seesAll
          ? [
              { label: 'All clients', href: `/staff/invoices/?${new URLSearchParams({ sort: q.sort, dir })}`, current: !q.mine },
              { label: 'On my team', href: `/staff/invoices/?${new URLSearchParams({ sort: q.sort, dir, mine: '1' })}`, current: Boolean(q.mine) },
            ]
          : [],
      },
      { title: 'Receivables' },
    );
  });

  staff.get('/receivables.csv', authorize('issue', 'Invoice'), async (req: Request, res: Response) => {
    const { q, rq, dir, monthName, today } = await params(req);
    const { rows } = await receivables(db, rq, { sort: q.sort, dir, limit: CSV_MAX, offset: 0 });
    const amount = (v: number, c: string) => csvNumber(decimalString(v, minorDigits(c)));
    const lines = [
      ['Client', 'Currency', 'Open invoices', 'Outstanding', 'Overdue', `Received in ${monthName}`].map(csvCell).join(','),
      ...rows.map((r) => [csvCell(r.name), csvCell(r.currency), csvNumber(String(r.open)), amount(r.outstanding, r.currency), amount(r.overdue, r.currency), amount(r.paid, r.currency)].join(',')),
    ];
    const body = `\uFEFF${lines.join('\r\n')}\r\n`;
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', contentDisposition(`Receivables ${today}.csv`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  });
}
