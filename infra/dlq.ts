/**
 * `npm run dlq -- <command>`: look at the dead-letter topic and send records back.
 *
 *   list    [selection] [--limit n|all] [--json]   the newest dead letters (50 unless --limit):
 *                                       where each is, when, why, where it came from,
 *                                       whether it was replayed; a note of how many more
 *   summary [selection] [--json]        how many, by reason and source topic, and by age
 *   show    <partition>:<offset>        one dead letter in full: headers, key, value
 *   replay  <selection> [--dry-run]     sends the selected dead letters back to their
 *                                       source topic and partition, with their original key,
 *                                       value and headers; a dead letter already replayed is
 *                                       skipped (its receipt is in the dead-letter topic)
 *
 * Selection (every option given must match): --offsets <partition>:<from>-<to> (or
 * <partition>:<offset>), --reason <reason> (one of KNOWN_REASONS), --source-topic <topic>;
 * replay needs at least one of them, or --all.
 * Reading: --topic (the dead-letter topic; default KAFKA_TOPIC_DLQ), --timeout-ms (how long
 * reading the topic may take, default 60000), --max-records (read at most this many records,
 * default 100000; list, summary and show say what they left unread, replay refuses).
 * The cluster is the service's own configuration (KAFKA_BROKERS or MSK_CLUSTER_ARN,
 * KAFKA_AUTH, AWS_REGION; docs/consumers.md, "Dead letters"). Exit codes: infra/cli.ts.
 */
import { getConfig } from '../src/config';
import { connectExactSender, createKafka, resolveBrokers } from '../src/kafka';
import { UsageError, parseCommandLineArgs, runCli } from './cli';
import { DeadLetterToolError, KNOWN_REASONS, deadLetterName, readDeadLetters } from './dlq/dead-letters';
import type { DeadLetter } from './dlq/dead-letters';
import { deadLetterLine, deadLetterSummary, listLines, summaryLines, tallyDeadLetters } from './dlq/output';
import type { ReadResult } from './dlq/output';
import { replayDeadLetters } from './dlq/replay';
import { parseOffsetRange, selects } from './dlq/selection';
import type { Selection } from './dlq/selection';

export const USAGE = `usage: npm run dlq -- list    [selection] [--limit <n>|all] [--json]
       npm run dlq -- summary [selection] [--json]
       npm run dlq -- show    <partition>:<offset>
       npm run dlq -- replay  (selection | --all) [--dry-run]

  list      the newest dead letters (50 unless --limit): where, when, why, from where, replayed or not
  summary   how many dead letters, by reason and source topic, and by age
  show      one dead letter in full: headers, key, value
  replay    send the selected dead letters back to their source topic and partition
selection (every one given must match):
  --offsets <p>:<from>-<to>   dead-letter partition p, offsets from..to (or <p>:<offset>)
  --reason <reason>           one of ${KNOWN_REASONS.join(', ')}
  --source-topic <topic>      the topic the record came from
options:
  --topic <topic>             the dead-letter topic (default KAFKA_TOPIC_DLQ)
  --timeout-ms <ms>           how long reading the topic may take (default 60000)
  --max-records <n>           read at most this many records (default 100000)
  --help                      this text`;

const COMMANDS = ['list', 'summary', 'show', 'replay'] as const;
type Command = (typeof COMMANDS)[number];

const OPTIONS = {
  offsets: { type: 'string' },
  reason: { type: 'string' },
  'source-topic': { type: 'string' },
  all: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  topic: { type: 'string' },
  limit: { type: 'string', default: '50' },
  'timeout-ms': { type: 'string', default: '60000' },
  'max-records': { type: 'string', default: '100000' },
  help: { type: 'boolean', default: false },
} as const;

function positiveInt(name: string, text: string, orAll = false): number {
  if (orAll && text === 'all') return Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1)
    throw new UsageError(`--${name}: a positive whole number${orAll ? ' or all' : ''}, not "${text}"`);
  return Number(text);
}

function offsetRangeOption(what: string, text: string): ReturnType<typeof parseOffsetRange> {
  try {
    return parseOffsetRange(text);
  } catch (error) {
    throw new UsageError(`${what}: ${(error as Error).message}`);
  }
}

function selectionOf(values: { offsets?: string; reason?: string; 'source-topic'?: string }): Selection {
  const selection: Selection = {};
  if (values.offsets !== undefined) Object.assign(selection, offsetRangeOption('--offsets', values.offsets));
  if (values.reason !== undefined) {
    if (!KNOWN_REASONS.includes(values.reason))
      throw new UsageError(`--reason ${values.reason}: no such reason`, `known: ${KNOWN_REASONS.join(', ')}`);
    selection.reason = values.reason;
  }
  if (values['source-topic'] !== undefined) selection.sourceTopic = values['source-topic'];
  return selection;
}

/** What the command line says, validated; throws a UsageError naming what is wrong. */
export function parseCommandLine(argv: string[], env?: NodeJS.ProcessEnv) {
  const { values, positionals, missingDashes } = parseCommandLineArgs('dlq', argv, OPTIONS, true, env);
  const [command, ...rest] = positionals;
  if (!COMMANDS.includes(command as Command)) {
    throw new UsageError(`${command === undefined ? 'no command' : `unknown command "${command}"`} (${COMMANDS.join(', ')})`);
  }
  const selection = selectionOf(values);
  let show: { partition: number; offset: string } | undefined;
  if (command === 'show') {
    if (rest.length !== 1) throw new UsageError('show takes one <partition>:<offset>');
    const c = offsetRangeOption('show', rest[0]!);
    if (c.fromOffset !== c.toOffset) throw new UsageError('show takes one offset, not a range');
    show = { partition: c.partition, offset: c.fromOffset.toString() };
  } else if (rest.length > 0) {
    throw new UsageError(`unexpected argument "${rest.join(' ')}"`, missingDashes);
  }
  if (command === 'replay' && !values.all && Object.keys(selection).length === 0) {
    throw new UsageError('replay needs a selection (--offsets, --reason, --source-topic) or --all');
  }
  return {
    command: command as Command,
    selection,
    all: values.all,
    show,
    json: values.json,
    dryRun: values['dry-run'],
    topic: values.topic,
    limit: positiveInt('limit', values.limit, true),
    timeoutMs: positiveInt('timeout-ms', values['timeout-ms']),
    maxRecords: positiveInt('max-records', values['max-records']),
  };
}

type Args = ReturnType<typeof parseCommandLine>;

function printable(bytes: Buffer | null): string {
  if (bytes === null) return 'null';
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : `base64:${bytes.toString('base64')}`;
}

function showOne(read: ReadResult, args: Args, topic: string, out: (line: string) => void): void {
  const letter = read.letters.find((l) => l.partition === args.show!.partition && l.offset === args.show!.offset);
  if (!letter) {
    const unread = read.unread > 0 ? ` (${read.unread} records not read: raise --max-records)` : '';
    throw new DeadLetterToolError(`no dead letter at ${args.show!.partition}:${args.show!.offset} in ${topic}${unread}`);
  }
  const records = letter.originals.map((o) => ({
    topic: o.topic,
    partition: o.partition,
    offset: o.offset,
    key: printable(o.key),
    value: printable(o.value),
    headers: o.headers.map((h) => [h.name, printable(h.value)]),
  }));
  out(JSON.stringify({ ...deadLetterSummary(letter, read.replayed.has(deadLetterName(letter))), records }, null, 2));
}

async function replay(params: {
  kafka: ReturnType<typeof createKafka>;
  read: ReadResult;
  selected: DeadLetter[];
  args: Args;
  topic: string;
  timeoutMs: number;
  out: (line: string) => void;
}): Promise<void> {
  const { kafka, read, selected, args, topic, out } = params;
  if (read.unread > 0) {
    throw new DeadLetterToolError(
      `replay reads the whole topic (its receipts): ${read.unread} records not read; raise --max-records to at least ${read.records + read.unread}`,
    );
  }
  if (args.dryRun) {
    for (const letter of selected) out(`would replay ${deadLetterLine(letter, read.replayed.has(deadLetterName(letter)))}`);
    out(`${selected.filter((l) => !read.replayed.has(deadLetterName(l))).length} dead letter(s) would be replayed`);
    return;
  }
  const sender = await connectExactSender(kafka, params.timeoutMs);
  try {
    const outcomes = await replayDeadLetters({ sender, deadLetterTopic: topic, letters: selected, replayed: read.replayed });
    for (const o of outcomes) {
      const to = o.sent.map((s) => `${s.topic}/${s.partition}/${s.offset}`).join(',');
      out(args.json ? JSON.stringify(o) : `${o.deadLetter}  ${o.status}${to ? `  -> ${to}` : ''}`);
    }
    if (!args.json)
      out(
        `${outcomes.filter((o) => o.status === 'replayed').length} replayed, ${outcomes.filter((o) => o.status === 'already-replayed').length} already replayed`,
      );
  } finally {
    await sender.disconnect();
  }
}

export async function main(argv: string[], out: (line: string) => void = console.log): Promise<void> {
  const args = parseCommandLine(argv);
  const config = getConfig();
  const topic = args.topic ?? config.kafka.topics.dlq;
  const brokers = await resolveBrokers(config.kafka);
  // Reading a whole topic over TLS and IAM: allow the connection more than a send budget.
  const kafkaSettings = {
    ...config.kafka,
    connectTimeoutMs: Math.max(config.kafka.connectTimeoutMs, 10_000),
    sendTimeoutMs: Math.max(config.kafka.sendTimeoutMs, 10_000),
  };
  const kafka = createKafka({ kafka: kafkaSettings, brokers, clientId: 'simple-time-service-dlq' });
  const read = await readDeadLetters({ kafka, topic, timeoutMs: args.timeoutMs, maxRecords: args.maxRecords });
  if (args.command === 'show') return showOne(read, args, topic, out);
  const selected = read.letters.filter((l) => selects(args.selection, l));
  if (args.command === 'list') {
    for (const line of listLines({ read, selected, topic, limit: args.limit, json: args.json })) out(line);
  } else if (args.command === 'summary') {
    const tally = tallyDeadLetters(selected, read.replayed, Date.now());
    for (const line of args.json ? [JSON.stringify(tally)] : summaryLines({ read, selected, tally, topic })) out(line);
  } else {
    await replay({ kafka, read, selected, args, topic, timeoutMs: kafkaSettings.sendTimeoutMs, out });
  }
}

if (require.main === module) runCli('dlq', USAGE, (argv) => main(argv));
