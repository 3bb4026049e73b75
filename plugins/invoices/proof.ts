// The proof-of-service report in the period pack, as CSV and as PDF: every evidence item the
// enabled plugins contribute for the workspace and period (the kernel's contract in
// core/evidence.ts: deliveries and downloads, approvals, signatures...), in time order, with the
// day and time in the firm's zone. The invoices plugin knows none of them: it reads the registry.
// The CSV streams; the PDF lists at most `PDF_MAX_ROWS` items and says where the rest are.
import { formatExact } from '../../core/index.ts';
import { CSV_BOM, csvRow } from './csv.ts';
import { ReportPdf } from './report-pdf.ts';
import { PDF_MAX_ROWS } from './statement.ts';
import type { PackContext } from './pack.ts';

export const PROOF_COLUMNS = ['Date', 'Time', 'Source', 'What', 'Item', 'Detail', 'Who'];

const timeFormats = new Map<string, Intl.DateTimeFormat>();
/** `HH:MM` of `ms` in `tz` (one formatter per zone). */
function timeOf(ms: number, tz: string): string {
  let f = timeFormats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (timeFormats.size < 100) timeFormats.set(tz, f);
  }
  return f.format(ms);
}

export async function* proofCsv(ctx: PackContext): AsyncGenerator<string> {
  yield CSV_BOM + csvRow(PROOF_COLUMNS);
  const tz = ctx.period.timeZone;
  let lines = '';
  for await (const e of ctx.evidence()) {
    lines += csvRow([ctx.dayOf(e.at), timeOf(e.at, tz), e.source, e.kind, e.title, e.detail, e.who]);
    if (lines.length > 16_384) {
      yield lines;
      lines = '';
    }
  }
  if (lines) yield lines;
}

export async function proofPdf(ctx: PackContext): Promise<Uint8Array> {
  const { period, firm } = ctx;
  const pdf = await ReportPdf.create({ firm, title: 'Proof of service', date: ctx.preparedAt });
  pdf.fact('Client', ctx.workspace.name);
  pdf.fact('Period', `${period.fromDay} to ${period.toDay} (both included)`);
  pdf.fact('Prepared on', ctx.preparedDay);
  pdf.gap();
  pdf.para(`What ${firm.name} delivered and what was decided in this period, as recorded in the portal. Times are in ${firm.name}'s time zone (${period.timeZone}).`, { grey: true });
  pdf.gap();
  pdf.table([
    { label: 'When', width: 17 },
    { label: 'Source', width: 11 },
    { label: 'What', width: 15 },
    { label: 'Item', width: 24 },
    { label: 'Detail', width: 19 },
    { label: 'Who', width: 14 },
  ]);
  let rows = 0;
  let hidden = 0;
  for await (const e of ctx.evidence()) {
    if (rows >= PDF_MAX_ROWS) {
      hidden++;
      continue;
    }
    rows++;
    pdf.row([formatExact(e.at, period.timeZone), e.source, e.kind, e.title, e.detail, e.who]);
  }
  if (!rows) pdf.row(['', '', 'Nothing recorded', 'in this period', '', '']);
  if (hidden) pdf.para(`${hidden} more items are listed in proof-of-service.csv.`);
  return pdf.save();
}
