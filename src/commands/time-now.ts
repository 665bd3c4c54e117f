/**
 * `time.now`: the current time in an IANA time zone, in a chosen format.
 * Payload: `{ "timezone": "Europe/Paris", "format": "iso" }` (both optional: UTC, iso).
 * Formats: `iso` (local time with its UTC offset, RFC 3339), `date` (YYYY-MM-DD), `time`
 * (HH:mm:ss), `unix` (seconds), `unix_ms` (milliseconds), `human` (en-GB full date and
 * long time). The time zone is checked against the runtime's ICU data (Intl), the same
 * database the answer is computed with.
 */
import * as z from '../zod';
import { describeIssues } from '../events';
import type { CommandHandler } from './command-handlers';
import { CommandRejectedError } from './errors';

export const TIME_NOW = 'time.now';
export const TIME_FORMATS = ['iso', 'date', 'time', 'unix', 'unix_ms', 'human'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

const payloadSchema = z.object({
  timezone: z._default(z.string().check(z.minLength(1), z.maxLength(64)), 'UTC'),
  format: z._default(z.enum(TIME_FORMATS), 'iso'),
});

/**
 * Formatters are cached per zone, keyed by the zone's canonical name: Intl accepts any
 * spelling of a zone ("europe/PARIS") and aliases ("US/Eastern"), so a cache keyed by what
 * the caller wrote would grow with every variant. Canonical names are finite (a few
 * hundred), and the cache is capped anyway.
 */
const MAX_CACHED_ZONES = 1000;

/** A zone's formatter, and the last second it formatted: a batch asks for the same second again and again. */
interface ZoneFormat {
  format: Intl.DateTimeFormat;
  second: number;
  date: string;
  time: string;
  utcOffset: string;
}
const partsFormats = new Map<string, ZoneFormat>();
let canonicalByLowercase: Map<string, string> | undefined;

/** The zone's canonical name; throws RangeError for a zone the runtime does not know. */
function canonicalZone(timeZone: string): string {
  canonicalByLowercase ??= new Map(Intl.supportedValuesOf('timeZone').map((zone) => [zone.toLowerCase(), zone]));
  // Aliases and UTC are not in that list: ICU resolves them (and throws for unknown zones).
  return canonicalByLowercase.get(timeZone.toLowerCase()) ?? new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
}

/** How many formatters are cached (for tests and diagnostics). */
export function timeZoneFormatsCached(): number {
  return partsFormats.size;
}

/** Throws RangeError for a zone the runtime does not know. */
function partsFormat(timeZone: string): ZoneFormat {
  const zone = canonicalZone(timeZone);
  let format = partsFormats.get(zone);
  if (!format) {
    const intl = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
    format = { format: intl, second: Number.NaN, date: '', time: '', utcOffset: '' };
    if (partsFormats.size >= MAX_CACHED_ZONES) partsFormats.clear();
    partsFormats.set(zone, format);
  }
  return format;
}

export interface ZonedTime {
  /** The zone as asked for (ICU would rename some, e.g. Asia/Kolkata to Asia/Calcutta). */
  timezone: string;
  date: string;
  time: string;
  /** "+05:30", "-03:00", "+00:00". */
  utcOffset: string;
  iso: string;
}

export function zonedTime(instant: Date, timeZone: string): ZonedTime {
  const zone = partsFormat(timeZone);
  // Date, time and offset are those of the whole second (offsets change on whole seconds).
  const second = Math.floor(instant.getTime() / 1000);
  if (zone.second !== second) {
    const parts: Record<string, string> = {};
    for (const part of zone.format.formatToParts(instant)) parts[part.type] = part.value;
    const zoneName = parts.timeZoneName ?? 'GMT';
    zone.utcOffset = zoneName === 'GMT' || zoneName === 'UTC' ? '+00:00' : zoneName.replace(/^(GMT|UTC)/, '');
    zone.date = `${parts.year}-${parts.month}-${parts.day}`;
    zone.time = `${parts.hour}:${parts.minute}:${parts.second}`;
    zone.second = second;
  }
  const { date, time, utcOffset } = zone;
  const ms = String(instant.getUTCMilliseconds()).padStart(3, '0');
  return { timezone: timeZone, date, time, utcOffset, iso: `${date}T${time}.${ms}${utcOffset}` };
}

export const timeNow: CommandHandler = (command, { now }) => {
  const parsed = payloadSchema.safeParse(command.payload);
  if (!parsed.success) throw new CommandRejectedError('invalid time.now payload', describeIssues(parsed.error));
  const { timezone, format } = parsed.data;
  const instant = now();
  let zoned: ZonedTime;
  try {
    zoned = zonedTime(instant, timezone);
  } catch {
    throw new CommandRejectedError('invalid time.now payload', [`timezone: ${JSON.stringify(timezone)} is not an IANA time zone`]);
  }
  const rendered: Record<TimeFormat, string | number> = {
    iso: zoned.iso,
    date: zoned.date,
    time: zoned.time,
    unix: Math.floor(instant.getTime() / 1000),
    unix_ms: instant.getTime(),
    human: '',
  };
  if (format === 'human') {
    rendered.human = new Intl.DateTimeFormat('en-GB', { timeZone: zoned.timezone, dateStyle: 'full', timeStyle: 'long' }).format(instant);
  }
  return {
    timezone: zoned.timezone,
    format,
    time: rendered[format],
    utc: instant.toISOString(),
    utc_offset: zoned.utcOffset,
  };
};
