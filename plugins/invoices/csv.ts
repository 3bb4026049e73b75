// CSV for the period pack: RFC 4180 lines (CRLF, quoted where needed). A cell a spreadsheet would
// run as a formula (starting with =, +, -, @, tab or CR) gets a leading apostrophe, so a file name
// or a reference like `=HYPERLINK(...)` stays text (SECURITY.md 44). Amounts are written as plain
// decimals without grouping ("1234.50"), so a spreadsheet reads them as numbers. A leading '-'
// would be neutralised like a formula, so the statement splits charges and credits into two
// columns of positive amounts and writes a negative balance in accounting brackets ("(12.50)").
export function csvCell(v: string): string {
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(cells: string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** The byte-order mark spreadsheets need to read UTF-8. */
export const CSV_BOM = '\ufeff';
