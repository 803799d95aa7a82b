// Money as the API holds it: integer minor units and an ISO 4217 code. Amounts are formatted
// for reading (the only place a division happens) and parsed from what a person types by
// moving the decimal point in the text, so no floating point ever reaches the server.

const digitsCache = new Map();
export function minorDigits(currency) {
  if (!digitsCache.has(currency)) {
    let d = 2;
    try { d = new Intl.NumberFormat(undefined, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits; } catch { /* unknown code: cents */ }
    digitsCache.set(currency, d);
  }
  return digitsCache.get(currency);
}

/** 123456 EUR → "€1,234.56"; compact: "€1.2K". */
export function fmtMoney(amount, currency, { compact = false } = {}) {
  if (amount == null || !currency) return '';
  const major = Number(amount) / 10 ** minorDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, compact
      ? { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }
      : { style: 'currency', currency }).format(major);
  } catch { return `${major} ${currency}`; }
}

/** Totals [{currency, amount}] as one short line: "€12K · $3.4K". */
export const fmtTotals = (totals, key = 'amount', opts = { compact: true }) =>
  (totals || []).filter((t) => t[key]).map((t) => fmtMoney(t[key], t.currency, opts)).join(' · ');

/** "1,234.5" in EUR → 123450; null for empty; NaN for what is not an amount. */
export function parseAmount(text, currency) {
  const s = String(text || '').trim().replace(/[\s,'’_]/g, '');
  if (!s) return null;
  const m = /^(\d+)(?:\.(\d*))?$/.exec(s);
  const d = minorDigits(currency);
  if (!m || (m[2] || '').length > d) return NaN;
  const minor = m[1] + (m[2] || '').padEnd(d, '0');
  const n = Number(minor.replace(/^0+(?=\d)/, ''));
  return Number.isSafeInteger(n) ? n : NaN;
}

/** Minor units back to editable text: 123450 EUR → "1234.50". */
export function amountText(amount, currency) {
  if (amount == null) return '';
  const d = minorDigits(currency);
  const s = String(amount).padStart(d + 1, '0');
  return d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
}

/** amount × probability / 100, rounded half up, in integers (as the server does). */
export const weightedOf = (amount, probability) => Math.floor((amount * probability + 50) / 100);
