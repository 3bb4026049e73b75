// A payment's receipt as a PDF, for the period pack: the receipt number, the invoice it pays, the
// amount, how and when it was received. Built only from the payment's and invoice's stored rows,
// dated when it was recorded, so the same receipt always gives the same bytes.
import { ReportPdf } from './report-pdf.ts';
import { formatMoney } from './money.ts';

export interface ReceiptPdf {
  firm: { name: string; address: string; colour: string };
  client: string;
  receipt: string;
  invoice: string;
  currency: string;
  /** Minor units; a refund is negative. */
  amount: number;
  invoiceTotal: number;
  method: string;
  reference: string;
  /** `YYYY-MM-DD` (the day received). */
  receivedDay: string;
  recordedAt: number;
  recordedDay: string;
}

export async function renderReceiptPdf(r: ReceiptPdf): Promise<Uint8Array> {
  const refund = r.amount < 0;
  const pdf = await ReportPdf.create({ firm: r.firm, title: `${refund ? 'Refund receipt' : 'Receipt'} ${r.receipt}`, date: r.recordedAt });
  pdf.fact('Client', r.client);
  pdf.fact('Invoice', `${r.invoice} (total ${formatMoney(r.invoiceTotal, r.currency)})`);
  pdf.fact(refund ? 'Amount refunded' : 'Amount received', formatMoney(Math.abs(r.amount), r.currency));
  pdf.fact('How', r.method);
  if (r.reference) pdf.fact('Reference', r.reference);
  pdf.fact(refund ? 'Refunded on' : 'Received on', r.receivedDay);
  pdf.fact('Recorded on', r.recordedDay);
  pdf.gap(12);
  pdf.para(refund ? `${r.firm.name} refunded this amount to ${r.client} on invoice ${r.invoice}.` : `${r.firm.name} received this payment from ${r.client} for invoice ${r.invoice}. Thank you.`);
  return pdf.save();
}
