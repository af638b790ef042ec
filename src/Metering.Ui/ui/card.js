// Card checks done in the page before anything is sent; the server validates again.
// Nothing here keeps, logs or stores the number.

export function digits(value) {
  return String(value ?? '').replace(/[\s-]/g, '');
}

/** The Luhn checksum every card number carries. */
export function luhn(number) {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

/** "MM/YY" or "MM/YYYY" into {month, year}, or null. */
export function parseExpiry(value) {
  const m = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(value ?? '');
  if (!m) return null;
  const month = Number(m[1]);
  const year = m[2].length === 2 ? 2000 + Number(m[2]) : Number(m[2]);
  return month >= 1 && month <= 12 ? { month, year } : null;
}

/** Field name -> message key for each problem; empty when the card may be sent. */
export function validateCard({ holderName, number, expiry, cvc }, today = new Date()) {
  const errors = {};
  if (!holderName?.trim()) errors.holderName = 'errHolder';
  if (!luhn(digits(number))) errors.number = 'errNumber';
  const exp = parseExpiry(expiry);
  if (!exp) errors.expiry = 'errExpiry';
  else if (exp.year < today.getFullYear() || (exp.year === today.getFullYear() && exp.month < today.getMonth() + 1)) errors.expiry = 'errExpired';
  if (!/^\d{3,4}$/.test(cvc ?? '')) errors.cvc = 'errCvc';
  return errors;
}
