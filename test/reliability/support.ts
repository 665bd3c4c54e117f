/**
 * Shared by the reliability tests: the consumer functions' structured log lines printed
 * by `serverless offline`, and small bounded HTTP calls that record every answer.
 */
import type { Admin, Kafka } from 'kafkajs';
import { startReader } from '../helpers/kafka';
import type { LogLine } from '../helpers/offline';

export { logLines } from '../helpers/offline';
export type { LogLine } from '../helpers/offline';

/** How many lines with this message each value of `key` has (e.g. per event_id). */
export function countBy(lines: LogLine[], message: string, key: string, fn?: RegExp): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    if (line.message !== message) continue;
    if (fn && !fn.test(String(line.function_name))) continue;
    const value = line[key];
    if (typeof value !== 'string') continue;
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return counts;
}

export interface Answer {
  /** The HTTP status, or 0 when no answer came (connection error, timeout). */
  status: number;
  ms: number;
  body: Record<string, unknown> | undefined;
  error?: string;
}

/** One request, bounded by `timeoutMs`; never throws: a failure is an answer with status 0. */
export async function call(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<Answer> {
  const t0 = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return { status: response.status, ms: performance.now() - t0, body };
  } catch (error) {
    return { status: 0, ms: performance.now() - t0, body: undefined, error: (error as Error).message };
  }
}

/**
 * Whether POST /kafka/publish acknowledged the event: 200 with its id. serverless offline
 * answers a function that ran over its timeout with a 200 too, its body a
 * LambdaTimeoutError (API Gateway answers 503): that acknowledges nothing.
 */
export function isAcknowledgement(answer: Pick<Answer, 'status' | 'body'>): boolean {
  return answer.status === 200 && typeof answer.body?.id === 'string';
}

export function publishInit(token: string, body: Record<string, unknown>): RequestInit {
  return {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/** Counts per status, e.g. { 200: 290, 503: 10 }. */
export function statuses(answers: Answer[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const a of answers) out[a.status] = (out[a.status] ?? 0) + 1;
  return out;
}

/**
 * The event (or command) id of a dead letter, and why it is there: a record the service
 * dead-lettered itself is there as it was (`dlq.reason` in its headers); one the local
 * event source gave up on is in Lambda's on-failure JSON (the condition, the record in
 * `payload`). Undefined for what carries no id.
 */
export function deadLetterId(value: Buffer | null, headers: Record<string, string>): { id: string; reason: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(value?.toString('utf8') ?? '');
  } catch {
    return undefined;
  }
  const lambda = json as { requestContext?: { condition?: string }; payload?: { records?: Record<string, Array<{ value?: string }>> } };
  if (lambda.requestContext && lambda.payload?.records) {
    const [record] = Object.values(lambda.payload.records).flat();
    const inner = record?.value === undefined ? undefined : deadLetterId(Buffer.from(record.value, 'base64'), {});
    return inner && { id: inner.id, reason: `on-failure destination: ${lambda.requestContext.condition ?? 'unknown'}` };
  }
  const id = (json as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? { id, reason: headers['dlq.reason'] ?? 'unknown' } : undefined;
}

/** Every id on a dead-letter topic, read to its end (bounded), with why it is there. */
export async function deadLettered(kafka: Kafka, admin: Admin, topic: string): Promise<Map<string, string>> {
  const total = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const found = new Map<string, string>();
  if (total === 0) return found;
  const reader = await startReader(kafka, [topic]);
  try {
    const records = await reader.waitForRecords(() => true, total, 30_000);
    for (const r of records) {
      const dead = deadLetterId(r.value, r.headers);
      if (dead) found.set(dead.id, dead.reason);
    }
  } finally {
    await reader.stop();
  }
  return found;
}
