import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { parseEnvelope } from '../../../../src/events';
import type { OutgoingRecord, RecordPublisher } from '../../../../src/kafka';
import { createLogger } from '../../../../src/logger';
import { loadConfig } from '../../../../src/config';
import { errorEvents } from '../../../../handlers/middleware/error-events';

const logger = createLogger(loadConfig({ LOG_LEVEL: 'SILENT' }));
const context = { awsRequestId: 'req-1' } as Context; // only the request id is read

function fakePublisher(fail = false): RecordPublisher & { sent: OutgoingRecord[] } {
  const sent: OutgoingRecord[] = [];
  return {
    sent,
    send: (records) => {
      if (fail) return Promise.reject(new Error('kafka down'));
      sent.push(...records);
      return Promise.resolve([]);
    },
  };
}

function wrap(publisher: RecordPublisher, http: boolean, failure: Error) {
  return middy<unknown, { statusCode: number; body: string }>()
    .use(errorEvents({ publisher: () => publisher, topic: 'events', service: 'svc', source: 'svc/test', logger, http }))
    .handler(() => Promise.reject(failure));
}

describe('errorEvents middleware', () => {
  it('answers 500 with the request id and publishes an error event (HTTP)', async () => {
    // Prepare
    const publisher = fakePublisher();

    // Act
    const response = await wrap(publisher, true, new TypeError('boom at /secret/path.ts:12'))({}, context);

    // Assess
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ error: 'internal error', request_id: 'req-1' });
    expect(response.body).not.toContain('boom');
    expect(publisher.sent).toHaveLength(1);
    const event = parseEnvelope(JSON.parse(publisher.sent[0]!.value as string));
    expect(event).toMatchObject({
      event_type: 'error',
      correlation_id: 'req-1',
      data: { error_message: 'boom at /secret/path.ts:12', error_type: 'TypeError', service: 'svc' },
    });
    expect(publisher.sent[0]?.topic).toBe('events');
  });

  it('still answers 500 when the error event cannot be published', async () => {
    const response = await wrap(fakePublisher(true), true, new Error('boom'))({}, context);
    expect(response.statusCode).toBe(500);
  });

  it('rethrows the original error for non-HTTP functions, even when publishing fails', async () => {
    const original = new Error('handler failed');
    await expect(wrap(fakePublisher(true), false, original)({}, context)).rejects.toBe(original);
  });

  it('leaves client errors (4xx) alone', async () => {
    const publisher = fakePublisher();
    const notFound = Object.assign(new Error('Route does not exist'), { statusCode: 404 });
    await expect(wrap(publisher, true, notFound)({}, context)).rejects.toBe(notFound);
    expect(publisher.sent).toHaveLength(0);
  });

  it.each([
    ['after its own 300 ms, even when the send waits for a connection first', () => context, 300],
    [
      "when the function's time is nearly up (100 ms left)",
      (due: number) => ({ awsRequestId: 'req-2', getRemainingTimeInMillis: () => due - Date.now() }) as Context,
      100,
    ],
  ])('stops waiting for the error event %s', async (_when, contextFor, waitMs) => {
    // Prepare: a send that never settles (a new container's connection that never answers)
    vi.useFakeTimers();
    try {
      const hanging: RecordPublisher = { send: () => new Promise(() => undefined) };
      let answered = false;

      // Act
      const response = wrap(
        hanging,
        true,
        new Error('boom'),
      )({}, contextFor(Date.now() + 100)).then((r) => {
        answered = true;
        return r;
      });
      await vi.advanceTimersByTimeAsync(waitMs);

      // Assess
      expect(answered).toBe(true);
      expect((await response).statusCode).toBe(500);
    } finally {
      vi.useRealTimers();
    }
  });
});
