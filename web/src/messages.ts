// What BaluPi's API and the NAS link say, in the reader's language.
//
// The API answers plain English sentences (`{"detail": …}`) and, where it has one, a stable
// machine `code`; the NAS link records its evidence as short English phrases. Both are matched
// here to translated sentences. Anything not recognised is never shown raw in another language:
// an error falls back to a sentence for its status, evidence to a neutral word (with the raw text
// as a tooltip for whoever needs it).

import { lang, t, type Key } from './i18n';

type Params = Record<string, string>;
type Rule = [RegExp, Key, (match: RegExpMatchArray) => Params];
/** A rule that refines an error code's sentence with what only the detail names (a host, a
 *  tariff); the code it belongs to comes first. */
type ErrorRule = [string, ...Rule];

const none = () => ({});

const ERRORS: ErrorRule[] = [
  [
    'plug_unavailable',
    /^No device called (.+) was found on the network/,
    'apiError.plugNotFound',
    (m) => ({ host: m[1] }),
  ],
  [
    'plug_unavailable',
    /^The plug at (.+?) did not answer/i,
    'apiError.plugNoAnswer',
    (m) => ({ address: m[1] }),
  ],
  ['plug_unavailable', /^Looking for plugs on (.+) failed/, 'apiError.discovery', none],
  [
    'plug_auth_failed',
    /^the plug at (.+) refused the Tapo credentials/i,
    'apiError.plugAuth',
    (m) => ({ address: m[1] }),
  ],
  ['plug_address_invalid', /^Not a plug address/, 'apiError.plugAddress', none],
  [
    'plug_refused',
    /^plug \d+ \((.+)\) is already the NAS plug/,
    'apiError.nasPlugTaken',
    (m) => ({ name: m[1] }),
  ],
  ['plug_refused', /^the NAS is (\w+): switching its plug off/, 'apiError.nasPlugRunning', none],
  ['tariff_invalid', /^The price has more than 6 decimal places/, 'apiError.tariffPriceDigits', none],
  [
    'tariff_invalid',
    /^The price per kWh must lie between 0 and (\d+)/,
    'apiError.tariffPriceRange',
    (m) => ({ max: m[1] }),
  ],
  ['tariff_invalid', /^Give the tariff a name/, 'apiError.tariffName', none],
  ['tariff_invalid', /^The currency must be/, 'apiError.tariffCurrency', none],
  ['tariff_invalid', /^The end date must come after the start date/, 'apiError.tariffDates', none],
  ['tariff_invalid', /^Give both a start and an end time/, 'apiError.tariffBothTimes', none],
  ['tariff_invalid', /^Give the hours in whole minutes/, 'apiError.tariffMinutes', none],
  ['tariff_invalid', /^The hours must not start and end at the same time/, 'apiError.tariffSameTime', none],
  [
    'tariff_conflict',
    /^All tariffs must use one currency; the others use (\w+)/,
    'apiError.tariffOneCurrency',
    (m) => ({ currency: m[1] }),
  ],
  [
    'tariff_conflict',
    /^This tariff overlaps “(.+)” \(from ([\d-]+)(?: until ([\d-]+))?\)/,
    'apiError.tariffOverlap',
    (m) => ({
      name: m[1],
      from: m[2],
      until: m[3] ?? '…',
    }),
  ],
];

/** A sentence for an API refusal, in the reader's language; null when none is known.
 *
 *  By `code` first: a rule of that code that fills in what the detail names, else the code's own
 *  sentence (`apiError.code.<code>`). Only an answer without a code (a BaluHost-compatible route,
 *  a plug's stored last error) is matched by its English text alone. */
export function translatedError(detail: string, code?: string): string | null {
  if (code) {
    for (const [ruleCode, pattern, key, params] of ERRORS) {
      const match = ruleCode === code ? detail.match(pattern) : null;
      if (match) return t(key, params(match));
    }
    const key = `apiError.code.${code}` as Key;
    const text = t(key);
    return text === key ? null : text;
  }
  for (const [, pattern, key, params] of ERRORS) {
    const match = detail.match(pattern);
    if (match) return t(key, params(match));
  }
  return null;
}

const STATES = ['off', 'standby', 'idle', 'active'] as const;
const SLEEP_STATES = [
  'awake',
  'waking',
  'entering_soft_sleep',
  'soft_sleep',
  'entering_suspend',
  'true_suspend',
];

/** BaluHost's own sleep state (``soft_sleep`` …) in the reader's language. */
export function sleepStateText(state: string): string {
  return SLEEP_STATES.includes(state) ? t(`nas.sleep.${state}` as Key) : state;
}

const EVIDENCE: Rule[] = [
  [/^health check answered$/, 'evidence.healthAnswered', none],
  [/^sleep status: (\w+)/, 'evidence.sleepStatus', (m) => ({ state: sleepStateText(m[1]) })],
  [/^sleep status unavailable/, 'evidence.sleepUnknown', none],
  [/^woken from soft sleep/, 'evidence.wokenSoftSleep', none],
  [
    /^plug ([\d.]+) W \((\w+)\)$/,
    'evidence.plug',
    (m) => ({
      power: `${Number(m[1]).toLocaleString()} W`,
      class: (STATES as readonly string[]).includes(m[2]) ? t(`evidence.power.${m[2]}` as Key) : m[2],
    }),
  ],
  [/^demo history: the NAS plug drew ([\d.]+) W$/, 'evidence.demoHistory', (m) => ({ power: `${m[1]} W` })],
  [/^wake-on-lan sent \(requested through the API/, 'evidence.wakeRequested', none],
  [/^wake-on-lan sent/, 'evidence.wakeSent', none],
  [/^lifecycle notice: coming online$/, 'evidence.comingOnline', none],
  [/^lifecycle notice: going offline$/, 'evidence.goingOffline', none],
  [/^mdns goodbye/, 'evidence.mdnsGoodbye', none],
  [/^mdns: /, 'evidence.mdnsAnnounced', none],
  [/^shutdown grace over/, 'evidence.shutdownOver', none],
  [/^wake interrupted by a restart$/, 'evidence.wakeInterrupted', none],
  [/^no answer within the boot timeout/, 'evidence.bootTimeout', none],
  [/\((\d+)x\)$/, 'evidence.healthFailed', (m) => ({ count: m[1] })],
];

/** The NAS link's evidence for its state, in the reader's language. */
export function evidenceText(raw: string): string {
  for (const [pattern, key, params] of EVIDENCE) {
    const match = raw.match(pattern);
    if (match) return t(key, params(match));
  }
  return t('evidence.other');
}

/** A message the API stored (a plug's last error): translated where known; in English as it is,
 *  in German a neutral sentence rather than English. */
export function plainText(raw: string): string {
  return translatedError(raw) ?? (lang === 'en' ? raw : t('error.status.502'));
}
