// The statement of account in the period pack, as CSV and as PDF: per currency, the opening
// balance (everything before the period), each entry of the period (invoices, voids, credit notes,
// payments and refunds, from ledger.ts) with the running balance, and the closing balance. Amounts
// are minor units formatted with the currency's digits. The CSV streams (a page of rows at a time);
// the PDF is built in memory, so it lists at most `PDF_MAX_ROWS` entries and says where the rest are.
import { decimalString, formatMoney, minorDigits } from './money.ts';
import { CSV_BOM, csvRow } from './csv.ts';
import { ReportPdf } from './report-pdf.ts';
import { statementSections, type CurrencySection, type LedgerEntry, type LedgerQuery } from './ledger.ts';
import type { PackContext } from './pack.ts';

export const PDF_MAX_ROWS = 2_000;

/** The sections with something to say: a balance, or entries in the period. */
async function* sections(q: LedgerQuery): AsyncGenerator<{ section: CurrencySection; entries: AsyncGenerator<LedgerEntry>; first: LedgerEntry | undefined }> {
  for (const section of await statementSections(q)) {
    const entries = section.entries();
    const head = await entries.next();
    if (section.opening === 0 && head.done) continue;
    yield { section, entries, first: head.done ? undefined : head.value };
  }
}

async function* withFirst(first: LedgerEntry | undefined, rest: AsyncGenerator<LedgerEntry>): AsyncGenerator<LedgerEntry> {
  if (first) yield first;
  yield* rest;
}

export const STATEMENT_COLUMNS = ['Currency', 'Date', 'Entry', 'Reference', 'Description', 'Charges', 'Credits', 'Balance'];

/** The statement as CSV lines. */
export async function* statementCsv(ctx: PackContext): AsyncGenerator<string> {
  yield CSV_BOM + csvRow(STATEMENT_COLUMNS);
  const { period } = ctx;
  for await (const { section, entries, first } of sections(ctx.ledger)) {
    const d = minorDigits(section.currency);
    // A negative balance (in credit) in accounting brackets: a cell starting with '-' would be
    // neutralised as a formula (csv.ts), and spreadsheets read "(12.50)" as -12.50.
    const amount = (m: number) => (m < 0 ? `(${decimalString(-m, d)})` : decimalString(m, d));
    let balance = section.opening;
    yield csvRow([section.currency, period.fromDay, 'Opening balance', '', `Balance before ${period.fromDay}`, '', '', amount(balance)]);
    let lines = '';
    for await (const e of withFirst(first, entries)) {
      balance += e.amount;
      lines += csvRow([section.currency, e.day, e.entry, e.reference, e.description, e.amount > 0 ? amount(e.amount) : '', e.amount < 0 ? amount(-e.amount) : '', amount(balance)]);
      if (lines.length > 16_384) {
        yield lines;
        lines = '';
      }
    }
    yield lines + csvRow([section.currency, period.toDay, 'Closing balance', '', `Balance at the end of ${period.toDay}`, '', '', amount(balance)]);
  }
}

/** The statement as a PDF. */
export async function statementPdf(ctx: PackContext): Promise<Uint8Array> {
  const { period, firm } = ctx;
  const pdf = await ReportPdf.create({ firm, title: 'Statement of account', date: ctx.preparedAt });
  pdf.fact('Client', ctx.workspace.name);
  pdf.fact('Period', `${period.fromDay} to ${period.toDay} (both included)`);
  pdf.fact('Prepared on', ctx.preparedDay);
  pdf.gap();
  pdf.para(`Dates are days in ${firm.name}'s time zone (${period.timeZone}). Amounts are in each section's currency. Charges add to what is owed; credits (payments, credit notes, voided invoices) take from it.`, { grey: true });
  let rows = 0;
  let any = false;
  for await (const { section, entries, first } of sections(ctx.ledger)) {
    any = true;
    const money = (m: number) => formatMoney(m, section.currency).slice(section.currency.length + 1);
    let balance = section.opening;
    pdf.heading(`In ${section.currency}`);
    pdf.table([
      { label: 'Date', width: 11 },
      { label: 'Entry', width: 16 },
      { label: 'Reference', width: 14 },
      { label: 'Description', width: 24 },
      { label: 'Charges', width: 11, align: 'right' },
      { label: 'Credits', width: 11, align: 'right' },
      { label: 'Balance', width: 13, align: 'right' },
    ]);
    pdf.row([period.fromDay, 'Opening balance', '', '', '', '', money(balance)], { strong: true });
    let hidden = 0;
    for await (const e of withFirst(first, entries)) {
      balance += e.amount;
      if (rows >= PDF_MAX_ROWS) {
        hidden++;
        continue;
      }
      rows++;
      pdf.row([e.day, e.entry, e.reference, e.description, e.amount > 0 ? money(e.amount) : '', e.amount < 0 ? money(-e.amount) : '', money(balance)]);
    }
    if (hidden) pdf.row(['', `${hidden} more`, '', 'Listed in statement.csv', '', '', '']);
    pdf.row([period.toDay, 'Closing balance', '', '', '', '', money(balance)], { strong: true });
    pdf.para(`Closing balance: ${formatMoney(balance, section.currency)}${balance > 0 ? ' owed' : balance < 0 ? ' in credit' : ''}.`);
  }
  if (!any) pdf.para('Nothing was invoiced or paid in this period, and nothing was owed before it.');
  return pdf.save();
}
