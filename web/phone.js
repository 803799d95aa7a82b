// Phone numbers for people: stored and sent in E.164 (+442079460958), shown grouped the way
// their country writes them — nationally (020 7946 0958) when the number is from the
// organization's own country, internationally (+44 20 7946 0958) otherwise. The rules are the
// server's phone library's (phone-formats.js, generated from it).
import FORMATS from './phone-formats.js';

let home = null; // the calling code of the organization's country

/** The organization's country (ISO code), whose numbers read nationally. */
export function setPhoneCountry(region) {
  home = null;
  for (const [code, r] of Object.entries(FORMATS)) if (r.region === region) home = code;
  // Countries that share a calling code with their main region (CA on +1, JE on +44).
  if (!home && region) home = SHARED[region] || null;
}
const SHARED = { CA: '1', PR: '1', JE: '44', GG: '44', IM: '44', AX: '358', VA: '39', SJ: '47', YT: '262', RE: '262', GF: '594', BL: '590', MF: '590', EH: '212', CX: '61', CC: '61', KZ: '7' };

function split(e164) {
  const m = /^\+(\d{4,16})$/.exec(String(e164 || '').trim());
  if (!m) return null;
  for (const n of [1, 2, 3]) {
    const code = m[1].slice(0, n);
    if (FORMATS[code]) return { code, national: m[1].slice(n), rules: FORMATS[code] };
  }
  return null;
}

function pick(list, national) {
  for (const f of list || []) {
    const [pattern, , leading] = f;
    try {
      if (leading && !new RegExp(`^(?:${leading})`).test(national)) continue;
      if (new RegExp(`^(?:${pattern})$`).test(national)) return f;
    } catch { /* a pattern this browser can't read: try the next */ }
  }
  return null;
}

function apply(f, national, prefixRule, np) {
  const [pattern, format] = f;
  let out = format;
  if (prefixRule) {
    const first = /\$(\d)/.exec(format);
    if (first) out = format.replace(/\$\d/, prefixRule.replace('$NP', np).replace('$FG', `$${first[1]}`));
  }
  return national.replace(new RegExp(`^(?:${pattern})$`), out);
}

/** How a stored number reads; anything that isn't E.164 comes back as it was. */
export function formatPhone(e164) {
  const p = split(e164);
  if (!p) return String(e164 || '');
  const { code, national, rules } = p;
  if (code === home) {
    const f = pick(rules.national, national);
    return f ? apply(f, national, f[3], rules.np) : national;
  }
  const f = pick(rules.international || rules.national, national);
  return `+${code} ${f ? apply(f, national, '', '') : national}`;
}
