/**
 * GET / invoked in-process against the real local broker, sequentially as one Lambda
 * container does, beside the common mistake (a producer connected per invocation) in
 * the same run. Needs the local stack: `npm run stack:start`.
 *
 *   node --expose-gc --import tsx bench/http-handler.ts [invocations=10000] [naive-invocations=200]
 *
 * Then, in the same run, the metrics push knob: GET / with METRICS_PUSH_INTERVAL_MS at its
 * default (10 s), at 1 s and at 0 (a push on every invocation), in alternating blocks, each
 * container pushing to the local Pushgateway under the benchmarks' job and stage
 * (bench/service.ts), its groups deleted after.
 *
 * With --expose-gc it also reports the heap after a full GC before and after the
 * measured invocations (growth there would be a leak per invocation).
 */
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadConfig } from '../src/config';
import { defaultDeps } from '../handlers/factories/deps';
import { createHttpHandler } from '../handlers/factories/http';
import { buildTimePayload, timeRequestRecord, timeResponseRecord } from '../src/http/time';
import { createKafka } from '../src/kafka';
import { createMetrics } from '../src/metrics/container-metrics';
import { hostInfo } from '../src/runtime';
import { deleteGroup, fetchGroups } from '@simple-time-service/fleet-metrics';
import { httpEvent, lambdaContext } from '../test/helpers/lambda';
import { fmt, summarize } from './stats';
import { BENCH_SERVICE } from './service';

const invocations = Number(process.argv[2] ?? 10_000);
const naiveInvocations = Number(process.argv[3] ?? 200);

function event(): APIGatewayProxyEventV2 {
  return httpEvent('GET /', { headers: { 'user-agent': 'bench', 'x-forwarded-for': '203.0.113.7' }, sourceIp: '192.0.2.10' });
}

function context(): Context {
  return lambdaContext('bench-http');
}

async function main(): Promise<void> {
  const suffix = Date.now().toString(36);
  const config = loadConfig({
    ...process.env,
    ...BENCH_SERVICE,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    KAFKA_TOPIC_REQUESTS: `bench-requests-${suffix}`,
    KAFKA_TOPIC_EVENTS: `bench-events-${suffix}`,
    LOG_LEVEL: 'ERROR',
  });
  const handler = createHttpHandler(defaultDeps({ config }));
  const kafka = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench' });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [config.kafka.topics.requests, config.kafka.topics.events].map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
  });

  const invoke = handler as unknown as (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;

  // Warm up: the first invocation connects the container's producer.
  for (let i = 0; i < 50; i++) await invoke(event(), context());
  const gc = (globalThis as { gc?: () => void }).gc;
  const heapAfterGc = (): number => {
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const heapBefore = heapAfterGc();
  const samples: number[] = [];
  for (let i = 0; i < invocations; i++) {
    const t0 = performance.now();
    const response = await invoke(event(), context());
    samples.push(performance.now() - t0);
    if (response.statusCode !== 200) throw new Error(`unexpected status ${response.statusCode}`);
  }
  const reused = summarize(samples);
  const heapAfter = heapAfterGc();

  const perInvocation = summarize(await producerPerInvocation(kafka, config));
  const knob = await pushIntervalRows(config, Math.max(200, Math.floor(invocations / 10)));
  await admin.deleteTopics({ topics: [config.kafka.topics.requests, config.kafka.topics.events] }).catch(() => undefined);
  await admin.disconnect();

  console.log(`GET / in-process, one container, sequential (${reused.n} invocations after 50 warm-up):`);
  console.log(`  reused producer:          ${reused.perSecond.toFixed(0)} invocations/s  p50 ${fmt(reused.p50)}  p99 ${fmt(reused.p99)}`);
  console.log(
    `  producer per invocation:  ${perInvocation.perSecond.toFixed(0)} invocations/s  p50 ${fmt(perInvocation.p50)}  p99 ${fmt(perInvocation.p99)}  (${perInvocation.n} invocations)`,
  );
  if (gc) {
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    console.log(
      `  heap after GC: ${mb(heapBefore)} MB before, ${mb(heapAfter)} MB after ${reused.n} invocations (${((heapAfter - heapBefore) / reused.n).toFixed(1)} bytes/invocation)`,
    );
  }
  console.log(
    `  ratio (per-invocation / reused): p50 x${(perInvocation.p50 / reused.p50).toFixed(1)}, throughput x${(reused.perSecond / perInvocation.perSecond).toFixed(1)}`,
  );
  console.log(`GET / by METRICS_PUSH_INTERVAL_MS, same run (${knob.rounds} alternating blocks of ${knob.block} invocations each):`);
  for (const [interval, stats] of knob.rows) {
    console.log(
      `  interval ${String(interval).padStart(5)} ms:  ${stats.perSecond.toFixed(0)} invocations/s  p50 ${fmt(stats.p50)}  p99 ${fmt(stats.p99)}  (${stats.n} invocations)`,
    );
  }
  process.exit(0);
}

/** The common mistake, for comparison: connect a producer in every invocation (per-invocation durations). */
async function producerPerInvocation(kafka: ReturnType<typeof createKafka>, config: ReturnType<typeof loadConfig>): Promise<number[]> {
  const host = hostInfo(config.runtime);
  const naive: number[] = [];
  for (let i = 0; i < naiveInvocations; i++) {
    const t0 = performance.now();
    const ctx = context();
    const payload = buildTimePayload({ sourceIp: '192.0.2.10', forwardedFor: undefined, requestId: ctx.awsRequestId, host });
    const common = { payload, endpoint: '/', topics: config.kafka.topics, source: 'bench', correlationId: ctx.awsRequestId };
    const records = [
      timeRequestRecord({ ...common, method: 'GET' }),
      timeResponseRecord({ ...common, statusCode: 200, responseTimeMs: 0 }),
    ];
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.sendBatch({
      acks: -1,
      topicMessages: records.map((r) => ({ topic: r.topic, messages: [{ key: r.key, value: r.value, headers: r.headers }] })),
    });
    await producer.disconnect();
    JSON.stringify(payload);
    naive.push(performance.now() - t0);
  }
  return naive;
}

/** GET / under each push interval, in alternating blocks so that a slower moment of the machine hits them all. */
async function pushIntervalRows(base: ReturnType<typeof loadConfig>, block: number) {
  const intervals = [10_000, 1_000, 0];
  const prefix = `bench-http-interval-${Date.now().toString(36)}-`;
  const handlers = intervals.map((interval) => {
    const config = loadConfig({
      ...process.env,
      KAFKA_BROKERS: base.kafka.brokers.join(','),
      KAFKA_TOPIC_REQUESTS: base.kafka.topics.requests,
      KAFKA_TOPIC_EVENTS: base.kafka.topics.events,
      ...BENCH_SERVICE,
      AWS_LAMBDA_FUNCTION_NAME: `${prefix}${interval}`,
      METRICS_PUSH_INTERVAL_MS: String(interval),
      LOG_LEVEL: 'ERROR',
    });
    return createHttpHandler(defaultDeps({ config, metrics: createMetrics() }));
  });
  const samples = intervals.map((): number[] => []);
  const rounds = 5;
  for (let round = 0; round < rounds; round++) {
    for (const [i, invoke] of handlers.entries()) {
      for (let n = 0; n < block; n++) {
        const t0 = performance.now();
        await invoke(event(), context());
        samples[i]!.push(performance.now() - t0);
      }
    }
  }
  for (const group of await fetchGroups({ url: base.pushgateway.url, timeoutMs: 2000, job: BENCH_SERVICE.SERVICE_NAME })) {
    if (String(group.labels.function).startsWith(prefix))
      await deleteGroup({ url: base.pushgateway.url, timeoutMs: 2000, labels: group.labels });
  }
  return { rounds, block, rows: intervals.map((interval, i) => [interval, summarize(samples[i]!)] as const) };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
