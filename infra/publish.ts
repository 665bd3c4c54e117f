/**
 * `npm run send`: publish a test event or command from a terminal (docs/http-api.md,
 * "Publish from a terminal"). The script is not named `publish`, which is npm's own command.
 *
 *   npm run send -- --type test_event --data '{"a":1}'
 *   npm run send -- --command time.now --payload '{"timezone":"Europe/Paris"}' --wait
 *
 * --type publishes an event in the service's envelope (events topic unless --topic);
 * --command publishes a command in the plain shape (docs/compatibility.md) {type, correlation_id, timestamp,
 * payload, source} to the commands topic, and with --wait prints the event answering it
 * (same correlation_id) from the events topic, waiting at most --timeout ms; a command the
 * service rejected (`command.rejected`) exits 1.
 *
 * A send the broker did not acknowledge in time may still have been written, so it is
 * retried (--retries, 2 by default) with the very same record: the same event id (--id to
 * choose it), or for a command the same bytes, whose derived id is the same. The
 * consumers drop a second copy of an id, so a retry never runs an effect twice.
 *
 * Exit codes (infra/cli.ts): 0 sent (and answered), 1 a failure (no such topic, not
 * acknowledged, no answer, rejected), 2 bad usage.
 */
import { randomUUID } from 'node:crypto';
import { getConfig } from '../src/config';
import type { Config } from '../src/config';
import { createEvent, eventHeaders } from '../src/events';
import { ValidationError } from '../src/errors';
import { isJsonObject } from '../src/json';
import { withTimeout } from '../src/timeout';
import { KafkaUnavailableError, createContainerProducer, createKafka, resolveBrokers } from '../src/kafka';
import type { OutgoingRecord, RecordAck, RecordPublisher } from '../src/kafka';
import { UsageError, parseCommandLineArgs, runCli } from './cli';

const USAGE = `usage: npm run send -- --type <event_type> [--data <json object>] [--id <uuid>] [options]
       npm run send -- --command <type> [--payload <json object>] [--wait] [options]

  --type <event_type>      publish an event in the service's envelope (to the events topic)
  --command <type>         publish a command (to the commands topic), e.g. time.now
  --wait                   print the event that answers the command; exit 1 if it was rejected
options:
  --topic <topic>          publish to this topic instead (it must exist)
  --key <key>              the record key (a command's default: its correlation id)
  --correlation-id <id>    (default: a new UUID)
  --timeout <ms>           how long --wait waits for the answer (default 10000)
  --retries <n>            sends retried when Kafka did not acknowledge (default 2)
  --help                   this text

The cluster is the service's configuration (KAFKA_BROKERS, or MSK_CLUSTER_ARN and KAFKA_AUTH).`;

const OPTIONS = {
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
} as const;

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
      params.log?.(`[send] ${error.message}; retrying with the same record (${attempt + 1} of ${retries})`);
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
    throw new UsageError(`--${name} is not valid JSON: ${text}`);
  }
  if (!isJsonObject(value)) throw new UsageError(`--${name} must be a JSON object`);
  return value;
}

function wholeNumber(name: string, text: string, min: number, max: number, unit: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new UsageError(`--${name}: a whole number of ${unit} from ${min} to ${max}, not "${text}"`);
  return value;
}

/** The envelope's fields, by the option that sets them. */
const FIELD_OPTIONS: Record<string, string> = { event_type: 'type', id: 'id', correlation_id: 'correlation-id', data: 'data' };

/** The service's envelope for --type, or a UsageError naming the option of the first field refused. */
function eventRecord(
  values: { type: string; data?: string; id?: string; topic?: string; key?: string },
  correlationId: string,
  config: Config,
): OutgoingRecord {
  let event;
  try {
    event = createEvent({
      eventType: values.type,
      data: parseObject('data', values.data),
      source: 'simple-time-service/cli',
      correlationId,
      ...(values.id === undefined ? {} : { id: values.id }),
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const [first = error.message] = error.details;
    const field = /^([\w.]+): (.*)$/.exec(first);
    const option = field ? FIELD_OPTIONS[field[1]!.split('.')[0]!] : undefined;
    const given =
      option === undefined ? undefined : { type: values.type, id: values.id, 'correlation-id': correlationId, data: values.data }[option];
    throw new UsageError(option && field ? `--${option} "${given ?? ''}": ${field[2]}` : `the event is refused: ${first}`);
  }
  return {
    topic: values.topic ?? config.kafka.topics.events,
    key: values.key ?? null,
    value: JSON.stringify(event),
    headers: eventHeaders(event),
  };
}

/** A command in the plain shape (docs/compatibility.md, "Commands") for --command. */
function commandRecord(
  values: { command: string; payload?: string; topic?: string; key?: string },
  correlationId: string,
  config: Config,
): OutgoingRecord {
  const command = {
    type: values.command,
    correlation_id: correlationId,
    timestamp: new Date().toISOString(),
    payload: parseObject('payload', values.payload),
    source: 'simple-time-service/cli',
  };
  return {
    topic: values.topic ?? config.kafka.topics.commands,
    key: values.key ?? correlationId,
    value: JSON.stringify(command),
    headers: { correlation_id: correlationId, 'content-type': 'application/json' },
  };
}

/** What to send and how, from the command line; throws a UsageError naming what is wrong. */
export function parseSendCommandLine(argv: string[], config: Config, env?: NodeJS.ProcessEnv) {
  const { values } = parseCommandLineArgs('send', argv, OPTIONS, false, env);
  if ((values.type === undefined) === (values.command === undefined)) {
    throw new UsageError(values.type === undefined ? 'give --type <event_type> or --command <type>' : 'give --type or --command, not both');
  }
  if (values.wait && values.command === undefined) throw new UsageError('--wait waits for the answer to a --command');
  const timeoutMs = wholeNumber('timeout', values.timeout, 100, 600_000, 'milliseconds');
  const retries = wholeNumber('retries', values.retries, 0, 10, 'retries');
  const correlationId = values['correlation-id'] ?? randomUUID();
  const record =
    values.type !== undefined
      ? eventRecord({ ...values, type: values.type }, correlationId, config)
      : commandRecord({ ...values, command: values.command! }, correlationId, config);
  return { record, correlationId, wait: values.wait, timeoutMs, retries };
}

/** Fails (exit 1) naming the first of `topics` the cluster does not have. */
async function requireTopics(kafka: ReturnType<typeof createKafka>, topics: string[], brokers: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.find((t) => !existing.has(t));
    if (missing !== undefined) throw new Error(`no topic ${missing} on ${brokers.join(',')} (npm run topics creates the service's topics)`);
  } finally {
    await admin.disconnect();
  }
}

/** The line that says why a command's answer is a failure, or undefined for a success. */
export function rejection(answer: unknown): string | undefined {
  if (!isJsonObject(answer) || answer.event_type !== 'command.rejected') return undefined;
  const data = isJsonObject(answer.data) ? answer.data : {};
  const details = Array.isArray(data.details) && data.details.length > 0 ? ` (${data.details.join('; ')})` : '';
  return `the service rejected the command: ${typeof data.reason === 'string' ? data.reason : 'no reason given'}${details}`;
}

export async function main(argv: string[]): Promise<number> {
  const config = getConfig();
  const { record, correlationId, wait, timeoutMs, retries } = parseSendCommandLine(argv, config);
  const brokers = await resolveBrokers(config.kafka);
  const kafka = createKafka({ kafka: config.kafka, brokers, clientId: 'simple-time-service-cli' });
  await requireTopics(kafka, wait ? [record.topic, config.kafka.topics.events] : [record.topic], brokers);
  const producer = createContainerProducer({
    kafka: () => kafka,
    sendTimeoutMs: Math.max(config.kafka.sendTimeoutMs, 5000),
    connectTimeoutMs: config.kafka.connectTimeoutMs,
  });
  const answers = wait ? await listenForAnswer(kafka, config.kafka.topics.events, correlationId, timeoutMs) : undefined;
  try {
    const ack = await publishWithRetries({ publisher: producer, record, retries, delayMs: 1000, log: (line) => console.error(line) });
    console.log(JSON.stringify({ published: JSON.parse(record.value as string) as unknown, ...ack }, null, 2));
    if (!answers) return 0;
    const answer = JSON.parse(await answers.answer()) as unknown;
    console.log(JSON.stringify({ answer }, null, 2));
    const rejected = rejection(answer);
    if (rejected === undefined) return 0;
    console.error(`[send] ${rejected}`);
    return 1;
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

if (require.main === module) runCli('send', USAGE, main);
