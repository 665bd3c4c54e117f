export { createCommandConsumer, defaultCommands } from './consumer';
export { CommandRejectedError } from './errors';
export { COMMAND_REJECTED, createCommandRegistry, processedEventType } from './registry';
export type { Command, CommandContext, CommandHandler, CommandRegistry } from './registry';
export { decodeCommand } from './shape';
export type { DecodedCommand } from './shape';
export { TIME_FORMATS, TIME_NOW, timeNow, timeZoneFormatsCached, zonedTime } from './time-now';
export type { TimeFormat, ZonedTime } from './time-now';
