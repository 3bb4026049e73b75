// Money: minor units per currency, three-decimal quantities, per-line rounding half away from
// zero, tax exclusive and inclusive, currencies with 0 (JPY) and 3 (KWD, BHD) minor digits.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatMoney, invoiceTotals, lineAmounts, minorDigits, parseAmount, parseDecimal, roundDiv } from '../../../plugins/invoices/money.ts';

const test = suite('invoices money');

test('ISO 4217 minor digits: JPY 0, EUR 2, KWD and BHD 3; amounts parse to minor units', () => {
  assert.is(minorDigits('JPY'), 0);
  assert.is(minorDigits('EUR'), 2);
  assert.is(minorDigits('KWD'), 3);
  assert.is(minorDigits('BHD'), 3);
  assert.is(parseAmount('1200', 'JPY'), 1200);
  assert.is(parseAmount('12.5', 'JPY'), null, 'yen has no decimals');
  assert.is(parseAmount('12.5', 'EUR'), 1250);
  assert.is(parseAmount('1,234.56', 'EUR'), 123456);
  assert.is(parseAmount('12.345', 'EUR'), null, 'more decimals than the currency has');
  assert.is(parseAmount('12.345', 'KWD'), 12345);
  assert.is(parseAmount('-10.00', 'EUR'), null, 'negative only where asked');
  assert.is(parseAmount('-10.00', 'EUR', { negative: true }), -1000);
  assert.is(parseAmount('1e3', 'EUR'), null);
  assert.is(parseDecimal('1.125', 3), 1125n);
  assert.is(parseDecimal('1.1255', 3), null);
});

test('rounding is half away from zero, from the exact product', () => {
  assert.is(roundDiv(5n, 10n), 1n);
  assert.is(roundDiv(4n, 10n), 0n);
  assert.is(roundDiv(15n, 10n), 2n);
  assert.is(roundDiv(25n, 10n), 3n, 'not banker’s: 2.5 -> 3');
  assert.is(roundDiv(-25n, 10n), -3n);
});

test('tax exclusive: net rounded per line, tax rounded per line, totals are sums of lines', () => {
  // 1.125 x 10.01 = 11.26125 -> 11.26; tax 20% of 11.26 = 2.252 -> 2.25
  assert.equal(lineAmounts({ quantity: 1125, unitPrice: 1001, taxRate: 2000, discount: 0 }, 'exclusive'), { net: 1126, tax: 225, total: 1351 });
  // 3 lines of 0.333 x 0.05 at 7.5%: 0.01665 -> 0.02 each; tax 0.0015 -> 0.00
  const t = invoiceTotals([1, 2, 3].map(() => ({ quantity: 333, unitPrice: 5, taxRate: 750, discount: 0 })), 'exclusive');
  assert.is(t.subtotal, 6);
  assert.is(t.tax, 0);
  assert.is(t.total, 6);
  // a half cent rounds up: 2.5 x 0.01 = 0.025 -> 0.03
  assert.equal(lineAmounts({ quantity: 2500, unitPrice: 1, taxRate: 0, discount: 0 }, 'exclusive').net, 3);
  // discount 12.5% of 3 x 33.33 = 99.99 -> 87.49125 -> 87.49; tax 19% = 16.6231 -> 16.62
  assert.equal(lineAmounts({ quantity: 3000, unitPrice: 3333, taxRate: 1900, discount: 1250 }, 'exclusive'), { net: 8749, tax: 1662, total: 10411 });
});

test('tax inclusive: the line total is the price, tax is taken out of it', () => {
  // 1 x 120.00 at 20% inclusive: tax 20.00, net 100.00
  assert.equal(lineAmounts({ quantity: 1000, unitPrice: 12000, taxRate: 2000, discount: 0 }, 'inclusive'), { net: 10000, tax: 2000, total: 12000 });
  // 1 x 9.99 at 19% inclusive: tax 9.99 x 19/119 = 1.595 -> 1.60, net 8.39
  assert.equal(lineAmounts({ quantity: 1000, unitPrice: 999, taxRate: 1900, discount: 0 }, 'inclusive'), { net: 839, tax: 160, total: 999 });
  const t = invoiceTotals([{ quantity: 1000, unitPrice: 999, taxRate: 1900, discount: 0 }, { quantity: 2000, unitPrice: 1000, taxRate: 700, discount: 0 }], 'inclusive');
  assert.is(t.total, 999 + 2000);
  assert.is(t.subtotal + t.tax, t.total);
  assert.equal(t.byRate.map((b) => b.rate), [1900, 700]);
});

test('JPY (no minor unit): 2.5 x ¥333 = ¥832.5 -> ¥833, 10% tax 83.3 -> ¥83', () => {
  assert.equal(lineAmounts({ quantity: 2500, unitPrice: 333, taxRate: 1000, discount: 0 }, 'exclusive'), { net: 833, tax: 83, total: 916 });
  assert.is(formatMoney(1234567, 'JPY'), 'JPY 1,234,567');
});

test('KWD and BHD (three minor digits): 1.333 x 7.125 = 9.497625 -> 9.498', () => {
  assert.equal(lineAmounts({ quantity: 1333, unitPrice: 7125, taxRate: 0, discount: 0 }, 'exclusive'), { net: 9498, tax: 0, total: 9498 });
  // BHD VAT 10% inclusive on 1.100: tax 0.100, net 1.000
  assert.equal(lineAmounts({ quantity: 1000, unitPrice: 1100, taxRate: 1000, discount: 0 }, 'inclusive'), { net: 1000, tax: 100, total: 1100 });
  assert.is(formatMoney(9498, 'KWD'), 'KWD 9.498');
  assert.is(formatMoney(-1250, 'EUR'), 'EUR -12.50');
});

test('large amounts stay exact (BigInt products)', () => {
  const l = lineAmounts({ quantity: 999_999_999, unitPrice: 9_999_999, taxRate: 2500, discount: 333 }, 'exclusive');
  assert.ok(Number.isSafeInteger(l.total));
  assert.is(l.total, l.net + l.tax);
});

test.run();
