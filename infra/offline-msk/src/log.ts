/**
 * Logging: serverless' log utils for the plugin's own lines, and kafkajs' lines routed
 * into them.
 *
 * kafkajs reports the normal retries of a start (the broker's group coordinator still
 * loading its offsets topic, no leader elected yet, a rebalance) as ERROR lines with a
 * stack trace ("Crash: KafkaJSProtocolError: The coordinator is loading…"), then retries
 * and succeeds. Those are logged once, at warning level, without a stack; other errors
 * keep their level. No kafkajs line carries a stack above debug level, and the same line
 * is not repeated more than once a minute.
 */
import { logLevel } from 'kafkajs';
import type { LogEntry, logCreator } from 'kafkajs';
import type { EventSourceLog } from './mapping';

/** serverless' log utils (the third plugin constructor argument). */
export interface PluginLog {
  debug(message: string): void;
  info(message: string): void;
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

const PREFIX = 'offline-msk:';

export function line(message: string, extra?: Record<string, unknown>): string {
  return extra === undefined ? `${PREFIX} ${message}` : `${PREFIX} ${message} ${JSON.stringify(extra)}`;
}

export function eventSourceLog(log: PluginLog): EventSourceLog {
  return {
    debug: (m, x) => log.debug(line(m, x)),
    info: (m, x) => log.info(line(m, x)),
    warn: (m, x) => log.warning(line(m, x)),
    error: (m, x) => log.error(line(m, x)),
  };
}

/** Errors a client meets while a broker, its offsets topic or a group settles; kafkajs retries them. */
const RETRIABLE = [
  /coordinator is loading/i,
  /coordinator is not available/i,
  /not the correct coordinator/i,
  /no leader for this topic-partition/i,
  /leader is not available/i,
  /group is rebalancing/i,
  /rebalance in progress/i,
  /does not host this topic-partition/i,
  /not aware of this member/i,
];

export function isRetriableStartError(text: string): boolean {
  return RETRIABLE.some((pattern) => pattern.test(text));
}

const REPEAT_AFTER_MS = 60_000;
const MAX_REMEMBERED = 200;

/** A kafkajs logCreator writing into serverless' log. */
export function kafkaLogCreator(log: PluginLog, now: () => number = Date.now): logCreator {
  // Messages logged recently, oldest first (a Map keeps insertion order): bounded.
  const recent = new Map<string, number>();
  const once = (key: string): boolean => {
    const at = now();
    const last = recent.get(key);
    if (last !== undefined && at - last < REPEAT_AFTER_MS) return false;
    recent.delete(key);
    recent.set(key, at);
    if (recent.size > MAX_REMEMBERED) recent.delete(recent.keys().next().value!);
    return true;
  };
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const {
        message,
        stack,
        error,
        timestamp: _timestamp,
        logger: _logger,
        retryCount: _retryCount,
        retryTime: _retryTime,
        ...rest
      } = entry as LogEntry['log'] & {
        stack?: unknown;
        error?: unknown;
        retryCount?: unknown;
        retryTime?: unknown;
      };
      const errorText = error instanceof Error ? error.message : typeof error === 'string' ? error : undefined;
      const text = `kafka${namespace ? ` ${namespace}` : ''}: ${message}${errorText && !message.includes(errorText) ? `: ${errorText}` : ''}`;
      if (level === logLevel.ERROR || level === logLevel.WARN) {
        if (isRetriableStartError(text)) {
          if (once(`retry:${message.replace(/\(.*\)/, '')}`)) log.warning(line(`${text} (kafkajs retries)`));
          else log.debug(line(text));
        } else if (once(text)) {
          const extra = Object.keys(rest).length > 0 ? (rest as Record<string, unknown>) : undefined;
          if (level === logLevel.ERROR) log.error(line(text, extra));
          else log.warning(line(text, extra));
        }
        if (typeof stack === 'string') log.debug(line(`${text}\n${stack}`));
        return;
      }
      log.debug(line(text));
    };
}
