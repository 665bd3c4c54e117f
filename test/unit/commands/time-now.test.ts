import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandRejectedError } from '../../../src/commands/errors';
import { timeNow, timeZoneFormatsCached, zonedTime } from '../../../src/commands/time-now';
import type { Command } from '../../../src/commands/command-handlers';
import { fakeLogger } from '../../helpers/fakes';

const instant = new Date('2026-01-31T12:34:56.789Z');

function command(payload: Record<string, unknown>): Command {
  return { id: 'id', type: 'time.now', correlationId: 'c', timestamp: undefined, source: undefined, payload, shape: 'plain' };
}

const run = (payload: Record<string, unknown>) => timeNow(command(payload), { now: () => instant, log: fakeLogger() });

describe('zonedTime', () => {
  it.each([
    ['UTC', '2026-01-31T12:34:56.789+00:00', '+00:00'],
    ['Europe/Paris', '2026-01-31T13:34:56.789+01:00', '+01:00'],
    ['Asia/Kolkata', '2026-01-31T18:04:56.789+05:30', '+05:30'],
    ['America/Sao_Paulo', '2026-01-31T09:34:56.789-03:00', '-03:00'],
  ])('gives the local time with its offset in %s', (zone, iso, offset) => {
    // Prepare, Act
    const zoned = zonedTime(instant, zone);

    // Assess
    expect(zoned.iso).toBe(iso);
    expect(zoned.utcOffset).toBe(offset);
  });

  it('gives each instant its own time when instants come in any order, within and across seconds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: 0, max: 999 }), fc.constantFrom('UTC', 'Asia/Tokyo')), {
          minLength: 1,
          maxLength: 30,
        }),
        (steps) => {
          for (const [second, ms, zone] of steps) {
            // Prepare: an instant near 12:34:56 UTC on 2026-01-31 (Tokyo: UTC+9, no daylight saving)
            const at = new Date(Date.UTC(2026, 0, 31, 12, 34, 56 + second, ms));
            const shift = zone === 'UTC' ? 0 : 9 * 3_600_000;

            // Act
            const zoned = zonedTime(at, zone);

            // Assess
            expect(zoned.iso).toBe(new Date(at.getTime() + shift).toISOString().replace('Z', zone === 'UTC' ? '+00:00' : '+09:00'));
          }
        },
      ),
    );
  });

  it('follows daylight saving time', () => {
    // Prepare, Act
    const summer = zonedTime(new Date('2026-07-01T00:00:00.000Z'), 'Europe/Paris');

    // Assess
    expect(summer.utcOffset).toBe('+02:00');
  });
});

describe('time.now', () => {
  it('answers in the asked zone and format', async () => {
    // Prepare, Act
    const answer = await run({ timezone: 'Asia/Tokyo', format: 'iso' });

    // Assess
    expect(answer).toEqual({
      timezone: 'Asia/Tokyo',
      format: 'iso',
      time: '2026-01-31T21:34:56.789+09:00',
      utc: '2026-01-31T12:34:56.789Z',
      utc_offset: '+09:00',
    });
  });

  it.each([
    ['date', '2026-01-31'],
    ['time', '12:34:56'],
    ['unix', 1769862896],
    ['unix_ms', 1769862896789],
  ])('renders the %s format', async (format, expected) => {
    // Prepare, Act
    const answer = await run({ timezone: 'UTC', format });

    // Assess
    expect(answer.time).toBe(expected);
  });

  it('renders a human-readable time', async () => {
    // Prepare, Act
    const answer = await run({ timezone: 'Europe/London', format: 'human' });

    // Assess
    expect(answer.time).toMatch(/Saturday.*31 January 2026.*12:34:56/);
  });

  it('defaults to UTC and iso', async () => {
    // Prepare, Act
    const answer = await run({});

    // Assess
    expect(answer).toMatchObject({ timezone: 'UTC', format: 'iso', time: '2026-01-31T12:34:56.789+00:00' });
  });

  it.each([
    [{ timezone: 'Mars/Olympus_Mons' }, /timezone: "Mars\/Olympus_Mons" is not an IANA time zone/],
    [{ format: 'fortnight' }, /format/],
    [{ timezone: 42 }, /timezone/],
  ])('rejects a bad payload %j', async (payload, message) => {
    // Prepare, Act
    const attempt = Promise.resolve().then(() => run(payload));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(CommandRejectedError);
    await expect(attempt).rejects.toThrow(message);
  });
});

describe('time.now memory', () => {
  it('keeps one formatter per zone whatever the spelling: 2,000 case variants of one zone add one entry', async () => {
    // Prepare: every upper/lower-case spelling of Europe/Paris (Intl accepts them all)
    const letters = 'Europe/Paris'.split('');
    const variants = new Set<string>();
    for (let mask = 0; variants.size < 2000; mask += 1) {
      let bit = 0;
      variants.add(letters.map((c) => (/[a-z]/i.test(c) ? ((mask >> bit++) & 1 ? c.toUpperCase() : c.toLowerCase()) : c)).join(''));
    }
    const before = timeZoneFormatsCached();

    // Act
    for (const timezone of variants) await run({ timezone, format: 'iso' });

    // Assess
    expect(timeZoneFormatsCached() - before).toBeLessThanOrEqual(1);
    expect(await run({ timezone: 'eUROPE/pARIS', format: 'iso' })).toMatchObject({ time: '2026-01-31T13:34:56.789+01:00' });
  });

  it('keeps at most a bounded number of formatters however many zones are asked for', async () => {
    for (const timezone of Intl.supportedValuesOf('timeZone')) await run({ timezone, format: 'time' });
    expect(timeZoneFormatsCached()).toBeLessThanOrEqual(1000);
  });
});
