/**
 * src/logger.ts and src/log-summary.ts: the JSON format as before, the readable one
 * without the fields every line repeats, and repeated warnings summarised.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createWarningSummary } from '../../src/log-summary';
import { createLogger, prettyLine } from '../../src/logger';

function capture(format: 'json' | 'pretty') {
  const lines: Array<{ level: string; line: string }> = [];
  const flushes: Array<() => void> = [];
  const config = loadConfig({ LOG_FORMAT: format, STAGE: 'local' });
  const sink = (level: string, line: string) => lines.push({ level, line });
  const print = ({ level, message, origin }: { level: string; message: string; origin: string | undefined }) =>
    sink(level, prettyLine({ level, message, function_name: origin, timestamp: '2026-01-01T00:00:00.000Z' }));
  const summary = createWarningSummary({ print, schedule: (flush) => flushes.push(flush) });
  const logger = createLogger(config, { sink, summary });
  return { logger, lines, flush: () => flushes.splice(0).forEach((f) => f()) };
}

describe('createLogger', () => {
  it('json: one JSON object a line with the service, the stage and the fields given', () => {
    const { logger, lines } = capture('json');
    logger.warn('record dead-lettered', { topic: 't', reason: 'not_json' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!.line)).toMatchObject({
      level: 'WARN',
      message: 'record dead-lettered',
      service: 'simple-time-service',
      stage: 'local',
      topic: 't',
      reason: 'not_json',
    });
  });

  it('json: every warning is its own line, however many repeat', () => {
    const { logger, lines } = capture('json');
    for (let i = 0; i < 20; i++) logger.warn('record dead-lettered', { topic: 't', reason: 'not_json', offset: String(i) });
    expect(lines).toHaveLength(20);
  });

  it('pretty: one line, time, level, function, message, then only the fields that vary', () => {
    // Prepare
    const line = prettyLine({
      level: 'WARN',
      message: 'record dead-lettered',
      timestamp: '2026-01-01T12:34:56.789Z',
      service: 'simple-time-service',
      stage: 'local',
      cold_start: false,
      function_arn: 'arn',
      function_memory_size: '256',
      function_name: 'simple-time-service-local-onCommand',
      function_request_id: 'r-1',
      sampling_rate: 0,
      correlation_id: 'c-1',
      consumer: 'onCommand',
      topic: 'commands',
      offset: '7',
      error: 'the value is not JSON: Unexpected token',
      by_group: { a: 1 },
    });

    // Assess
    expect(line).toMatch(
      /^\d\d:\d\d:\d\d\.789 WARN {2}onCommand record dead-lettered {2}topic=commands offset=7 error="the value is not JSON: Unexpected token" by_group=\{"a":1\}$/,
    );
    expect(line).not.toMatch(/function_arn|cold_start|sampling_rate|simple-time-service/);
  });

  it('pretty: shortens a value longer than 200 characters', () => {
    const line = prettyLine({ level: 'INFO', message: 'm', timestamp: '2026-01-01T00:00:00.000Z', error: 'x'.repeat(1000) });
    expect(line.length).toBeLessThan(260);
    expect(line).toMatch(/x…$/);
  });

  it('pretty: a burst of one warning is its first line, then one count per reason and source every window', () => {
    // Prepare
    const { logger, lines, flush } = capture('pretty');

    // Act: 1,000 dead letters of two reasons from two topics, then the window ends
    for (let i = 0; i < 1000; i++) {
      const [reason, topic] = i % 10 === 0 ? ['too_deep', 'events'] : ['not_json', 'commands'];
      logger.warn('record dead-lettered', { topic, reason, offset: String(i), consumer: 'onCommand' });
    }
    logger.info('command processed');
    flush();

    // Assess
    expect(lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual([
      'WARN  onCommand record dead-lettered  topic=events reason=too_deep offset=0',
      'WARN  onCommand record dead-lettered  topic=commands reason=not_json offset=1',
      'INFO  command processed',
      'WARN  onCommand record dead-lettered: 998 more in the last 5 s (not_json from commands 899, too_deep from events 99)',
    ]);
  });

  it('pretty: once a window passes without a repeat, the next burst starts with whole lines again', () => {
    const { logger, lines, flush } = capture('pretty');
    logger.warn('w', { reason: 'r' });
    logger.warn('w', { reason: 'r' });
    flush();
    flush();
    logger.warn('w', { reason: 'r' });
    expect(lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual([
      'WARN  w  reason=r',
      'WARN  w: 1 more in the last 5 s (r 1)',
      'WARN  w  reason=r',
    ]);
  });

  it('pretty: remembers at most 100 reason and source pairs; the rest are counted, never printed whole', () => {
    const { logger, lines, flush } = capture('pretty');
    for (let i = 0; i < 150; i++) logger.error('record failed', { reason: `r${i}` });
    flush();
    expect(lines).toHaveLength(101);
    expect(lines.at(-1)!.line).toMatch(/ERROR other lines: 50 more in the last 5 s \(of other messages 50\)$/);
  });
});
