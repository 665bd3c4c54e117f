/**
 * Shared by the reliability tests: the consumer functions' structured log lines printed
 * by `serverless offline`, and small bounded HTTP calls that record every answer.
 */
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
