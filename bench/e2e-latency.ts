/**
 * End-to-end latency through `serverless offline` and the local MSK event source: from
 * sending GET / to the onHttpRequest and onHttpResponse consumer functions logging that
 * request (their log line's timestamp, same clock). maximumBatchingWindow is 0 in
 * serverless.yml. Needs the local stack (`npm run stack:start`).
 *
 *   npx tsx bench/e2e-latency.ts [requests=200]
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config';
import { createKafka } from '../src/kafka';
import { startOffline } from '../test/helpers/offline';
import { waitFor } from '../test/helpers/wait-for';
import { fmt, summarize } from './stats';
import { BENCH_SERVICE } from './service';

const requests = Number(process.argv[2] ?? 200);
const suffix = `${Date.now().toString(36)}`;
const topics = {
  KAFKA_TOPIC_REQUESTS: `bench-e2e-requests-${suffix}`,
  KAFKA_TOPIC_EVENTS: `bench-e2e-events-${suffix}`,
  KAFKA_TOPIC_COMMANDS: `bench-e2e-commands-${suffix}`,
  KAFKA_TOPIC_DLQ: `bench-e2e-dlq-${suffix}`,
};

interface Line {
  message?: string;
  correlation_id?: string;
  timestamp?: string;
}

async function main(): Promise<void> {
  const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' });
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench-e2e' }).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
  });
  const offline = await startOffline({
    httpPort: 3330,
    lambdaPort: 3332,
    env: { ...BENCH_SERVICE, ...topics, KAFKA_CONSUMER_GROUP: `bench-e2e-${suffix}`, LOG_LEVEL: 'INFO' },
    readyTimeoutMs: 120_000,
  });
  const seen = new Map<string, number>();
  let parsedUpTo = 0;
  const scan = (): void => {
    const text = offline.output();
    const end = text.lastIndexOf('\n');
    if (end <= parsedUpTo) return;
    for (const raw of text.slice(parsedUpTo, end).split('\n')) {
      const start = raw.indexOf('{"level"');
      if (start < 0) continue;
      try {
        const line = JSON.parse(raw.slice(start)) as Line;
        if ((line.message === 'http request' || line.message === 'http response') && line.correlation_id && line.timestamp) {
          seen.set(`${line.message}|${line.correlation_id}`, Date.parse(line.timestamp));
        }
      } catch {
        // not a log line of ours
      }
    }
    parsedUpTo = end;
  };
  const consumed = (message: string, id: string) => () => {
    scan();
    return seen.get(`${message}|${id}`);
  };

  try {
    await waitFor(() => (offline.output().includes('event source mapping(s) running') ? true : undefined), { timeoutMs: 60_000 });
    const send = async (id: string): Promise<number> => {
      const sentAt = Date.now();
      const response = await fetch(`${offline.baseUrl}/`, { headers: { 'x-correlation-id': id } });
      await response.arrayBuffer();
      return sentAt;
    };
    // Warm-up: cold starts and group joins are not what this measures.
    for (let i = 0; i < 10; i++) {
      const id = `warm-${randomUUID()}`;
      await send(id);
      await waitFor(consumed('http response', id), { timeoutMs: 60_000 });
    }
    const toRequest: number[] = [];
    const toResponse: number[] = [];
    for (let i = 0; i < requests; i++) {
      const id = `e2e-${randomUUID()}`;
      const sentAt = await send(id);
      const requestAt = await waitFor(consumed('http request', id), { timeoutMs: 10_000, intervalMs: 2 });
      const responseAt = await waitFor(consumed('http response', id), { timeoutMs: 10_000, intervalMs: 2 });
      toRequest.push(requestAt - sentAt);
      toResponse.push(responseAt - sentAt);
    }
    const a = summarize(toRequest);
    const b = summarize(toResponse);
    console.log(`GET / to consumer handler, ${requests} sequential requests after 10 warm-up (ms clock of the log lines):`);
    console.log(`  onHttpRequest:   p50 ${fmt(a.p50)}  p99 ${fmt(a.p99)}  mean ${fmt(a.mean)}`);
    console.log(`  onHttpResponse:  p50 ${fmt(b.p50)}  p99 ${fmt(b.p99)}  mean ${fmt(b.mean)}`);
  } finally {
    await offline.stop();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
