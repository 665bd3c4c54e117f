/**
 * Structured JSON logs (AWS Lambda Powertools Logger): every line carries the
 * service, and inside a handler the request id and correlation id.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config';

export type { Logger };

export function createLogger(config: Pick<Config, 'service'>): Logger {
  const level = config.service.logLevel;
  return new Logger({
    serviceName: config.service.name,
    logLevel: level as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT',
    persistentKeys: { stage: config.service.stage },
  });
}
