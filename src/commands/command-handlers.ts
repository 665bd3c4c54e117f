/**
 * The command pattern of the original service (docs/compatibility.md, "Commands"): the
 * command handler table, from command type to the handler that carries it out. A handler returns the data of its answer (published as `<type>.processed` on the
 * events topic with the command's correlation id and key), throws CommandRejectedError for
 * a command it refuses (answered by `command.rejected` with the reason), or throws a
 * retriable error to have the command delivered again.
 */
import type { EventData } from '../events';
import type { ConsumerLog } from '../consumers';

export interface Command {
  /** The idempotency key: the envelope's id, or for the plain shape an id derived from the bytes. */
  id: string;
  type: string;
  correlationId: string;
  /** When the sender says it sent the command (ISO 8601 as given), if it did. */
  timestamp: string | undefined;
  source: string | undefined;
  payload: EventData;
  /** Which shape it arrived in. */
  shape: 'envelope' | 'plain';
}

export interface CommandContext {
  now: () => Date;
  log: ConsumerLog;
}

export type CommandHandler = (command: Command, context: CommandContext) => Promise<EventData> | EventData;

export interface CommandHandlerTable {
  get(type: string): CommandHandler | undefined;
  types(): string[];
}

export function createCommandHandlerTable(handlers: Record<string, CommandHandler>): CommandHandlerTable {
  const map = new Map(Object.entries(handlers));
  return { get: (type) => map.get(type), types: () => [...map.keys()].sort() };
}

/** The type of the event that answers a processed command. */
export function processedEventType(commandType: string): string {
  return `${commandType}.processed`;
}

export const COMMAND_REJECTED = 'command.rejected';
