/**
 * Publish a test event or command from a terminal (as the second guide's step 7 does).
 *
 *   npm run publish -- --type test_event --data '{"a":1}'
 *   npm run publish -- --command time.now --payload '{"timezone":"Europe/Paris"}' --wait
 *
 * --type publishes an event in the service's envelope (events topic unless --topic);
 * --command publishes a command in the second guide's shape {type, correlation_id, timestamp,
 * payload, source} to the commands topic, and with --wait prints the event answering it
 * (same correlation_id) from the events topic, waiting at most --timeout ms.
 *
 * A send the broker did not acknowledge in time may still have been written, so it is
 * retried (--retries, 2 by default) with the very same record: the same event id (--id to
 * choose it), or for a command the same bytes, whose derived id is the same. The
 * consumers drop a second copy of an id, so a retry never runs an effect twice.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { getConfig } from '../src/config';
import { createEvent, eventHeaders } from '../src/events';
import { errorMessage } from '../src/errors';
import { isJsonObject } from '../src/json';
import { withTimeout } from '../src/timeout';
import { KafkaUnavailableError, createContainerProducer, createKafka, resolveBrokers } from '../src/kafka';
import type { OutgoingRecord, RecordAck, RecordPublisher } from '../src/kafka';

const usage = `usage: npm run publish -- (--type <event_type> [--data <json>] [--id <uuid>] | --command <type> [--payload <json>] [--wait])
       [--topic <topic>] [--key <key>] [--correlation-id <id>] [--timeout <ms>] [--retries <n>]`;

/**
 * Sends one record, retrying a send whose outcome is unknown (or that was refused) with
 * the same record, so the same event id: at most `retries` more times, `delayMs` apart.
 */
export async function publishWithRetries(params: {
  publisher: RecordPublisher;
  record: OutgoingRecord;
  retries: number;
  delayMs: number;
  log?: (line: string) => void;
}): Promise<RecordAck | undefined> {
  const { publisher, record, retries, delayMs } = params;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const [ack] = await publisher.send([record]);
      return ack;
    } catch (error) {
      if (!(error instanceof KafkaUnavailableError) || attempt >= retries) throw error;
      params.log?.(`[publish] ${error.message}; retrying with the same record (${attempt + 1} of ${retries})`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

function parseObject(name: string, text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`--${name} is not valid JSON: ${text}`);
  }
  if (!isJsonObject(value)) throw new Error(`--${name} must be a JSON object`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      type: { type: 'string' },
      data: { type: 'string' },
      command: { type: 'string' },
      payload: { type: 'string' },
      topic: { type: 'string' },
      key: { type: 'string' },
      'correlation-id': { type: 'string' },
      id: { type: 'string' },
      retries: { type: 'string', default: '2' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '10000' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || (values.type === undefined) === (values.command === undefined)) {
    console.log(usage);
    process.exit(values.help ? 0 : 2);
  }
  const config = getConfig();
  const correlationId = values['correlation-id'] ?? randomUUID();
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) {
    throw new Error('--timeout: an integer from 100 to 600000 (milliseconds)');
  }
  const retries = Number(values.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new Error('--retries: an integer from 0 to 10');
  let record: OutgoingRecord;
  if (values.type !== undefined) {
    const event = createEvent({
      eventType: values.type,
      data: parseObject('data', values.data),
      source: 'simple-time-service/cli',
      correlationId,
      ...(values.id === undefined ? {} : { id: values.id }),
    });
    record = {
      topic: values.topic ?? config.kafka.topics.events,
      key: values.key ?? null,
      value: JSON.stringify(event),
      headers: eventHeaders(event),
    };
  } else {
    const command = {
      type: values.command,
      correlation_id: correlationId,
      timestamp: new Date().toISOString(),
      payload: parseObject('payload', values.payload),
      source: 'simple-time-service/cli',
    };
    record = {
      topic: values.topic ?? config.kafka.topics.commands,
      key: values.key ?? correlationId,
      value: JSON.stringify(command),
      headers: { correlation_id: correlationId, 'content-type': 'application/json' },
    };
  }

  const kafka = createKafka({ kafka: config.kafka, brokers: await resolveBrokers(config.kafka), clientId: 'simple-time-service-cli' });
  const producer = createContainerProducer({
    kafka: () => kafka,
    sendTimeoutMs: Math.max(config.kafka.sendTimeoutMs, 5000),
    connectTimeoutMs: config.kafka.connectTimeoutMs,
  });
  const answers = values.wait ? await listenForAnswer(kafka, config.kafka.topics.events, correlationId, timeoutMs) : undefined;
  try {
    const ack = await publishWithRetries({ publisher: producer, record, retries, delayMs: 1000, log: (line) => console.error(line) });
    console.log(JSON.stringify({ published: JSON.parse(record.value as string) as unknown, ...ack }, null, 2));
    if (answers) {
      const reply = await answers.answer();
      console.log(JSON.stringify({ answer: JSON.parse(reply) as unknown }, null, 2));
    }
  } finally {
    await producer.disconnect();
    await answers?.close();
  }
}

/**
 * Joins a consumer group of its own on the events topic from the latest offsets, before
 * the record is published, so the answer cannot be missed. `close` leaves and deletes the
 * group, so a command line run leaves nothing on the broker.
 */
async function listenForAnswer(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  correlationId: string,
  timeoutMs: number,
): Promise<{ answer: () => Promise<string>; close: () => Promise<void> }> {
  const groupId = `simple-time-service-cli-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId });
  const close = async (): Promise<void> => {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteGroups([groupId]);
    } catch {
      // never joined, or already gone: nothing to delete
    } finally {
      await admin.disconnect();
    }
  };
  let resolveAnswer: (value: string) => void = () => undefined;
  const answer = new Promise<string>((resolve) => (resolveAnswer = resolve));
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    await consumer.run({
      eachMessage: ({ message }) => {
        if (message.headers?.correlation_id?.toString() === correlationId && message.value) resolveAnswer(message.value.toString());
        return Promise.resolve();
      },
    });
    await withTimeout(joined, timeoutMs, () => new Error(`could not join a consumer group on ${topic} within ${timeoutMs} ms`));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    answer: () => withTimeout(answer, timeoutMs, () => new Error(`no answer with correlation_id ${correlationId} within ${timeoutMs} ms`)),
    close,
  };
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[publish] ${errorMessage(error)}`);
    process.exit(1);
  });
}
