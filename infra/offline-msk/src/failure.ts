/**
 * On-failure destinations of a Kafka event source mapping (`destinations.onFailure` of an
 * event) and exactly what Lambda sends to them.
 *
 * Kafka topic (`kafka://<topic>`), from docs.aws.amazon.com/lambda/latest/dg/
 * kafka-on-failure-destination.html, "Record format for a Kafka destination": Lambda acts
 * as a producer and writes one message per failed record, when retries are exhausted or
 * the record is older than the maximum record age. The message's key is the original
 * record's key (no key: the default partitioner spreads them); its value is JSON:
 *
 *   { "requestContext": { "requestId", "functionArn": "arn:aws:lambda:…:function:<name>:$LATEST",
 *                         "condition": "RetriesExhausted", "approximateInvokeCount": 3 },
 *     "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
 *     "version": "1.0", "timestamp": "<ISO time of the failure>",
 *     "KafkaBatchInfo": { "batchSize": 1, "eventSourceArn", "bootstrapServers", "payloadSize",
 *                         "recordInfo": { "offset": "<offset>", "timestamp": "<ISO record time>" } },
 *     "payload": <the event Lambda would send for that one record> }
 *
 * The page's example shows `RetriesExhausted`; for records too old AWS uses
 * `RecordAgeExceeded` (the stream sources' condition). `eventSourceArn` is left out for
 * self-managed Kafka, which has none. `responseContext` is null when the record was never
 * sent to the function (too old before its first invocation).
 *
 * SQS queue, SNS topic or S3 bucket (an ARN), from kafka-on-failure.html, "SNS and SQS
 * example invocation record" and "S3 destination example invocation record": one JSON
 * document per failed batch with `KafkaBatchInfo.recordsInfo` keyed `<topic>-<partition>`
 * (first and last offset and timestamp), `condition` `RetryAttemptsExhausted` as that page
 * shows, and for S3 also `payload`: the whole event as a JSON string. Those services are
 * not local: the plugin logs that document at error level instead.
 */
import type { KafkaEventSource } from './event';
import { buildKafkaEvent } from './event';
import type { Failure } from './mapping';
import { partitionKey } from './records';

export type Destination =
  | { kind: 'kafka'; topic: string }
  | { kind: 'sqs' | 'sns' | 's3'; arn: string }
  /** A CloudFormation reference (Fn::GetAtt…), resolved only on AWS. */
  | { kind: 'reference'; value: unknown };

/** `kafka://topic`, an SQS, SNS or S3 ARN, or a CloudFormation reference; throws a message for anything else. */
export function parseDestination(value: unknown): Destination {
  if (typeof value === 'string') {
    if (value.startsWith('kafka://')) {
      const topic = value.slice('kafka://'.length);
      if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) throw new Error(`not a Kafka topic name: ${JSON.stringify(topic)}`);
      return { kind: 'kafka', topic };
    }
    const service = /^arn:aws[a-z-]*:(sqs|sns|s3):/.exec(value)?.[1];
    if (service === 'sqs' || service === 'sns' || service === 's3') return { kind: service, arn: value };
    throw new Error(`expected kafka://<topic> or an SQS, SNS or S3 ARN, got ${JSON.stringify(value)}`);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1) {
    const [fn] = Object.keys(value);
    if (fn === 'Ref' || fn!.startsWith('Fn::')) return { kind: 'reference', value };
  }
  throw new Error(`expected kafka://<topic>, an ARN or a CloudFormation reference, got ${JSON.stringify(value)}`);
}

export interface FailureContext {
  /** arn:aws:lambda:<region>:<account>:function:<name> */
  functionArn: string;
  source: KafkaEventSource;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function requestContext(failure: Failure, functionArn: string, condition: string) {
  return {
    requestId: failure.requestId,
    functionArn,
    condition,
    approximateInvokeCount: failure.approximateInvokeCount,
  };
}

/** The messages Lambda writes to a Kafka on-failure destination: one per failed record. */
export function kafkaDestinationMessages(failure: Failure, context: FailureContext): Array<{ key: Buffer | null; value: string }> {
  const { source } = context;
  return failure.records.map((record) => {
    const payload = buildKafkaEvent(source, [record]);
    const message = {
      requestContext: requestContext(failure, `${context.functionArn}:$LATEST`, failure.condition),
      responseContext: failure.response,
      version: '1.0',
      timestamp: failure.at.toISOString(),
      KafkaBatchInfo: {
        batchSize: 1,
        ...(source.kind === 'msk' ? { eventSourceArn: source.eventSourceArn } : {}),
        bootstrapServers: source.bootstrapServers.join(','),
        payloadSize: Buffer.byteLength(JSON.stringify(payload)),
        recordInfo: { offset: record.offset, timestamp: iso(record.timestamp) },
      },
      payload,
    };
    return { key: record.key, value: JSON.stringify(message) };
  });
}

/** The invocation record Lambda sends to an SQS queue, SNS topic or S3 bucket for these records. */
export function invocationRecord(failure: Failure, context: FailureContext, destination: 'sqs' | 'sns' | 's3'): Record<string, unknown> {
  const { source } = context;
  const event = buildKafkaEvent(source, failure.records);
  const serialised = JSON.stringify(event);
  const recordsInfo: Record<string, Record<string, string>> = {};
  for (const record of failure.records) {
    const key = partitionKey(record.topic, record.partition);
    const info = recordsInfo[key];
    if (!info) {
      recordsInfo[key] = {
        firstRecordOffset: record.offset,
        lastRecordOffset: record.offset,
        firstRecordTimestamp: iso(record.timestamp),
        lastRecordTimestamp: iso(record.timestamp),
      };
    } else {
      info.lastRecordOffset = record.offset;
      info.lastRecordTimestamp = iso(record.timestamp);
    }
  }
  const condition = failure.condition === 'RetriesExhausted' ? 'RetryAttemptsExhausted' : failure.condition;
  return {
    requestContext: requestContext(failure, context.functionArn, condition),
    responseContext: failure.response,
    version: '1.0',
    timestamp: failure.at.toISOString(),
    KafkaBatchInfo: {
      batchSize: failure.records.length,
      ...(source.kind === 'msk' ? { eventSourceArn: source.eventSourceArn } : {}),
      bootstrapServers: source.bootstrapServers.join(','),
      payloadSize: Buffer.byteLength(serialised),
      recordsInfo,
    },
    ...(destination === 's3' ? { payload: serialised } : {}),
  };
}
