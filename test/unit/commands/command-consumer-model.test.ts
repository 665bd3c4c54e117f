/**
 * Model-based property test of batch processing (src/consumers/batch.ts) as the commands
 * function runs it, against topics that acknowledge, refuse, hang, or write part of a request
 * and then fail (test/helpers/fake-topics.ts), on fake timers. fast-check generates commands
 * of every kind (answered, rejected, dead-lettered, failing retriably, copies of earlier
 * ones on the same or another partition), faults, acknowledgement delays, new containers,
 * and deliveries as Lambda makes them (a batch per partition from its position; a partition
 * with a reported record resumes at the lowest one). After every delivery:
 *
 * 1. the partial batch response lists, in each partition, every record from the first one
 *    not done to the last one delivered, and nothing before it;
 * 2. nothing lost: a record counts as done (not reported) only once its answer, or its
 *    dead letter, was in a request the broker acknowledged before the function returned;
 * 3. nothing twice in effect: every answer written carries the id derived from its
 *    command's, so a command answered twice is one event to its readers;
 * 4. order per partition: in each partition of the events topic, the answers to one
 *    commands partition first appear in the order of their commands;
 * 5. every wait is bounded by the function's remaining time: the function returns before
 *    its timeout.
 * And at the end, once the faults stop, every command has its answer or its dead letter.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCommandConsumer } from '../../../src/commands';
import { defaultCommands } from '../../../src/commands/command-consumer';
import { createCommandHandlerTable } from '../../../src/commands/command-handlers';
import type { CommandHandler } from '../../../src/commands/command-handlers';
import { contentEventId, createProcessedIds, derivedEventId } from '../../../src/consumers';
import type { Consumer } from '../../../src/consumers';
import type { BatchResult } from '../../../src/consumers/batch';
import { createEvent } from '../../../src/events';
import { DLQ_HEADERS } from '../../../src/kafka/dlq';
import { KafkaUnavailableError } from '../../../src/kafka/errors';
import type { ConsumedRecord, OutgoingRecord } from '../../../src/kafka/records';
import { FakeTopics } from '../../helpers/fake-topics';
import type { SendFault } from '../../helpers/fake-topics';
import { TOPICS, config, fakeLogger, metrics } from '../../helpers/fakes';

const PARTITIONS = 3;
/** The function's timeout, longer or shorter than a produce's own bound (KAFKA_SEND_TIMEOUT_MS, 1000 ms here). */
const FUNCTION_TIMEOUTS_MS = [300, 3000];

type Kind = 'time' | 'unknown' | 'flaky' | 'buggy' | 'poison' | 'orphan';
const ANSWERED: ReadonlySet<Kind> = new Set(['time', 'unknown', 'flaky']);

interface Source {
  record: ConsumedRecord;
  kind: Kind;
  /** The command's id (its answers carry it in the `command_id` header); none for a poison record. */
  id: string | undefined;
}

interface Real {
  topics: FakeTopics;
  consumer: Consumer;
  /** The commands topic: each partition's records, in offset order. */
  log: Source[][];
  /** The next offset Lambda delivers from, per partition. */
  position: number[];
  /** Retriable failures flaky.op still has in store. */
  flaky: { left: number };
  /** The time of every return, for the acknowledged-before-return check. */
  deliveries: number;
}

type Model = Record<string, never>;

let uuidCounter = 0;
const nextUuid = () => `00000000-0000-4000-8000-${String(++uuidCounter).padStart(12, '0')}`;

function commandsWith(flaky: { left: number }) {
  const flakyOp: CommandHandler = () => {
    if (flaky.left > 0) {
      flaky.left -= 1;
      throw new KafkaUnavailableError('the downstream service did not answer');
    }
    return { done: true };
  };
  const buggy: CommandHandler = () => {
    throw new TypeError('cannot read properties of undefined');
  };
  const time = defaultCommands().get('time.now');
  if (!time) throw new Error('time.now is not registered');
  return createCommandHandlerTable({ 'time.now': time, 'flaky.op': flakyOp, 'buggy.op': buggy });
}

function newConsumer(real: Pick<Real, 'topics' | 'flaky'>): Consumer {
  return createCommandConsumer({
    name: 'onCommand',
    config,
    publisher: real.topics,
    logger: fakeLogger(),
    metrics: metrics(),
    processed: createProcessedIds(),
    commands: commandsWith(real.flaky),
    now: () => new Date(Date.now()),
  });
}

function valueOf(kind: Kind, n: number): { value: Buffer; id: string | undefined } {
  const envelope = (type: string) => {
    const event = createEvent({ id: nextUuid(), eventType: type, data: { n }, source: 'model', correlationId: `c-${n}` });
    return { value: Buffer.from(JSON.stringify(event)), id: event.id };
  };
  switch (kind) {
    case 'time':
      return envelope('time.now');
    case 'flaky':
      return envelope('flaky.op');
    case 'buggy':
      return envelope('buggy.op');
    case 'unknown': {
      const value = Buffer.from(JSON.stringify({ type: 'coffee.brew', correlation_id: `c-${n}`, payload: { n } }));
      return { value, id: contentEventId(value) };
    }
    case 'orphan': {
      const value = Buffer.from(JSON.stringify({ type: 'time.now', payload: { n } }));
      return { value, id: undefined };
    }
    case 'poison':
      return { value: Buffer.from(`not json ${n}`), id: undefined };
  }
}

function append(real: Real, partition: number, source: Omit<Source, 'record'> & { value: Buffer; key: Buffer }): void {
  const log = real.log[partition]!;
  const record: ConsumedRecord = {
    topic: TOPICS.commands,
    partition,
    offset: String(log.length),
    timestamp: Date.now(),
    timestampType: 'CREATE_TIME',
    key: source.key,
    value: source.value,
    headers: [],
  };
  log.push({ record, kind: source.kind, id: source.id });
}

const header = (r: OutgoingRecord, name: string) => (r.headers?.[name] === undefined ? undefined : String(r.headers[name]));

/** Whether the record's answer or dead letter was in a request acknowledged at or before `by`. */
function acknowledged(topics: FakeTopics, source: Source, by: number): boolean {
  const { record } = source;
  return topics.requests.some(
    (request) =>
      request.outcome === 'acked' &&
      (request.settledAt ?? Number.POSITIVE_INFINITY) <= by &&
      request.records.some((r) =>
        ANSWERED.has(source.kind)
          ? r.topic === TOPICS.events && header(r, 'command_id') === source.id
          : r.topic === TOPICS.dlq &&
            header(r, DLQ_HEADERS.partition) === String(record.partition) &&
            header(r, DLQ_HEADERS.offset) === record.offset,
      ),
  );
}

function checkDerivedIdsAndOrder(real: Real): void {
  const sourceOf = new Map<string, Source[]>();
  for (const s of real.log.flat()) if (s.id) sourceOf.set(s.id, [...(sourceOf.get(s.id) ?? []), s]);
  for (const [where, log] of real.topics.logs) {
    if (!where.startsWith(`${TOPICS.events}-`)) continue;
    const firstSeen = new Set<string>();
    const lastOffset = new Map<number, number>();
    for (const { record } of log) {
      const event = JSON.parse(String(record.value)) as { id: string; event_type: string };
      const commandId = header(record, 'command_id') ?? '';
      // 3. every answer carries its command's derived id
      expect(event.id, `answer to ${commandId} in ${where}`).toBe(derivedEventId(commandId, event.event_type));
      if (firstSeen.has(event.id)) continue;
      firstSeen.add(event.id);
      const sources = sourceOf.get(commandId) ?? [];
      if (sources.length !== 1) continue; // copies share an id: their order is the first copy's
      const { partition, offset } = sources[0]!.record;
      // 4. first appearances in the order of the commands, per commands partition
      expect(Number(offset), `answer to ${partition}:${offset} in ${where} after ${lastOffset.get(partition)}`).toBeGreaterThan(
        lastOffset.get(partition) ?? -1,
      );
      lastOffset.set(partition, Number(offset));
    }
  }
}

/** Runs one invocation to its end on fake time; undefined if it did not return before its timeout. */
async function invoke(real: Real, batch: ConsumedRecord[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let settled: { result: BatchResult; returnedAt: number } | undefined;
  let failed = false;
  const running = real.consumer.processRecords(batch, { remainingTimeMs: () => deadline - Date.now() });
  running.then(
    (result) => {
      settled = { result, returnedAt: Date.now() };
    },
    () => {
      failed = true;
    },
  );
  // Every timer up to the timeout runs, in order; then what they set off settles.
  await vi.advanceTimersByTimeAsync(timeoutMs);
  await vi.advanceTimersByTimeAsync(0);
  if (failed) await running; // throws what the consumer threw
  return settled;
}

function takeBatch(real: Real, batchSize: number, partitions: readonly number[]): ConsumedRecord[] {
  return partitions.flatMap((p) => real.log[p]!.slice(real.position[p], real.position[p]! + batchSize).map((s) => s.record));
}

async function deliver(real: Real, batchSize: number, partitions: readonly number[], timeoutMs: number): Promise<void> {
  const batch = takeBatch(real, batchSize, partitions);
  if (batch.length === 0) return;
  const invocation = await invoke(real, batch, timeoutMs);
  // 5. bounded by the function's remaining time
  expect(invocation, `the function did not return within its ${timeoutMs} ms`).toBeDefined();
  const { result, returnedAt } = invocation!;
  real.deliveries += 1;
  const failed = new Set(result.failed);
  for (const p of partitions) {
    const delivered = batch.filter((r) => r.partition === p);
    if (delivered.length === 0) continue;
    const first = delivered.findIndex((r) => failed.has(r));
    // 1. every record from the first one not done, and nothing before it
    const reported = delivered.filter((r) => failed.has(r)).map((r) => r.offset);
    expect(reported, `partition ${p}`).toEqual(first < 0 ? [] : delivered.slice(first).map((r) => r.offset));
    // 2. a record is done only once its answer or dead letter was acknowledged
    for (const r of first < 0 ? delivered : delivered.slice(0, first)) {
      const source = real.log[p]![Number(r.offset)]!;
      expect(acknowledged(real.topics, source, returnedAt), `${source.kind} ${p}:${r.offset} counted done without an acknowledgement`).toBe(
        true,
      );
    }
    real.position[p] = first < 0 ? Number(delivered[delivered.length - 1]!.offset) + 1 : Number(delivered[first]!.offset);
  }
  checkDerivedIdsAndOrder(real);
}

class ProduceCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly partition: number,
    readonly kind: Kind,
    readonly key: number,
  ) {}
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    const n = real.log.flat().length;
    append(real, this.partition, { kind: this.kind, key: Buffer.from(`client-${this.key}`), ...valueOf(this.kind, n) });
    return Promise.resolve();
  }
  toString = () => `produce(${this.kind} -> ${this.partition}, key ${this.key})`;
}

/** The same bytes written again (a producer's retry), on the same or another partition. */
class CopyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly partition: number,
  ) {}
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    const all = real.log.flat();
    const original = all[this.pick % Math.max(all.length, 1)];
    if (original?.record.value && original.record.key) {
      append(real, this.partition, { kind: original.kind, id: original.id, value: original.record.value, key: original.record.key });
    }
    return Promise.resolve();
  }
  toString = () => `copy(#${this.pick} -> ${this.partition})`;
}

class DeliverCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly batchSize: number,
    readonly partitions: number[],
    readonly timeoutMs: number,
  ) {}
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    return deliver(real, this.batchSize, this.partitions, this.timeoutMs);
  }
  toString = () => `deliver(${this.batchSize} from ${this.partitions.join(',')} within ${this.timeoutMs} ms)`;
}

class FaultCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly fault: SendFault) {}
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    real.topics.arm(this.fault);
    return Promise.resolve();
  }
  toString = () => `fault(${JSON.stringify(this.fault)})`;
}

class LatencyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    real.topics.ackLatencyMs = this.ms;
    return Promise.resolve();
  }
  toString = () => `ackLatency(${this.ms})`;
}

class FlakyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly failures: number) {}
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    real.flaky.left = this.failures;
    return Promise.resolve();
  }
  toString = () => `flaky(${this.failures})`;
}

class NewContainerCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  run(_m: Model, real: Real): Promise<void> {
    real.consumer = newConsumer(real);
    return Promise.resolve();
  }
  toString = () => 'newContainer';
}

const partition = fc.nat({ max: PARTITIONS - 1 });
const produce = fc
  .tuple(partition, fc.constantFrom<Kind>('time', 'time', 'time', 'unknown', 'flaky', 'buggy', 'poison', 'orphan'), fc.nat({ max: 4 }))
  .map(([p, kind, key]) => new ProduceCommand(p, kind, key));
const commands = [
  // Records are produced more often than anything else happens, so batches fill.
  produce,
  produce,
  produce,
  fc.tuple(fc.nat(), partition).map(([pick, p]) => new CopyCommand(pick, p)),
  fc
    .tuple(fc.integer({ min: 1, max: 10 }), fc.subarray([0, 1, 2], { minLength: 1 }), fc.constantFrom(...FUNCTION_TIMEOUTS_MS))
    .map(([size, partitions, timeoutMs]) => new DeliverCommand(size, partitions, timeoutMs)),
  fc
    .oneof(
      fc.constant<SendFault>({ kind: 'refuse' }),
      fc.constant<SendFault>({ kind: 'hang' }),
      fc.nat({ max: 3 }).map((n): SendFault => ({ kind: 'partial', partitions: n })),
    )
    .map((fault) => new FaultCommand(fault)),
  fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 900, max: 1500 })).map((ms) => new LatencyCommand(ms)),
  fc.nat({ max: 3 }).map((n) => new FlakyCommand(n)),
  fc.constant(new NewContainerCommand()),
];

describe('batch processing of the commands function (model-based)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps its promises under any mix of commands, failed, partial and slow produces, and redeliveries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 80, size: 'large' }), async (cmds) => {
        vi.useFakeTimers({ now: 1_000_000 });
        try {
          const topics = new FakeTopics(PARTITIONS);
          const flaky = { left: 0 };
          const real: Real = {
            topics,
            flaky,
            consumer: newConsumer({ topics, flaky }),
            log: Array.from({ length: PARTITIONS }, () => []),
            position: Array.from({ length: PARTITIONS }, () => 0),
            deliveries: 0,
          };
          await fc.asyncModelRun(() => ({ model: {}, real }), cmds);
          // Once the faults stop, every command is answered or dead-lettered.
          topics.disarm();
          topics.ackLatencyMs = 2;
          flaky.left = 0;
          for (let round = 0; round < 20 && real.position.some((p, i) => p < real.log[i]!.length); round += 1) {
            await deliver(real, 10, [0, 1, 2], 3000);
          }
          for (const source of real.log.flat()) {
            expect(
              acknowledged(topics, source, Date.now()),
              `${source.kind} ${source.record.partition}:${source.record.offset} never done`,
            ).toBe(true);
          }
        } finally {
          vi.useRealTimers();
        }
      }),
      { numRuns: Number(process.env.BATCH_MODEL_RUNS ?? 300) },
    );
  }, 600_000);
});
