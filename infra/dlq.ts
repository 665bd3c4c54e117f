/**
 * `npm run dlq -- <command>`: look at the dead-letter topic and send records back.
 *
 *   list    [selection] [--json]        one line per dead letter: where it is, when, why,
 *                                       where it came from, and whether it was replayed
 *   show    <partition>:<offset>        one dead letter in full: headers, key, value
 *   replay  <selection> [--dry-run]     sends the selected dead letters back to their
 *                                       source topic and partition, with their original key,
 *                                       value and headers; a dead letter already replayed is
 *                                       skipped (its receipt is in the dead-letter topic)
 *
 * Selection (every option given must match): --offsets <partition>:<from>-<to> (or
 * <partition>:<offset>), --reason <reason>, --source-topic <topic>; replay needs at least
 * one of them, or --all.
 * Other options: --topic (the dead-letter topic; default KAFKA_TOPIC_DLQ), --timeout-ms
 * (how long reading the topic may take, default 60000), --max-records (default 100000).
 * The cluster is the service's own configuration (KAFKA_BROKERS or MSK_CLUSTER_ARN,
 * KAFKA_AUTH, AWS_REGION; README, "Dead letters").
 */
import { parseArgs } from 'node:util';
import { getConfig } from '../src/config';
import {
  DeadLetterToolError,
  coordinates,
  createKafka,
  parseCoordinates,
  readDeadLetters,
  replayDeadLetters,
  resolveBrokers,
  selects,
} from '../src/kafka';
import type { DeadLetter, Selection } from '../src/kafka';
import { errorMessage } from '../src/errors';

const USAGE = `usage: npm run dlq -- list [--offsets P:FROM-TO] [--reason R] [--source-topic T] [--json]
       npm run dlq -- show P:OFFSET
       npm run dlq -- replay (--offsets P:FROM-TO | --reason R | --source-topic T | --all) [--dry-run]
options: --topic <dead-letter topic> --timeout-ms <ms> --max-records <n>`;

/** What the command line says, validated; throws a DeadLetterToolError naming what is wrong. */
export function parseCommandLine(argv: string[]): {
  command: 'list' | 'show' | 'replay';
  selection: Selection;
  all: boolean;
  show: { partition: number; offset: string } | undefined;
  json: boolean;
  dryRun: boolean;
  topic: string | undefined;
  timeoutMs: number;
  maxRecords: number;
} {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        offsets: { type: 'string' },
        reason: { type: 'string' },
        'source-topic': { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        topic: { type: 'string' },
        'timeout-ms': { type: 'string', default: '60000' },
        'max-records': { type: 'string', default: '100000' },
      },
    });
  } catch (error) {
    throw new DeadLetterToolError(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (command !== 'list' && command !== 'show' && command !== 'replay') {
    throw new DeadLetterToolError(`${command === undefined ? 'no command' : `unknown command "${command}"`}\n${USAGE}`);
  }
  const positiveInt = (name: string, text: string) => {
    if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new DeadLetterToolError(`--${name}: a positive whole number, not "${text}"`);
    return Number(text);
  };
  const selection: Selection = {};
  if (values.offsets !== undefined) Object.assign(selection, parseCoordinates(values.offsets));
  if (values.reason !== undefined) selection.reason = values.reason;
  if (values['source-topic'] !== undefined) selection.sourceTopic = values['source-topic'];
  let show: { partition: number; offset: string } | undefined;
  if (command === 'show') {
    if (rest.length !== 1) throw new DeadLetterToolError(`show takes one <partition>:<offset>\n${USAGE}`);
    const c = parseCoordinates(rest[0]!);
    if (c.fromOffset !== c.toOffset) throw new DeadLetterToolError('show takes one offset, not a range');
    show = { partition: c.partition, offset: c.fromOffset.toString() };
  } else if (rest.length > 0) {
    throw new DeadLetterToolError(`unexpected argument(s): ${rest.join(' ')}\n${USAGE}`);
  }
  if (command === 'replay' && !values.all && Object.keys(selection).length === 0) {
    throw new DeadLetterToolError('replay needs a selection (--offsets, --reason, --source-topic) or --all');
  }
  return {
    command,
    selection,
    all: values.all,
    show,
    json: values.json,
    dryRun: values['dry-run'],
    topic: values.topic,
    timeoutMs: positiveInt('timeout-ms', values['timeout-ms']),
    maxRecords: positiveInt('max-records', values['max-records']),
  };
}

function printable(bytes: Buffer | null): string {
  if (bytes === null) return 'null';
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : `base64:${bytes.toString('base64')}`;
}

function summary(letter: DeadLetter, replayed: boolean) {
  return {
    dead_letter: coordinates(letter),
    dead_lettered_at: letter.deadLetteredAt ?? null,
    format: letter.format,
    reason: letter.reason,
    error: letter.error,
    consumer: letter.consumer ?? null,
    source: letter.originals.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    replayed,
  };
}

function oneLine(letter: DeadLetter, replayed: boolean): string {
  const source = letter.originals.map((o) => `${o.topic}/${o.partition}/${o.offset}`).join(',') || '-';
  const error = letter.error.length > 80 ? `${letter.error.slice(0, 77)}...` : letter.error;
  return [coordinates(letter), letter.deadLetteredAt ?? '-', letter.reason, source, replayed ? 'replayed' : 'pending', error].join('  ');
}

export async function main(argv: string[], out: (line: string) => void = console.log): Promise<void> {
  const args = parseCommandLine(argv);
  const config = getConfig();
  const topic = args.topic ?? config.kafka.topics.dlq;
  const brokers = await resolveBrokers(config.kafka);
  // Reading a whole topic over TLS and IAM: allow the connection more than a send budget.
  const kafkaSettings = { ...config.kafka, connectTimeoutMs: Math.max(config.kafka.connectTimeoutMs, 10_000), sendTimeoutMs: Math.max(config.kafka.sendTimeoutMs, 10_000) };
  const kafka = createKafka({ kafka: kafkaSettings, brokers, clientId: 'simple-time-service-dlq' });
  const { letters, replayed } = await readDeadLetters({ kafka, topic, timeoutMs: args.timeoutMs, maxRecords: args.maxRecords });

  if (args.command === 'show') {
    const letter = letters.find((l) => l.partition === args.show!.partition && l.offset === args.show!.offset);
    if (!letter) throw new DeadLetterToolError(`no dead letter at ${args.show!.partition}:${args.show!.offset} in ${topic}`);
    out(
      JSON.stringify(
        {
          ...summary(letter, replayed.has(coordinates(letter))),
          records: letter.originals.map((o) => ({
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
            key: printable(o.key),
            value: printable(o.value),
            headers: o.headers.map((h) => [h.name, printable(h.value)]),
          })),
        },
        null,
        2,
      ),
    );
    return;
  }

  const selected = letters.filter((l) => selects(args.selection, l));
  if (args.command === 'list') {
    for (const letter of selected) {
      const done = replayed.has(coordinates(letter));
      out(args.json ? JSON.stringify(summary(letter, done)) : oneLine(letter, done));
    }
    if (!args.json) out(`${selected.length} dead letter(s) in ${topic}${selected.length === letters.length ? '' : ` selected of ${letters.length}`}`);
    return;
  }

  if (args.dryRun) {
    for (const letter of selected) out(`would replay ${oneLine(letter, replayed.has(coordinates(letter)))}`);
    out(`${selected.filter((l) => !replayed.has(coordinates(l))).length} dead letter(s) would be replayed`);
    return;
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const outcomes = await replayDeadLetters({ producer, deadLetterTopic: topic, letters: selected, replayed, timeoutMs: kafkaSettings.sendTimeoutMs });
    for (const o of outcomes) {
      const to = o.sent.map((s) => `${s.topic}/${s.partition}/${s.offset}`).join(',');
      out(args.json ? JSON.stringify(o) : `${o.deadLetter}  ${o.status}${to ? `  -> ${to}` : ''}`);
    }
    if (!args.json) out(`${outcomes.filter((o) => o.status === 'replayed').length} replayed, ${outcomes.filter((o) => o.status === 'already-replayed').length} already replayed`);
  } finally {
    await producer.disconnect();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    const message = errorMessage(error);
    console.error(`[dlq] ${message}`);
    process.exit(error instanceof DeadLetterToolError ? 2 : 1);
  });
}
