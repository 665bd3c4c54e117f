/**
 * The first send of a new container, over TLS with SASL/SCRAM-SHA-512, with the broker
 * discovery delayed as it is on AWS (the SDK's import and GetBootstrapBrokers through a
 * NAT come before the first TLS handshake). Per delay, `containers` cold containers, each
 * with a fresh client and producer, in two ways:
 *
 * - init: the container's producer starts connecting when it is made (module load, the
 *   init phase); the first invocation comes INIT_GAP_MS later (the rest of the init);
 * - lazy: nothing before the first invocation.
 *
 * The first invocation sends GET /'s two records. Reported per delay and way: how many
 * first sends were acknowledged, and the first send's latency from the invocation.
 *
 * Needs a broker with a SASL_SSL listener and its client variables, e.g. a private one:
 *
 *   LOCAL_STACK_DIR=$(mktemp -d) LOCAL_KAFKA_PORT=26500 LOCAL_KAFKA_SASL=on LOCAL_PROMETHEUS=off \
 *     PUSHGATEWAY_URL=http://127.0.0.1:9091 bash infra/local/stack.sh start
 *   eval "$(LOCAL_STACK_DIR=… LOCAL_KAFKA_PORT=26500 bash infra/local/stack.sh env scram)"
 *   npx tsx bench/first-connection.ts [containers=10] [delays=0,500,1500,3000]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../src/config';
import { createContainerProducer, createKafka } from '../src/kafka';
import { percentile } from './stats';

const containers = Number(process.argv[2] ?? 10);
const delays = (process.argv[3] ?? '0,500,1500,3000').split(',').map(Number);
const INIT_GAP_MS = 150;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (config.kafka.auth !== 'scram') throw new Error('set the SASL_SSL client variables first: eval "$(npm run -s stack:env -- scram)"');
  const topic = `bench-first-connection-${randomUUID().slice(0, 8)}`;
  const admin = createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: 'bench-admin' }).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
  console.log(
    `first send of a new container over SASL_SSL (${config.kafka.brokers.join(',')}), KAFKA_CONNECT_TIMEOUT_MS=${config.kafka.connectTimeoutMs}, ` +
      `KAFKA_SEND_TIMEOUT_MS=${config.kafka.sendTimeoutMs}, ${containers} containers per row, init gap ${INIT_GAP_MS} ms`,
  );
  console.log('| discovery delay | connection | acknowledged | first send p50 | first send max |');
  console.log('| ---: | --- | ---: | ---: | ---: |');
  try {
    for (const delay of delays) {
      for (const mode of ['init', 'lazy'] as const) {
        const latencies: number[] = [];
        let acknowledged = 0;
        for (let i = 0; i < containers; i++) {
          // A new container: a new client (discovery, then TCP, TLS and SCRAM), a new producer.
          const kafka = async (): Promise<Kafka> => {
            await sleep(delay);
            return createKafka({ kafka: config.kafka, brokers: config.kafka.brokers, clientId: `bench-cold-${i}` });
          };
          const producer = createContainerProducer({
            kafka,
            sendTimeoutMs: config.kafka.sendTimeoutMs,
            connectTimeoutMs: config.kafka.connectTimeoutMs,
          });
          if (mode === 'init') void producer.connect();
          await sleep(INIT_GAP_MS);
          const t0 = performance.now();
          try {
            await producer.send([
              { topic, key: null, value: JSON.stringify({ event_type: 'http_request', i }) },
              { topic, key: null, value: JSON.stringify({ event_type: 'http_response', i }) },
            ]);
            acknowledged += 1;
          } catch {
            // counted as not acknowledged
          }
          latencies.push(performance.now() - t0);
          await producer.disconnect();
        }
        latencies.sort((a, b) => a - b);
        console.log(
          `| ${delay} ms | ${mode} | ${acknowledged}/${containers} | ${percentile(latencies, 50).toFixed(0)} ms | ${latencies[latencies.length - 1]!.toFixed(0)} ms |`,
        );
      }
    }
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
