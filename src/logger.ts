/**
 * The service's logs (AWS Lambda Powertools Logger), in one of two formats (LOG_FORMAT):
 * - `json` (the default, and on AWS): one JSON object a line, carrying the service, the
 *   stage and, inside a handler, the function, the request id and the correlation id;
 * - `pretty` (what `npm start` uses): one readable line, `12:00:01.234 WARN  onCommand
 *   record dead-lettered  topic=… reason=not_json …`, without the fields every line of a
 *   function repeats; repeated warnings and errors are summarised (src/log-summary.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import type { Config } from './config';
import { createWarningSummary } from './log-summary';
import type { WarningSummary } from './log-summary';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/** Where a finished line goes: WARN, ERROR and CRITICAL to stderr, the rest to stdout (as Powertools). */
export type LogSink = (level: string, line: string) => void;

const processSink: LogSink = (level, line) => {
  (level === 'WARN' || level === 'ERROR' || level === 'CRITICAL' ? process.stderr : process.stdout).write(`${line}\n`);
};

/** Fields every line of a function carries: the pretty format leaves them out. */
const CONSTANT_FIELDS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'stage',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
  'correlation_id',
  'consumer',
]);
/** Longest value the pretty format prints whole. */
const MAX_VALUE_LENGTH = 200;

function prettyValue(value: unknown): string {
  const text =
    typeof value === 'string' ? (/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)) : (JSON.stringify(value) ?? String(value));
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
}

/** The function a line comes from, short: a consumer's name, else the last part of the Lambda function's name. */
function functionOf(attributes: Record<string, unknown>): string | undefined {
  if (typeof attributes.consumer === 'string') return attributes.consumer;
  return typeof attributes.function_name === 'string' ? attributes.function_name.split('-').at(-1) : undefined;
}

/** One readable line: local time, level, function, message, then the other fields as key=value. */
export function prettyLine(attributes: Record<string, unknown>): string {
  const at = new Date(typeof attributes.timestamp === 'string' ? attributes.timestamp : Date.now());
  const time = `${at.toTimeString().slice(0, 8)}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  const name = functionOf(attributes);
  const fields = Object.entries(attributes)
    .filter(([key, value]) => !CONSTANT_FIELDS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${prettyValue(value)}`);
  const level = text(attributes.level).padEnd(5);
  return [time, level, ...(name ? [name] : []), text(attributes.message), ...(fields.length > 0 ? [` ${fields.join(' ')}`] : [])].join(' ');
}

interface Output {
  format: LogFormat;
  sink: LogSink;
  summary: WarningSummary | undefined;
}

class ServiceLogger extends Logger {
  readonly #output: Output;

  constructor(options: ConstructorOptions, output: Output) {
    super(options);
    this.#output = output;
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new ServiceLogger(options ?? {}, this.#output);
  }

  protected override printLog(_logLevel: number, log: Parameters<Logger['printLog']>[1]): void {
    log.prepareForPrint();
    const attributes = log.getAttributes() as Record<string, unknown>;
    const level = typeof attributes.level === 'string' ? attributes.level : 'INFO';
    const { format, sink, summary } = this.#output;
    if (format === 'json') {
      sink(level, JSON.stringify(attributes, this.getJsonReplacer()));
      return;
    }
    const field = (key: string) => (typeof attributes[key] === 'string' ? attributes[key] : undefined);
    const line = {
      level,
      message: text(attributes.message),
      origin: functionOf(attributes),
      reason: field('reason'),
      source: field('topic'),
    };
    if (summary && (level === 'WARN' || level === 'ERROR') && !summary.admit(line)) {
      return;
    }
    sink(level, prettyLine(attributes));
  }
}

export function createLogger(config: Pick<Config, 'service'>, options: { sink?: LogSink; summary?: WarningSummary } = {}): Logger {
  const sink = options.sink ?? processSink;
  const format = config.service.logFormat;
  const summary =
    format === 'pretty'
      ? (options.summary ??
        createWarningSummary({
          print: ({ level, message, origin }) =>
            sink(level, prettyLine({ level, message, function_name: origin, timestamp: new Date().toISOString() })),
        }))
      : undefined;
  return new ServiceLogger(
    {
      serviceName: config.service.name,
      logLevel: config.service.logLevel as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT',
      persistentKeys: { stage: config.service.stage },
    },
    { format, sink, summary },
  );
}
