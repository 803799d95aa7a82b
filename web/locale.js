// Countries, time zones and the way dates are written: the person's own choice, else their
// organization's. Names of countries come from the browser (Intl), in its language.

/** ISO 3166-1 alpha-2, the codes the server accepts in addresses. */
export const COUNTRIES = 'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'.split(' ');

let countryNames = null;
export function countryName(code) {
  if (!code) return '';
  try {
    countryNames = countryNames || new Intl.DisplayNames(undefined, { type: 'region' });
    return countryNames.of(code) || code;
  } catch { return code; }
}

/** [{value, label}] sorted by name, for a select; an unknown stored value stays choosable. */
export function countryOptions(current, { empty = null } = {}) {
  const list = COUNTRIES.map((c) => ({ value: c, label: countryName(c) }))
    .sort((a, b) => a.label.localeCompare(b.label));
  if (current && !COUNTRIES.includes(current)) list.unshift({ value: current, label: current });
  return empty == null ? list : [{ value: '', label: empty }, ...list];
}

/** The patterns the server accepts (values::DATE_FORMATS). */
export const DATE_FORMATS = ['mmm d, yyyy', 'd mmm yyyy', 'yyyy-mm-dd', 'dd/mm/yyyy', 'mm/dd/yyyy', 'dd.mm.yyyy'];

export function timeZones() {
  let zones = [];
  try { zones = Intl.supportedValuesOf('timeZone'); } catch { zones = []; }
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}

export const browserZone = () => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; } };

// What dates and times are written in now; set from the session by applyPrefs().
const prefs = { format: 'mmm d, yyyy', zone: undefined };

export function applyPrefs(user, org) {
  prefs.format = (user && user.date_format) || (org && org.date_format) || 'mmm d, yyyy';
  const zone = user && user.time_zone;
  prefs.zone = zone && isZone(zone) ? zone : undefined;
  exactFmt = null;
}

function isZone(z) {
  try { new Intl.DateTimeFormat(undefined, { timeZone: z }); return true; } catch { return false; }
}

/** Year, month (1-12) and day of a moment in the person's zone. */
function parts(d) {
  const f = new Intl.DateTimeFormat('en-US', { timeZone: prefs.zone, year: 'numeric', month: 'numeric', day: 'numeric' });
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return { y: +p.year, m: +p.month, d: +p.day };
}

const pad = (n) => String(n).padStart(2, '0');

/** A date written in a pattern; `withYear: false` leaves the year out where the pattern allows. */
export function formatDate(date, { format = prefs.format, withYear = true, zone = true } = {}) {
  const d = date instanceof Date ? date : new Date(date);
  if (isNaN(d)) return '';
  const { y, m, d: day } = zone ? parts(d) : { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() };
  const mon = new Intl.DateTimeFormat(undefined, { month: 'short', timeZone: 'UTC' }).format(new Date(Date.UTC(2000, m - 1, 1)));
  switch (format) {
    case 'd mmm yyyy': return withYear ? `${day} ${mon} ${y}` : `${day} ${mon}`;
    case 'yyyy-mm-dd': return `${y}-${pad(m)}-${pad(day)}`;
    case 'dd/mm/yyyy': return `${pad(day)}/${pad(m)}/${y}`;
    case 'mm/dd/yyyy': return `${pad(m)}/${pad(day)}/${y}`;
    case 'dd.mm.yyyy': return `${pad(day)}.${pad(m)}.${y}`;
    default: return withYear ? `${mon} ${day}, ${y}` : `${mon} ${day}`;
  }
}

/** A calendar date (yyyy-mm-dd, no time of day) in the person's pattern. */
export const formatDay = (ymd) => formatDate(new Date(ymd + 'T00:00:00Z'), { zone: false });

let exactFmt = null;
/** The exact moment: the date in the person's pattern and the time of day in their zone. */
export function formatExact(date) {
  const d = date instanceof Date ? date : new Date(date);
  if (isNaN(d)) return '';
  exactFmt = exactFmt || new Intl.DateTimeFormat(undefined, { timeZone: prefs.zone, hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });
  return `${formatDate(d)}, ${exactFmt.format(d)}`;
}

const SPELLED = { 'yyyy-mm-dd': 'year-month-day', 'dd/mm/yyyy': 'day/month/year', 'mm/dd/yyyy': 'month/day/year', 'dd.mm.yyyy': 'day.month.year' };

/** Today's date in each pattern, to show in pickers (numbers say which is the day). */
export const dateFormatOptions = (empty) => [
  ...(empty ? [{ value: '', label: empty }] : []),
  ...DATE_FORMATS.map((f) => ({ value: f, label: formatDate(new Date(), { format: f }) + (SPELLED[f] ? ` (${SPELLED[f]})` : '') })),
];
