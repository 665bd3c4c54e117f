/**
 * The commands function's logic: decode each command (either shape), run its handler, and
 * answer on the events topic with the command's correlation id and record key, so the
 * answer lands on the partition the sender's key maps to:
 * - `<type>.processed` with the handler's data;
 * - `command.rejected` with the reason, for an unknown type or a refused payload.
 * The answer's event id is derived from the command's id (src/consumers/idempotency.ts):
 * answering the same command twice writes the same event twice, which consumers drop.
 * The command counts as processed only once Kafka acknowledged the answer, written with
 * the rest of its partition's answers in one produce (src/consumers/batch.ts); if it was
 * not acknowledged, the command is delivered again.
 */
import { createEvent, eventHeaders } from '../events';
import type { EventData } from '../events';
import type { ConsumedRecord, OutgoingRecord } from '../kafka';
import { UNKNOWN_EVENT_TYPE, claimedEventType, createConsumer, derivedEventId, jsonValue, withKeys } from '../consumers';
import type { Consumer, ConsumerDeps, ConsumerLog, Effect, RecordDecision } from '../consumers';
import type { Command, CommandHandlerTable } from './command-handlers';
import { CommandRejectedError } from './errors';
import { COMMAND_REJECTED, createCommandHandlerTable, processedEventType } from './command-handlers';
import { decodeCommand } from './shape';
import { TIME_NOW, timeNow } from './time-now';

export function defaultCommands(): CommandHandlerTable {
  return createCommandHandlerTable({ [TIME_NOW]: timeNow });
}

/** A command record to its decision: dead-lettered if it is not a command, else handled by `prepare`. */
function decideCommand(record: ConsumedRecord, prepare: (command: Command, record: ConsumedRecord) => Promise<Effect>): RecordDecision {
  const value = jsonValue(record);
  if (!value.ok) return { kind: 'dead_letter', eventType: UNKNOWN_EVENT_TYPE, reason: value.reason, error: value.error };
  const claimed =
    claimedEventType(value.json, 'type') !== UNKNOWN_EVENT_TYPE ? claimedEventType(value.json, 'type') : claimedEventType(value.json);
  // jsonValue succeeded, so the value is not null.
  const decoded = decodeCommand(value.json, record.value ?? Buffer.alloc(0));
  if (!decoded.ok) return { kind: 'dead_letter', eventType: claimed, reason: decoded.reason, error: decoded.error };
  const { command } = decoded;
  return {
    kind: 'handle',
    eventType: command.type,
    id: command.id,
    correlationId: command.correlationId,
    prepare: () => prepare(command, record),
  };
}

type Outcome = { kind: 'processed'; data: EventData } | { kind: 'rejected'; reason: string; details: readonly string[] };

export function createCommandConsumer(
  params: ConsumerDeps & {
    /** The function's name (onCommand). */
    name: string;
    commands?: CommandHandlerTable;
  },
): Consumer {
  const { config, logger, metrics, name } = params;
  const commands = params.commands ?? defaultCommands();
  const now = params.now ?? (() => new Date());
  const source = `${config.service.name}/${name}`;

  function answer(command: Command, record: ConsumedRecord, eventType: string, data: EventData): OutgoingRecord {
    const event = createEvent({
      id: derivedEventId(command.id, eventType),
      eventType,
      data,
      source,
      correlationId: command.correlationId,
      now: now(),
    });
    return {
      topic: config.kafka.topics.events,
      key: record.key,
      value: JSON.stringify(event),
      headers: { ...eventHeaders(event), command_id: command.id },
    };
  }

  async function outcomeOf(command: Command, log: ConsumerLog): Promise<Outcome> {
    const handler = commands.get(command.type);
    if (!handler) return { kind: 'rejected', reason: `unknown command type "${command.type}"`, details: [] };
    try {
      return { kind: 'processed', data: await handler(command, { now, log }) };
    } catch (error) {
      if (!(error instanceof CommandRejectedError)) {
        metrics?.commands.inc({ command_type: command.type, outcome: 'failed' });
        throw error;
      }
      return { kind: 'rejected', reason: error.reason, details: error.details };
    }
  }

  /** Carries the command out and prepares its answer; it counts as processed once the answer is acknowledged. */
  async function prepare(command: Command, record: ConsumedRecord): Promise<Effect> {
    const log = withKeys(logger, {
      command_type: command.type,
      command_id: command.id,
      correlation_id: command.correlationId,
      command_shape: command.shape,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
    });
    const outcome = await outcomeOf(command, log);
    const base = { command_id: command.id, command_type: command.type };
    const reply =
      outcome.kind === 'processed'
        ? answer(command, record, processedEventType(command.type), { ...base, ...outcome.data })
        : answer(command, record, COMMAND_REJECTED, {
            ...base,
            reason: outcome.reason,
            details: [...outcome.details],
            known_commands: commands.types(),
          });
    return {
      publish: [reply],
      done: () => {
        metrics?.commands.inc({ command_type: command.type, outcome: outcome.kind });
        if (outcome.kind === 'processed') log.info('command processed');
        else log.warn('command rejected', { reason: outcome.reason, details: outcome.details });
      },
      notDone: () => metrics?.commands.inc({ command_type: command.type, outcome: 'failed' }),
    };
  }

  return createConsumer({ ...params, decide: (record) => decideCommand(record, prepare) });
}
